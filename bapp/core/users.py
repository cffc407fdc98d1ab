"""Users, sessions and roles: the rules the write pipeline applies to the
``_User``, ``_Session`` and ``_Role`` classes.

Passwords are bcrypt hashes (cost 10) in ``_hashed_password``, the format
Parse Server writes, so migrated users log in unchanged. Hashing runs in a
thread so a sign-up or login never blocks the event loop.

Username, email and authData ids are unique. On MongoDB a unique index backs
the exact value; the case-insensitive check (Parse Server's collation query)
and the insert run under one lock per engine, so two concurrent sign-ups of
"Alice" and "alice" cannot both pass the check before either is written."""

from __future__ import annotations

import asyncio
import re
import secrets
import weakref
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import bcrypt

from bapp import errors
from bapp.core import accounts, password_policy
from bapp.core.auth import Auth
from bapp.errors import ParseError
from bapp.model import types
from bapp.storage.base import DuplicateValue, FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

EMAIL_RE = re.compile(r"^.+@.+$")
# Fields of a session only the server sets.
SESSION_SERVER_FIELDS = ("sessionToken", "expiresAt", "user", "createdWith", "installationId")
IDENTITY_FIELDS = ("username", "email", "authData")
BCRYPT_MAX_BYTES = 72
# A valid hash no password matches: compared against when the user is
# unknown, so response timing does not tell which usernames exist.
DUMMY_HASH = bcrypt.hashpw(b"bapp-dummy-password", bcrypt.gensalt(10)).decode()

_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness, which Parse Server's presence checks use: an
    empty object or array is truthy there, unlike in Python."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == value and value != 0  # NaN and 0 are falsy
    return True


# ------------------------------------------------------------------ passwords

def _password_bytes(password: str) -> bytes:
    # bcryptjs (Parse Server's hasher) silently uses the first 72 bytes; the
    # Python binding refuses longer input, so truncate the same way.
    return password.encode()[:BCRYPT_MAX_BYTES]


async def hash_password(password: str) -> str:
    """A bcrypt hash (cost 10) in Parse Server's ``_hashed_password`` format."""
    data = _password_bytes(password)
    return await asyncio.to_thread(lambda: bcrypt.hashpw(data, bcrypt.gensalt(10)).decode())


async def verify_password(password: str, hashed: Any) -> bool:
    """Checks a password against ``$2a$``/``$2b$``/``$2y$`` hashes."""
    if not isinstance(hashed, str) or not hashed:
        hashed = DUMMY_HASH
    data = _password_bytes(password)

    def check() -> bool:
        try:
            return bcrypt.checkpw(data, hashed.encode())
        except ValueError:
            return False

    return await asyncio.to_thread(check)


# ------------------------------------------------------------------ identity

def duplicate_error(class_name: str, exc: DuplicateValue) -> ParseError:
    if class_name == "_User":
        if "username" in exc.fields:
            return ParseError(errors.USERNAME_TAKEN, "Account already exists for this username.")
        if "email" in exc.fields:
            return ParseError(errors.EMAIL_TAKEN, "Account already exists for this email address.")
    return ParseError(errors.DUPLICATE_VALUE, "A duplicate value for a field with unique values was provided")


def _ci_equal(value: str) -> dict:
    return {"$regex": "^" + re.escape(value) + "$", "$options": "i"}


