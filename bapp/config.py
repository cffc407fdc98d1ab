"""Server settings: one dataclass, filled from defaults, ``BAPP_*`` environment
variables, a Parse Server JSON config file and command-line flags (in that
order of precedence, lowest first)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bapp.config_accounts import (
    ACCOUNT_OPTIONS,
    AccountConfigError,
    AccountLockout,
    EmailSettings,
    PagesSettings,
    PasswordPolicy,
    apply_account_option,
    validate_account_settings,
)

DEFAULT_MASTER_KEY = "bapp-master-key"
DEFAULT_APP_ID = "bapp"


@dataclass
class Limits:
    """Request complexity limits. Parse Server leaves these off by default;
    bapp turns them on (a deliberate safer deviation)."""

    include_depth: int = 10
    include_count: int = 50
    subquery_depth: int = 5
    query_depth: int = 20
    in_size: int = 100_000  # well above what clients send (Parse Server has no bound)
    batch_size: int = 1_000
    value_depth: int = 32
    max_limit: int = 0  # 0 = no cap, as Parse Server's default
    graphql_depth: int = 20  # nested field levels of one GraphQL operation (introspection needs 15)
    graphql_fields: int = 1_000  # field selections of one GraphQL operation, fragments expanded


@dataclass
class Settings:
    app_id: str = DEFAULT_APP_ID
    master_key: str = DEFAULT_MASTER_KEY
    read_only_master_key: str | None = None
    rest_api_key: str | None = None
    javascript_key: str | None = None
    client_key: str | None = None
    dotnet_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 1337
    mount_path: str = "/parse"
    server_url: str | None = None
    public_server_url: str | None = None
    database_uri: str | None = None  # None: SQLite in data_dir (see store_of)
    data_dir: str = "./bapp_data"
    # SQLite's commit flush: "full" (acknowledged writes survive a machine
    # crash) or "normal" (they survive a crash of the server process only).
    sqlite_synchronous: str = "full"
    database_name: str | None = None
    database_pool_size: int = 10  # PostgreSQL connections per server process
    collection_prefix: str = ""
    schemas_path: str | None = None
    cloud_path: str | None = None
    app: str | None = None
    admin_username: str | None = None
    admin_password: str | None = None
    admin_role: str = "admin"
    reload: bool = False
    body_limit: int = 20 * 1024 * 1024
    log_level: str = "info"
    master_key_ips: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    allow_client_class_creation: bool = False
    enforce_private_users: bool = True
    enable_anonymous_users: bool = True
    session_length: int = 31_536_000
    expire_inactive_sessions: bool = True
    revoke_session_on_password_reset: bool = True
    object_id_size: int = 10
    allow_custom_object_id: bool = False
    default_limit: int = 100
    live_query_classes: list[str] | None = None
    protected_fields: dict = field(default_factory=lambda: {"_User": {"*": ["email"]}})
    files_path: str | None = None  # None: DATA_DIR/files
    files_adapter: str | None = None
    max_upload_size: int = 20 * 1024 * 1024
    file_upload_public: bool = False
    file_upload_anonymous: bool = False
    file_upload_authenticated: bool = True
    file_extensions: list[str] | None = None
    file_denied_extensions: list[str] | None = None  # extra refusals on top of file_extensions
    file_denied_types: list[str] | None = None  # extra refusals on top of file_extensions
    allow_origin: str = "*"
    # Parse Server 9's enableSanitizedErrorResponse: permission refusals
    # answer "Permission denied", their details go to the server log.
    sanitized_errors: bool = True
    mount_graphql: bool = True  # Parse Server's mountGraphQL (off there by default, on in bapp)
    graphql_path: str = "/graphql"  # Parse Server's graphQLPath: at the origin, not under mount_path
    graphql_playground: bool = True  # GraphiQL on GET <graphql_path> for a browser
    webhook_key: str | None = None
    webhook_timeout: int = 10  # seconds an outgoing webhook call may take
    log_buffer_size: int = 1000  # recent log records kept for GET /scriptlog
    # The built-in console at <mount>/<dashboard_path>: None = on only when
    # the server binds a loopback address.
    dashboard: bool | None = None
    dashboard_path: str = "dashboard"
    dashboard_role: str = "admin"
    redis_url: str | None = None  # the bus between instances (LiveQuery events, cache invalidation)
    workers: int = 1  # processes serving one port (bapp.cluster.workers)
    limits: Limits = field(default_factory=Limits)
    # e-mail verification, password reset, password policy, lockout (config_accounts.py)
    app_name: str | None = None
    email: EmailSettings = field(default_factory=EmailSettings)
    password_policy: PasswordPolicy | None = None
    account_lockout: AccountLockout | None = None
    pages: PagesSettings = field(default_factory=PagesSettings)
    # idempotencyOptions: path regexes (none = off) and record lifetime in seconds
    idempotency_paths: list[str] = field(default_factory=list)
    idempotency_ttl: int = 300
    # rateLimit rules (bapp.core.ratelimit.RateLimitRule) and trustProxy
    rate_limits: list[Any] = field(default_factory=list)
    trust_proxy: Any = False
    # auth: provider name -> options ("module": a Python file, "jwt", or none for built-ins)
    auth_providers: dict = field(default_factory=dict)
    # push: {"module": "path/to/push.py", ...adapter options}; None = /push answers 115
    push: dict | None = None
    # schema: Parse Server's defined schemas (definitions, strict, deleteExtraFields, ...)
    schema_options: dict | None = None

    @property
    def store(self) -> Store:
        return store_of(self.database_uri, self.data_dir)

    @property
    def in_memory(self) -> bool:
        return self.store.kind == "memory"

    @property
    def local_files_path(self) -> str:
        """Where the local files adapter keeps uploads."""
        return self.files_path or str(Path(self.data_dir) / "files")

    @property
    def master_key_is_default(self) -> bool:
        return self.master_key == DEFAULT_MASTER_KEY

    def mount_url(self, request_base: str | None = None) -> str:
        """The URL clients reach the API at (for Location headers and file URLs)."""
        if self.public_server_url:
            return self.public_server_url.rstrip("/")
        if self.server_url:
            return self.server_url.rstrip("/")
        if request_base:
            return request_base.rstrip("/") + self.mount_path
        return f"http://{self.host}:{self.port}{self.mount_path}"


@dataclass(frozen=True)
class Store:
    """Which store a database URI selects: ``sqlite`` (``path`` is its file),
    ``memory``, ``postgres`` or ``mongodb``."""

    kind: str
    uri: str | None
    path: Path | None = None

    def describe(self) -> str:
        if self.kind == "sqlite":
            return f"SQLite {self.path}"
        if self.kind == "memory":
            return "in-memory store (lost when the server stops)"
        parts = urlsplit(self.uri or "")
        where = parts.hostname or "localhost"
        if parts.port:
            where += f":{parts.port}"
        name = {"postgres": "PostgreSQL", "mongodb": "MongoDB"}[self.kind]
        return f"{name} at {where}{parts.path or ''}"


_URI_KINDS = {"postgres": "postgres", "postgresql": "postgres", "mongodb": "mongodb", "mongodb+srv": "mongodb"}


def store_of(uri: str | None, data_dir: str | os.PathLike[str] = "./bapp_data") -> Store:
    """The store a ``database_uri`` names. No URI: SQLite in ``DATA_DIR/data.db``;
    ``memory://``: the in-memory store; ``sqlite:///ABS/PATH.db`` or
    ``sqlite:relative/path.db``: that SQLite file."""
    if not uri:
        return Store("sqlite", None, (Path(data_dir) / "data.db").absolute())
    scheme, sep, rest = uri.partition(":")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError(f"database URI without a scheme: {uri!r} (sqlite:, memory://, postgres://, mongodb://)")
    if scheme == "memory":
        return Store("memory", uri)
    if scheme == "sqlite":
        path = rest.split("?", 1)[0]
        if path.startswith("//"):  # sqlite:///abs/path: an empty authority, then the absolute path
            path = path[2:]
            if not path.startswith("/"):
                raise ConfigError(f"sqlite URI with a host: {uri!r} (use sqlite:///ABSOLUTE/PATH.db "
                                  "or sqlite:relative/path.db)")
        if not path.strip("/"):
            raise ConfigError(f"sqlite URI without a file: {uri!r}")
        return Store("sqlite", uri, Path(path).absolute())
    if scheme in _URI_KINDS:
        return Store(_URI_KINDS[scheme], uri)
    raise ConfigError(f"unsupported database URI scheme {scheme!r} (sqlite:, memory://, postgres://, mongodb://)")


# Parse Server option -> bapp setting. Options that bapp has no use for but that
# are harmless to carry over are mapped to None (accepted, ignored).
_PARSE_OPTIONS: dict[str, str | None] = {
    "appId": "app_id",
    "masterKey": "master_key",
    "readOnlyMasterKey": "read_only_master_key",
    "restAPIKey": "rest_api_key",
    "javascriptKey": "javascript_key",
    "clientKey": "client_key",
    "dotNetKey": "dotnet_key",
    "databaseURI": "database_uri",
    "port": "port",
    "host": "host",
    "mountPath": "mount_path",
    "serverURL": "server_url",
    "publicServerURL": "public_server_url",
    "allowClientClassCreation": "allow_client_class_creation",
    "enforcePrivateUsers": "enforce_private_users",
    "enableAnonymousUsers": "enable_anonymous_users",
    "sessionLength": "session_length",
    "expireInactiveSessions": "expire_inactive_sessions",
    "revokeSessionOnPasswordReset": "revoke_session_on_password_reset",
    "objectIdSize": "object_id_size",
    "allowCustomObjectId": "allow_custom_object_id",
    "defaultLimit": "default_limit",
    "maxLimit": None,
    "maxUploadSize": "max_upload_size",
    "masterKeyIps": "master_key_ips",
    "protectedFields": "protected_fields",
    "cloud": "cloud_path",
    "logLevel": "log_level",
    "allowOrigin": "allow_origin",
    "enableSanitizedErrorResponse": "sanitized_errors",
    "webhookKey": "webhook_key",
    "verbose": None,
    "silent": None,
    "liveQuery": None,
    "liveQueryServerOptions": None,
    "fileUpload": None,
    "startLiveQueryServer": None,
    "directAccess": None,
    "logsFolder": None,
    "jsonLogs": None,
    "logLevels": None,
    "cacheTTL": None,
    "cacheMaxSize": None,
    "collectionPrefix": "collection_prefix",
    "enableInsecureAuthAdapters": None,
    "idempotencyOptions": "idempotency_paths",
    "rateLimit": "rate_limits",
    "trustProxy": "trust_proxy",
    "auth": "auth_providers",
    "push": "push",
    "schema": "schema_options",
    "encodeParseObjectInCloudFunction": None,
    "mountGraphQL": "mount_graphql",
    "graphQLPath": "graphql_path",
    "mountPlayground": "graphql_playground",
    # bapp's playground is always GET <graphQLPath> with a browser's Accept header.
    "playgroundPath": None,
}


# Parse Server options whose behaviour bapp does not provide: refused with
# their own message, since silently dropping one (a password policy, an
# email adapter) would change what the deployment enforces.
_UNSUPPORTED_PARSE_OPTIONS = frozenset({
    "filesAdapter",
    "databaseAdapter", "cacheAdapter", "analyticsAdapter", "loggerAdapter", "oauth",
    "maintenanceKey", "maintenanceKeyIps",
    "graphQLSchema",
    "extendSessionOnUse", "allowExpiredAuthDataToken", "preserveFileName",
    "routeAllowList", "readOnlyMasterKeyIps", "requestKeywordDenylist", "security",
})


def _parse_size(value: Any) -> int:
    """Sizes like Parse Server's ``"20mb"`` or a plain byte count."""
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    units = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "b": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


