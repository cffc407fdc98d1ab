"""Unwrapping a request: body, method override, credentials and the caller.

Header-style clients send ``X-Parse-*`` headers; the JS SDK sends a
text/plain JSON body carrying ``_method``, ``_ApplicationId``,
``_SessionToken`` and friends. Both end as one ``ApiRequest``."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from typing import Any

import orjson
from aiohttp import web

from bapp import errors
from bapp.core.auth import Auth
from bapp.errors import HTTPError, ParseError, unauthorized

_ENVELOPE_KEYS = (
    "_ApplicationId", "_JavaScriptKey", "_ClientKey", "_RESTAPIKey", "_MasterKey", "_SessionToken",
    "_InstallationId", "_ClientVersion", "_context", "_ContentType", "_RevocableSession", "_noBody",
)


def parse_json_body(raw: bytes) -> Any:
    if not raw or not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ParseError(errors.INVALID_JSON, "Invalid JSON") from None


def parse_query_string(request: web.Request) -> dict[str, Any]:
    """URL parameters, JSON-decoded where possible (as Parse Server does)."""
    out: dict[str, Any] = {}
    for key, value in request.query.items():
        try:
            out[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key] = value
    return out


def _string_or_403(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise unauthorized()
    return value


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


def ip_allowed(ip: str | None, allowed: list[str]) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class Credentials:
    """What the caller presented."""

    def __init__(self) -> None:
        self.app_id: str | None = None
        self.master_key: str | None = None
        self.client_keys: list[str] = []
        self.session_token: str | None = None
        self.installation_id: str | None = None
        self.context: Any = None
        self.content_type: str | None = None


def read_credentials(request: web.Request, body: Any) -> tuple[Credentials, Any]:
    """Credentials from headers, or from the body envelope when no app-id
    header is present; returns them and the body without envelope keys."""
    creds = Credentials()
    headers = request.headers
    creds.app_id = headers.get("X-Parse-Application-Id")
    if creds.app_id is not None:
        creds.master_key = headers.get("X-Parse-Master-Key")
        creds.client_keys = [v for v in (headers.get("X-Parse-REST-API-Key"), headers.get("X-Parse-Javascript-Key"),
                                         headers.get("X-Parse-Client-Key"), headers.get("X-Parse-Windows-Key")) if v]
        creds.session_token = headers.get("X-Parse-Session-Token")
        creds.installation_id = headers.get("X-Parse-Installation-Id")
        context = headers.get("X-Parse-Cloud-Context")
        if context is not None:
            try:
                creds.context = orjson.loads(context)
            except orjson.JSONDecodeError:
                raise ParseError(errors.INVALID_JSON, "Invalid object for context.") from None
        if isinstance(body, dict):
            body.pop("_noBody", None)
        return creds, body
    basic = _basic_auth(headers.get("Authorization"))
    if basic:
        creds.app_id, secret = basic
        if secret.startswith("javascript-key="):
            creds.client_keys = [secret[len("javascript-key="):]]
        else:
            creds.master_key = secret
    if isinstance(body, dict) and "_ApplicationId" in body:
        creds.app_id = _string_or_403(body.get("_ApplicationId"))
        creds.master_key = _string_or_403(body.get("_MasterKey")) or creds.master_key
        for key in ("_JavaScriptKey", "_ClientKey", "_RESTAPIKey"):
            value = _string_or_403(body.get(key))
            if value:
                creds.client_keys.append(value)
        creds.session_token = _string_or_403(body.get("_SessionToken"))
        creds.installation_id = _string_or_403(body.get("_InstallationId"))
        creds.content_type = _string_or_403(body.get("_ContentType"))
        creds.context = body.get("_context")
        body = {k: v for k, v in body.items() if k not in _ENVELOPE_KEYS}
    if creds.context is not None and isinstance(creds.context, str):
        try:
            creds.context = orjson.loads(creds.context)
        except orjson.JSONDecodeError:
            raise ParseError(errors.INVALID_JSON, "Invalid object for context.") from None
    if isinstance(body, dict):
        body.pop("_noBody", None)
    return creds, body


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if ":" not in decoded:
        return None
    app_id, _, secret = decoded.partition(":")
    return app_id, secret


def _trusted(address: str, trust: Any, hop: int) -> bool:
    if trust is True:
        return True
    if isinstance(trust, int):
        return hop < trust
    return ip_allowed(address, trust or [])


def client_ip(request: web.Request, trust: Any) -> str | None:
    """The caller's address: the socket's peer, or with ``trustProxy`` the
    first address in ``X-Forwarded-For`` (read from the nearest hop back)
    that is not a trusted proxy, as Express computes ``req.ip``."""
    remote = request.remote
    if not trust or remote is None:
        return remote
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    hops = [remote, *reversed(forwarded)]
    for hop, address in enumerate(hops[:-1]):
        if not _trusted(address, trust, hop):
            return address
    return hops[-1]


async def authenticate(engine: Any, creds: Credentials, request: web.Request, path: str,
                       method: str | None = None) -> Auth:
    """Checks app id and keys, resolves the session and applies the rate
    limits; raises 403/209/429."""
    settings = engine.settings
    if not _same(creds.app_id, settings.app_id):
        raise unauthorized()
    ip = client_ip(request, settings.trust_proxy)
    limiter = engine.rate_limiter
    # The path without the query string: Parse Server matches req.url, so a
    # query string lets a request slip past a limit (a deliberate safer deviation).
    # Routes outside the mount (GraphQL at /graphql) are matched whole.
    mount = settings.mount_path.rstrip("/")
    route = request.path
    if mount and (route == mount or route.startswith(mount + "/")):
        route = route[len(mount):] or "/"
    method = method or request.method
    try:
        auth = await _resolve(engine, creds, request, path, ip)
    except ParseError:
        # A bad session token still counts (guessing tokens is limited too).
        if limiter.rules:
            await limiter.check(settings.app_id, method, route, ip or "", master=False,
                                session_token=creds.session_token)
        raise
    if limiter.rules:
        await limiter.check(settings.app_id, method, route, ip or "", master=auth.master,
                            session_token=auth.session_token, user_id=auth.user_id)
    return auth


async def _resolve(engine: Any, creds: Credentials, request: web.Request, path: str, ip: str | None) -> Auth:
    settings = engine.settings
    if creds.context is not None and not isinstance(creds.context, dict):
        raise ParseError(errors.INVALID_JSON, "Invalid object for context.")
    auth = Auth(installation_id=creds.installation_id, context=creds.context or {},
                headers=dict(request.headers), ip=ip)
    is_master = _same(creds.master_key, settings.master_key)
    is_read_only = bool(settings.read_only_master_key) and _same(creds.master_key, settings.read_only_master_key)
    if is_master or is_read_only:
        # A right key from the wrong address is refused, not downgraded.
        if not ip_allowed(ip, settings.master_key_ips):
            raise unauthorized()
        auth.master = True
        auth.read_only = is_read_only
        return auth
    configured = [k for k in (settings.rest_api_key, settings.javascript_key, settings.client_key,
                              settings.dotnet_key) if k]
    if configured and not any(_same(k, c) for k in creds.client_keys for c in configured):
        raise unauthorized()
    token = creds.session_token
    route = path.rstrip("/")
    if token and route == "/upgradeToRevocableSession":
        auth.session_token = token  # a legacy token, resolved by the route itself
    elif token and route != "/login":
        auth.user = await engine.auth.user_for_token(token)
        auth.session_token = token
    return auth


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status=status,
                        headers=headers, content_type="application/json", charset="utf-8")


def error_response(exc: Exception, sanitize: bool = True) -> web.Response:
    if isinstance(exc, ParseError):
        return json_response(exc.to_json(sanitize), exc.status)
    if isinstance(exc, HTTPError):
        return json_response({"error": errors.client_message(exc, sanitize)}, exc.status)
    return json_response({"code": errors.INTERNAL_SERVER_ERROR, "error": "Internal server error."}, 500)