def _is_delete(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__op") == "Delete"


async def _taken(engine: Engine, where: dict, except_id: str | None) -> bool:
    if except_id:
        where = {"$and": [where, {"objectId": {"$ne": except_id}}]}
    rows = await engine.storage.find("_User", engine.schemas.fields_of("_User"), where,
                                     FindOptions(limit=1, keys=["objectId"]))
    return bool(rows)


def check_identity_format(body: dict) -> None:
    """Type and format checks of username and email (no database access)."""
    if "username" in body:
        username = body["username"]
        if not isinstance(username, str) or not username:
            raise ParseError(errors.USERNAME_MISSING, "bad or missing username")
    email = body.get("email")
    if email is not None and not _is_delete(email):
        if not isinstance(email, str) or not EMAIL_RE.match(email):
            raise ParseError(errors.INVALID_EMAIL_ADDRESS, "Email address format is invalid.")


async def check_identity_unique(engine: Engine, body: dict, user_id: str | None) -> None:
    """Case-insensitive uniqueness of username and email, and of linked
    authData ids (202, 203, 208)."""
    username = body.get("username")
    if isinstance(username, str) and username:
        if await _taken(engine, {"username": _ci_equal(username)}, user_id):
            raise ParseError(errors.USERNAME_TAKEN, "Account already exists for this username.")
    email = body.get("email")
    if isinstance(email, str) and email:
        if await _taken(engine, {"email": _ci_equal(email)}, user_id):
            raise ParseError(errors.EMAIL_TAKEN, "Account already exists for this email address.")
    for provider, data in active_providers(body.get("authData")).items():
        if await _taken(engine, {f"authData.{provider}.id": data["id"]}, user_id):
            raise ParseError(errors.ACCOUNT_ALREADY_LINKED, "this auth is already used")


def _identity_lock(engine: Engine) -> asyncio.Lock:
    lock = _locks.get(engine)
    if lock is None:
        lock = _locks[engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def identity_guard(engine: Engine, class_name: str, body: dict, user_id: str | None) -> AsyncIterator[None]:
    """Wraps the database write of a ``_User``: the uniqueness checks and the
    write run without another identity write in between."""
    if class_name != "_User" or not any(k in body for k in IDENTITY_FIELDS):
        yield
        return
    async with _identity_lock(engine):
        await check_identity_unique(engine, body, user_id)
        yield


# ------------------------------------------------------------------ authData

def active_providers(auth_data: Any) -> dict[str, dict]:
    """The providers of an authData value that carry data (``null`` unlinks)."""
    if not isinstance(auth_data, dict):
        return {}
    return {p: d for p, d in auth_data.items() if d is not None}


def check_auth_data(engine: Engine, auth_data: Any) -> dict[str, dict]:
    """Shape checks of authData (no provider is asked yet): every provider
    must be configured and enabled, every id a non-empty string."""
    if not isinstance(auth_data, dict):
        raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    for provider, data in auth_data.items():
        if not isinstance(provider, str) or not engine.auth_providers.knows(provider):
            raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        if data is None:
            continue
        if not isinstance(data, dict) or not js_truthy(data.get("id")):
            raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        if not isinstance(data["id"], str):
            # Parse Server 9: an operator object as id must never become a query.
            raise ParseError(errors.INVALID_VALUE, f"Invalid authData id for provider '{provider}'.")
        if len(data["id"]) > 512:
            raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    return active_providers(auth_data)


def changed_providers(providers: dict[str, dict], stored: Any) -> dict[str, dict]:
    """The providers whose data differs from what the user has stored: only
    those are asked again on an update (Parse Server's hasMutatedAuthData)."""
    stored = stored if isinstance(stored, dict) else {}
    return {p: d for p, d in providers.items() if stored.get(p) != d}


async def find_user_by_auth_data(engine: Engine, providers: dict[str, dict]) -> dict | None:
    """The user already linked to one of these provider ids."""
    if not providers:
        return None
    ors = [{f"authData.{p}.id": d["id"]} for p, d in providers.items()]
    where = ors[0] if len(ors) == 1 else {"$or": ors}
    rows = await engine.storage.find("_User", engine.schemas.fields_of("_User"), where, FindOptions(limit=2))
    return rows[0] if rows else None


# ------------------------------------------------------------------ sign-up

def check_signup_credentials(body: Any) -> None:
    """Parse Server's first checks of a sign-up (validateAuthData), made
    before any other look at the body: without authData, username and
    password must be non-empty strings; an email that is not a string is
    the schema mismatch Parse Server's schema check answers next."""
    if not isinstance(body, dict):
        return
    if not js_truthy(body.get("authData")):
        if not isinstance(body.get("username"), str) or not body["username"]:
            raise ParseError(errors.USERNAME_MISSING, "bad or missing username")
        if not isinstance(body.get("password"), str) or not body["password"]:
            raise ParseError(errors.PASSWORD_MISSING, "password is required")
    email = body.get("email")
    if email is not None and not isinstance(email, str) and not (isinstance(email, dict) and "__op" in email):
        got = types.type_of(email) or {"type": "Object"}
        raise ParseError(errors.INCORRECT_TYPE,
                         f"schema mismatch for _User.email; expected String but got {types.type_name(got)}")


async def prepare_signup(engine: Engine, body: dict, auth: Auth,
                         changed: Collection[str] = ()) -> tuple[dict, bool]:
    """Checks a new user; returns the body to store and whether the username
    was generated (authData sign-ups). ``changed``: the keys a beforeSave
    trigger changed."""
    generated = False
    providers: dict[str, dict] = {}
    if "authData" in body:
        if body["authData"] is None:
            raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        providers = check_auth_data(engine, body["authData"])
        await engine.auth_providers.validate(providers)
        body["authData"] = providers
        if not providers:
            # An empty or all-null authData proves nothing: credentials are
            # still required (a deliberate fix of Parse's GHSA-wjqw).
            body.pop("authData")
    if not providers:
        if not isinstance(body.get("username"), str) or not body.get("username"):
            raise ParseError(errors.USERNAME_MISSING, "bad or missing username")
        if not isinstance(body.get("password"), str) or not body.get("password"):
            raise ParseError(errors.PASSWORD_MISSING, "password is required")
    elif not body.get("username"):
        body["username"] = secrets.token_hex(13)[:25]
        generated = True
    check_identity_format(body)
    if "emailVerified" in body and not auth.master:
        raise errors.denied(errors.OPERATION_FORBIDDEN, "Clients aren't allowed to manually update email verification.")
    if "password" in body:
        password = body.pop("password")
        if not isinstance(password, str) or not password:
            raise ParseError(errors.PASSWORD_MISSING, "password is required")
        await password_policy.check_password(engine, password, body.get("username"))
        body["_hashed_password"] = await hash_password(password)
        body.update(password_policy.password_changed_fields(engine))
    accounts.mark_email_unverified(engine, body, changed)
    body.pop("sessionToken", None)
    return body, generated


def finish_signup_values(engine: Engine, values: dict, object_id: str) -> dict:
    """The default ACL of a new user: private unless ``enforce_private_users``
    is off (then public read); the user always keeps read and write on itself."""
    acl = dict(values.get("ACL") or {})
    if "ACL" not in values and not engine.settings.enforce_private_users:
        acl["*"] = {"read": True}
    acl[object_id] = {"read": True, "write": True}
    values["ACL"] = acl
    return values


async def signup_session(engine: Engine, user_id: str, body: dict, auth: Auth) -> str | None:
    """The session of a sign-up; authData sign-ups count as logins."""
    if auth.installation_id == "cloud":
        return None  # cloud code never gets session tokens
    if not accounts.signup_gets_session(engine, body):
        return None  # verifyUserEmails + preventLoginWithUnverifiedEmail
    providers = active_providers(body.get("authData"))
    if providers:
        created_with = {"action": "login", "authProvider": ",".join(providers)}
    else:
        created_with = {"action": "signup", "authProvider": "password"}
    session = await create_session(engine, user_id, created_with, auth.installation_id)
    return session["sessionToken"]


async def after_signup(engine: Engine, user_id: str, stored: dict) -> None:
    """The verification mail of a new user, then Parse Server's 205 when
    ``preventSignupWithUnverifiedEmail`` refuses the (stored) sign-up."""
    await accounts.after_user_saved(engine, user_id, stored)
    accounts.check_signup_allowed(engine, stored)


# ------------------------------------------------------------------ sessions

def session_data(engine: Engine, user_id: str, created_with: dict, installation_id: str | None,
                 extra: dict | None = None) -> dict:
    """A new session's fields in REST form (what Parse Server answers with)."""
    data: dict[str, Any] = {
        "sessionToken": types.new_session_token(),
        "user": types.pointer("_User", user_id),
        "createdWith": created_with,
    }
    if engine.settings.expire_inactive_sessions:
        expires = types.now() + timedelta(seconds=engine.settings.session_length)
        data["expiresAt"] = types.date_json(expires)
    if installation_id:
        data["installationId"] = installation_id
    data.update(extra or {})
    return data


async def create_session(engine: Engine, user_id: str, created_with: dict, installation_id: str | None,
                         extra: dict | None = None) -> dict:
    """Stores a new ``_Session`` (through the write pipeline, so hooks and
    LiveQuery see it) and drops the user's other sessions on the same
    installation; returns the session fields plus ``objectId``."""
    data = session_data(engine, user_id, created_with, installation_id, extra)
    created = await engine.create("_Session", dict(data), Auth.as_master(installation_id=installation_id))
    data["objectId"] = created["objectId"]
    if installation_id:
        await revoke_sessions(engine, user_id, {"installationId": installation_id,
                                                "sessionToken": {"$ne": data["sessionToken"]}})
    return data


async def revoke_sessions(engine: Engine, user_id: str, extra: dict | None = None) -> None:
    """Deletes sessions of a user (all, or those matching ``extra``)."""
    fields = engine.schemas.fields_of("_Session")
    where = {"user": types.pointer("_User", user_id), **(extra or {})}
    rows = await engine.storage.find("_Session", fields, where, FindOptions(keys=["sessionToken"]))
    for row in rows:
        engine.auth.forget_session(row.get("sessionToken"))
    if rows:
        await engine.storage.delete_many("_Session", fields, where)


async def create_client_session(engine: Engine, body: dict, auth: Auth) -> dict:
    """``POST /sessions`` by a logged-in user: a new session for the caller,
    ``createdWith: {action: "create"}``, with the client's extra fields."""
    if not auth.user:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "Session token required.")
    if "ACL" in body:
        raise ParseError(errors.INVALID_KEY_NAME, "Cannot set ACL on a Session.")
    extra = {}
    for key, value in body.items():
        if key in ("objectId", "user"):
            continue
        # Server fields cannot be chosen by a client (GHSA-5v7g, GHSA-jc39).
        if key in SESSION_SERVER_FIELDS:
            raise ParseError(errors.INVALID_KEY_NAME, f"Cannot set {key} on a Session.")
        extra[key] = value
    return await create_session(engine, auth.user_id, {"action": "create"}, None, extra)


def check_session_update(body: dict, original: dict, auth: Auth) -> None:
    """A client may edit custom fields of its own sessions only; the fields
    the server manages answer 105 naming the field."""
    if not auth.user:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "Session token required.")
    if "ACL" in body:
        raise ParseError(errors.INVALID_KEY_NAME, "Cannot set ACL on a Session.")
    user = body.get("user")
    if "user" in body and not (types.is_pointer(user) and user["objectId"] == auth.user_id):
        raise ParseError(errors.INVALID_KEY_NAME, "Invalid key name: user")
    for key in ("installationId", "sessionToken", "expiresAt", "createdWith"):
        if key in body:
            raise ParseError(errors.INVALID_KEY_NAME, f"Invalid key name: {key}")
    owner = original.get("user") or {}
    if not auth.user or owner.get("objectId") != auth.user_id:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")