parse_size = _parse_size


class ConfigError(ValueError):
    """A configuration problem that stops start-up with a clear message."""


def apply_parse_config(settings: Settings, path: str | Path) -> None:
    """Maps a Parse Server JSON config onto ``settings``; unknown options are
    refused by name so a migration never silently drops a setting."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: config must be a JSON object")
    unsupported = sorted(k for k in data if k in _UNSUPPORTED_PARSE_OPTIONS)
    if unsupported:
        raise ConfigError(f"{path}: Parse Server option(s) bapp does not support: {', '.join(unsupported)} "
                          "(remove them, or keep that deployment on Parse Server)")
    unknown = sorted(k for k in data if k not in _PARSE_OPTIONS and k not in ACCOUNT_OPTIONS)
    if unknown:
        raise ConfigError(f"{path}: unknown option(s): {', '.join(unknown)}")
    for key, value in data.items():
        if key in ACCOUNT_OPTIONS:
            try:
                apply_account_option(settings, key, value)
            except AccountConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
            continue
        target = _PARSE_OPTIONS[key]
        if key == "maxLimit":
            settings.limits.max_limit = int(value)
        elif key == "liveQuery":
            classes = (value or {}).get("classNames")
            settings.live_query_classes = list(classes) if classes is not None else None
            if (value or {}).get("redisURL"):
                settings.redis_url = str(value["redisURL"])
        elif key == "liveQueryServerOptions":
            if (value or {}).get("redisURL"):
                settings.redis_url = str(value["redisURL"])
        elif key == "fileUpload":
            _apply_file_upload(settings, value, path)
        elif key in _STRUCTURED_OPTIONS:
            _apply_structured(settings, key, value, Path(path).resolve().parent, path)
        elif target == "max_upload_size":
            settings.max_upload_size = _parse_size(value)
            settings.body_limit = max(settings.body_limit, settings.max_upload_size)
        elif target in ("mount_path", "graphql_path"):
            setattr(settings, target, "/" + str(value).strip("/"))
        elif target:
            setattr(settings, target, value)
    try:
        validate_account_settings(settings)
    except AccountConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


_FILE_UPLOAD_FLAGS = (("enableForPublic", "file_upload_public", False),
                      ("enableForAnonymousUser", "file_upload_anonymous", False),
                      ("enableForAuthenticatedUser", "file_upload_authenticated", True))


def _apply_file_upload(settings: Settings, value: Any, path: str) -> None:
    """Parse Server 9's ``fileUpload`` option, validated with its messages:
    missing keys take Parse Server's defaults (``fileExtensions``: its
    HTML/SVG/XML blocklist)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: fileUpload must be an object value.")
    for name, target, default in _FILE_UPLOAD_FLAGS:
        flag = value.get(name, default)
        if not isinstance(flag, bool):
            raise ConfigError(f"{path}: fileUpload.{name} must be a boolean value.")
        setattr(settings, target, flag)
    extensions = value.get("fileExtensions")
    if extensions is not None and (not isinstance(extensions, list)
                                   or not all(isinstance(e, str) for e in extensions)):
        raise ConfigError(f"{path}: fileUpload.fileExtensions must be an array.")
    settings.file_extensions = list(extensions) if extensions is not None else None