def check_session_delete(original: dict, auth: Auth) -> None:
    """Another user's session looks missing."""
    if not auth.master and not auth.user:
        raise errors.denied(errors.INVALID_SESSION_TOKEN, "Invalid session token")
    owner = original.get("user") or {}
    if not auth.master and (not auth.user or owner.get("objectId") != auth.user_id):
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")


# ------------------------------------------------------------------ user updates

async def prepare_user_update(engine: Engine, body: dict, original: dict, auth: Auth,
                              changed: Collection[str] = ()) -> dict:
    user_id = original["objectId"]
    check_identity_format(body)
    if "emailVerified" in body and not auth.master:
        raise errors.denied(errors.OPERATION_FORBIDDEN, "Clients aren't allowed to manually update email verification.")
    if "authData" in body:
        if body["authData"] is None:
            raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        providers = check_auth_data(engine, body["authData"])
        await engine.auth_providers.validate(changed_providers(providers, original.get("authData")))
    if "password" in body:
        password = body.pop("password")
        if not isinstance(password, str) or not password:
            raise ParseError(errors.PASSWORD_MISSING, "password is required")
        username = body.get("username") if isinstance(body.get("username"), str) else original.get("username")
        await password_policy.check_password(engine, password, username)
        history = await password_policy.check_history(engine, password, original)
        body["_hashed_password"] = await hash_password(password)
        body.update(password_policy.password_changed_fields(engine))
        if history is not None:
            body["_password_history"] = history
        body["_perishable_token"] = {"__op": "Delete"}
        body["_perishable_token_expires_at"] = {"__op": "Delete"}
    elif "email" in body:
        body["_perishable_token"] = {"__op": "Delete"}
        body["_perishable_token_expires_at"] = {"__op": "Delete"}
    if isinstance(body.get("email"), str) and body["email"] != original.get("email"):
        # Decided on the user as it will be (its authData may come from the stored user).
        view = {**body, "authData": body.get("authData", original.get("authData"))}
        accounts.mark_email_unverified(engine, view, changed)
        for key in ("_email_verify_token", "_email_verify_token_expires_at", "emailVerified"):
            if key in view:
                body[key] = view[key]
    if body.get("emailVerified") is True:
        # Verified (by the link or the master key): the old links are void.
        body["_email_verify_token"] = {"__op": "Delete"}
        body["_email_verify_token_expires_at"] = {"__op": "Delete"}
    if isinstance(body.get("ACL"), dict) and not auth.master:
        # A client can never lock a user out of its own record.
        acl = dict(body["ACL"])
        acl[user_id] = {"read": True, "write": True}
        body["ACL"] = acl
    body.pop("sessionToken", None)
    return body