_STRUCTURED_OPTIONS = frozenset({"idempotencyOptions", "rateLimit", "trustProxy", "auth", "push", "schema"})


def _apply_structured(settings: Settings, key: str, value: Any, base: Path, path: str | Path) -> None:
    """Options with their own checks (``bapp.config_options``)."""
    from bapp import config_options as opts

    try:
        if key == "idempotencyOptions":
            settings.idempotency_paths, settings.idempotency_ttl = opts.idempotency(value)
        elif key == "rateLimit":
            settings.rate_limits = opts.rate_limits(value)
        elif key == "trustProxy":
            settings.trust_proxy = opts.trust_proxy(value)
        elif key == "auth":
            settings.auth_providers = opts.auth_providers(value, base)
            anonymous = settings.auth_providers.get("anonymous", {})
            if anonymous.get("enabled") is False:
                settings.enable_anonymous_users = False
        elif key == "push":
            settings.push = opts.push(value, base)
        elif key == "schema":
            from bapp.core import schema_defined

            settings.schema_options = schema_defined.check_options(value)
    except ValueError as exc:
        raise ConfigError(f"{path}: {key}: {exc}") from None


_ENV_TYPES = {f.name: f.type for f in fields(Settings)}
# Settings that are dataclasses themselves: set from a config file, not one variable.
_NESTED_SETTINGS = frozenset({"limits", "email", "password_policy", "account_lockout", "pages"})


def apply_env(settings: Settings, environ: dict[str, str] | None = None) -> None:
    """Reads ``BAPP_<SETTING>`` variables (e.g. ``BAPP_MASTER_KEY``)."""
    environ = os.environ if environ is None else environ
    for f in fields(Settings):
        if f.name in _NESTED_SETTINGS:
            continue
        raw = environ.get("BAPP_" + f.name.upper())
        if raw is None:
            continue
        if f.name in _ENV_PARSERS:
            try:
                setattr(settings, f.name, _ENV_PARSERS[f.name](raw))
            except ValueError as exc:
                raise ConfigError(f"BAPP_{f.name.upper()}: {exc}") from None
            continue
        setattr(settings, f.name, coerce(f.name, raw))


def _env_rate_limits(raw: str) -> list:
    from bapp import config_options

    return config_options.rate_limits(json.loads(raw))


def _env_trust_proxy(raw: str) -> Any:
    from bapp import config_options

    return config_options.trust_proxy(raw)


def _env_json(option: str) -> Any:
    """A BAPP_* variable holding the JSON of a Parse option (module paths
    relative to the working directory)."""

    def parse(raw: str) -> Any:
        from bapp import config_options

        value = json.loads(raw)
        if option == "auth":
            return config_options.auth_providers(value, Path.cwd())
        if option == "push":
            return config_options.push(value, Path.cwd())
        from bapp.core import schema_defined

        return schema_defined.check_options(value)

    return parse


# Settings whose BAPP_* variable holds structure (JSON, or trustProxy's forms).
_ENV_PARSERS = {"rate_limits": _env_rate_limits, "trust_proxy": _env_trust_proxy,
                "auth_providers": _env_json("auth"), "push": _env_json("push"),
                "schema_options": _env_json("schema")}


def coerce(name: str, raw: str) -> Any:
    kind = str(_ENV_TYPES[name]).replace(" | None", "")
    if kind == "int":
        return _parse_size(raw) if name in ("body_limit", "max_upload_size") else int(raw)
    if kind in ("bool", "bool | None"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind.startswith("list"):
        return [p.strip() for p in raw.split(",") if p.strip()]
    if kind == "dict":
        return json.loads(raw)
    return raw