async def after_user_update(engine: Engine, user_id: str, body: dict, auth: Auth) -> str | None:
    """A password change revokes every session of the user; a non-master
    caller gets a fresh session token back, as from Parse Server."""
    engine.auth.forget_user(user_id)
    await accounts.after_user_saved(engine, user_id, body)
    if "_hashed_password" not in body:
        return None
    if engine.settings.revoke_session_on_password_reset:
        await revoke_sessions(engine, user_id)
    if auth.master:
        return None
    session = await create_session(engine, user_id, {"action": "signup", "authProvider": "password"},
                                   auth.installation_id)
    return session["sessionToken"]


async def after_user_delete(engine: Engine, user_id: str) -> None:
    engine.auth.forget_user(user_id)
    await revoke_sessions(engine, user_id)
    engine.auth.forget_roles()


# ------------------------------------------------------------------ roles

def check_role(body: dict, *, creating: bool) -> None:
    """``_Role`` needs a name and an ACL (Parse Server's required columns)."""
    if creating:
        if body.get("name") is None or body.get("name") == "":
            raise ParseError(errors.INCORRECT_TYPE, "name is required.")
        if not isinstance(body.get("ACL"), dict):
            raise ParseError(errors.INCORRECT_TYPE, "ACL is required.")
        return
    if "name" in body and (body["name"] is None or _is_delete(body["name"]) or body["name"] == ""):
        raise ParseError(errors.INCORRECT_TYPE, "name is required.")
    if "ACL" in body and (body["ACL"] is None or _is_delete(body["ACL"])):
        raise ParseError(errors.INCORRECT_TYPE, "ACL is required.")
