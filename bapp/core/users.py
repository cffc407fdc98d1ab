"""Users, sessions and roles: the rules the write pipeline applies to the
``_User``, ``_Session`` and ``_Role`` classes, and login.

Passwords are bcrypt hashes (cost 10) in ``_hashed_password``, the format
Parse Server writes, so migrated users log in unchanged. Hashing runs in a
thread so a login never blocks the event loop."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import bcrypt

from bapp import errors
from bapp.core import types
from bapp.core.auth import Auth
from bapp.errors import ParseError
from bapp.storage.base import DuplicateValue, FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

EMAIL_RE = re.compile(r"^.+@.+$")
SESSION_SERVER_FIELDS = ("sessionToken", "expiresAt", "user", "createdWith", "installationId")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(lambda: bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode())


async def verify_password(password: str, hashed: Any) -> bool:
    if not isinstance(hashed, str) or not hashed:
        return False

    def check() -> bool:
        try:
            return bcrypt.checkpw(password.encode(), hashed.encode())
        except ValueError:
            return False

    return await asyncio.to_thread(check)


def duplicate_error(class_name: str, exc: DuplicateValue) -> ParseError:
    if class_name == "_User":
        if "username" in exc.fields:
            return ParseError(errors.USERNAME_TAKEN, "Account already exists for this username.")
        if "email" in exc.fields:
            return ParseError(errors.EMAIL_TAKEN, "Account already exists for this email address.")
    return ParseError(errors.DUPLICATE_VALUE, "A duplicate value for a field with unique values was provided")


def _ci_equal(value: str) -> dict:
    return {"$regex": "^" + re.escape(value) + "$", "$options": "i"}


async def _taken(engine: Engine, field: str, value: str, except_id: str | None = None) -> bool:
    where: dict[str, Any] = {field: _ci_equal(value)}
    if except_id:
        where["objectId"] = {"$ne": except_id}
    rows = await engine.storage.find("_User", engine.schemas.fields_of("_User"), where, FindOptions(limit=1, keys=["objectId"]))
    return bool(rows)


async def _check_identity(engine: Engine, body: dict, auth: Auth, user_id: str | None) -> None:
    if "username" in body:
        username = body["username"]
        if not isinstance(username, str) or not username:
            raise ParseError(errors.USERNAME_MISSING, "bad or missing username")
        if await _taken(engine, "username", username, user_id):
            raise ParseError(errors.USERNAME_TAKEN, "Account already exists for this username.")
    if "email" in body and body["email"] is not None and not _is_delete(body["email"]):
        email = body["email"]
        if not isinstance(email, str) or not EMAIL_RE.match(email):
            raise ParseError(errors.INVALID_EMAIL_ADDRESS, "Email address format is invalid.")
        if await _taken(engine, "email", email, user_id):
            raise ParseError(errors.EMAIL_TAKEN, "Account already exists for this email address.")
    if "emailVerified" in body and not auth.master:
        raise ParseError(errors.OPERATION_FORBIDDEN, "Clients aren't allowed to manually update email verification.")


def _is_delete(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__op") == "Delete"


def check_auth_data(engine: Engine, auth_data: Any) -> dict:
    if not isinstance(auth_data, dict) or not auth_data:
        raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    for provider, data in auth_data.items():
        if provider != "anonymous" or not engine.settings.enable_anonymous_users:
            raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        if data is None:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    return auth_data


async def prepare_signup(engine: Engine, body: dict, auth: Auth) -> tuple[dict, bool]:
    """Checks a new user; returns the body to store and whether the username
    was generated (authData sign-ups)."""
    generated = False
    if "authData" in body:
        check_auth_data(engine, body["authData"])
        if not body.get("username"):
            body["username"] = secrets.token_hex(13)[:25]
            generated = True
    else:
        if not isinstance(body.get("username"), str) or not body.get("username"):
            raise ParseError(errors.USERNAME_MISSING, "bad or missing username")
        if not isinstance(body.get("password"), str) or not body.get("password"):
            raise ParseError(errors.PASSWORD_MISSING, "password is required")
    await _check_identity(engine, body, auth, None)
    if "password" in body:
        password = body.pop("password")
        if not isinstance(password, str) or not password:
            raise ParseError(errors.PASSWORD_MISSING, "password is required")
        body["_hashed_password"] = await hash_password(password)
    body.pop("sessionToken", None)
    return body, generated


def finish_signup_values(engine: Engine, values: dict, object_id: str) -> dict:
    acl = dict(values.get("ACL") or {})
    if "ACL" not in values:
        if not engine.settings.enforce_private_users:
            acl["*"] = {"read": True}
    # The user always keeps read and write on itself.
    acl[object_id] = {"read": True, "write": True}
    values["ACL"] = acl
    return values


async def create_session(engine: Engine, user_id: str, action: str, provider: str | None,
                         installation_id: str | None, extra: dict | None = None) -> dict:
    """A new ``_Session``; replaces the user's session on the same installation."""
    fields = engine.schemas.fields_of("_Session")
    if installation_id:
        await revoke_sessions(engine, user_id, {"installationId": installation_id})
    moment = types.now()
    created_with: dict[str, Any] = {"action": action}
    if provider:
        created_with["authProvider"] = provider
    session: dict[str, Any] = {
        **(extra or {}),
        "objectId": types.new_object_id(engine.settings.object_id_size),
        "sessionToken": types.new_session_token(),
        "user": types.pointer("_User", user_id),
        "createdWith": created_with,
        "restricted": False,
        "createdAt": moment,
        "updatedAt": moment,
    }
    session.pop("restricted")
    if engine.settings.expire_inactive_sessions:
        session["expiresAt"] = types.date_json(moment + timedelta(seconds=engine.settings.session_length))
    if installation_id:
        session["installationId"] = installation_id
    if engine.schemas.classes.get("_Session") is None:
        await engine.schemas.ensure_class("_Session")
    await engine.storage.create("_Session", fields, session)
    return session


async def revoke_sessions(engine: Engine, user_id: str, extra: dict | None = None) -> None:
    fields = engine.schemas.fields_of("_Session")
    where = {"user": types.pointer("_User", user_id), **(extra or {})}
    rows = await engine.storage.find("_Session", fields, where, FindOptions(keys=["sessionToken"]))
    for row in rows:
        engine.auth.forget_session(row.get("sessionToken"))
    if rows:
        await engine.storage.delete_many("_Session", fields, where)


async def signup_session(engine: Engine, user_id: str, body: dict, auth: Auth) -> str:
    if "authData" in body:
        provider = next(iter(body["authData"]), None)
        session = await create_session(engine, user_id, "login", provider, auth.installation_id)
    else:
        session = await create_session(engine, user_id, "signup", "password", auth.installation_id)
    return session["sessionToken"]


async def prepare_user_update(engine: Engine, body: dict, original: dict, auth: Auth) -> dict:
    user_id = original["objectId"]
    await _check_identity(engine, body, auth, user_id)
    if "authData" in body:
        auth_data = body["authData"]
        if auth_data is None:
            raise ParseError(errors.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        check_auth_data(engine, auth_data)
    if "password" in body:
        password = body.pop("password")
        if not isinstance(password, str) or not password:
            raise ParseError(errors.PASSWORD_MISSING, "password is required")
        body["_hashed_password"] = await hash_password(password)
        body["_password_changed_at"] = types.now()
        body["_perishable_token"] = {"__op": "Delete"}
    if "ACL" in body and not auth.master:
        acl = dict(body["ACL"])
        acl[user_id] = {"read": True, "write": True}
        body["ACL"] = acl
    body.pop("sessionToken", None)
    return body


async def after_user_update(engine: Engine, user_id: str, body: dict, auth: Auth) -> str | None:
    """Password changes revoke every session; a user changing its own
    password gets a fresh token back."""
    engine.auth.forget_user(user_id)
    if "_hashed_password" not in body or not engine.settings.revoke_session_on_password_reset:
        return None
    await revoke_sessions(engine, user_id)
    if auth.master or auth.user_id != user_id:
        return None
    session = await create_session(engine, user_id, "upgrade", None, auth.installation_id)
    return session["sessionToken"]


async def after_user_delete(engine: Engine, user_id: str) -> None:
    engine.auth.forget_user(user_id)
    await revoke_sessions(engine, user_id)
    engine.auth.forget_roles()


def check_role(body: dict, *, creating: bool) -> None:
    if creating:
        if not isinstance(body.get("name"), str) or not body.get("name"):
            raise ParseError(errors.INCORRECT_TYPE, "name is required.")
        if not isinstance(body.get("ACL"), dict):
            raise ParseError(errors.INCORRECT_TYPE, "ACL is required.")
    elif "name" in body:
        raise ParseError(errors.INCORRECT_TYPE, "A role's name can only be set before it has been saved.")


def prepare_session_create(body: dict, auth: Auth) -> dict:
    if auth.master:
        return body
    if not auth.user:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "Session token required.")
    if "ACL" in body:
        raise ParseError(errors.INVALID_KEY_NAME, "Cannot set ACL on a Session.")
    for key in SESSION_SERVER_FIELDS:
        if key in body and not (key == "user" and types.is_pointer(body[key]) and body[key]["objectId"] == auth.user_id):
            raise ParseError(errors.INVALID_KEY_NAME, f"Cannot set {key} on a Session.")
    return body


def check_session_update(body: dict, original: dict, auth: Auth) -> None:
    owner = original.get("user") or {}
    if owner.get("objectId") != auth.user_id:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")
    for key in SESSION_SERVER_FIELDS:
        if key in body:
            raise ParseError(errors.INVALID_KEY_NAME, f"Cannot modify {key} on a Session.")


async def find_login_user(engine: Engine, username: Any, email: Any) -> dict | None:
    """The user a login names: by username (which may also hold the email)
    or by email, compared case-insensitively as Parse Server does."""
    if username is not None and not isinstance(username, str):
        raise ParseError(errors.OBJECT_NOT_FOUND, "Invalid username/password.")
    if email is not None and not isinstance(email, str):
        raise ParseError(errors.OBJECT_NOT_FOUND, "Invalid username/password.")
    if not username and not email:
        raise ParseError(errors.USERNAME_MISSING, "username/email is required.")
    if username and email:
        where: dict = {"username": username, "email": email}
    elif username:
        where = {"$or": [{"username": username}, {"email": username}]}
    else:
        where = {"email": email}
    fields = engine.schemas.fields_of("_User")
    rows = await engine.storage.find("_User", fields, where, FindOptions(limit=2))
    if not rows:
        ci = {k: _ci_equal(v) for k, v in (("username", username), ("email", email)) if v}
        if username and not email:
            ci = {"$or": [{"username": _ci_equal(username)}, {"email": _ci_equal(username)}]}
        rows = await engine.storage.find("_User", fields, ci, FindOptions(limit=2))
    return rows[0] if len(rows) == 1 else (rows[0] if rows else None)


async def login(engine: Engine, username: Any, email: Any, password: Any, auth: Auth) -> dict:
    """Checks credentials and opens a session; returns the user object
    (internal keys stripped) plus ``sessionToken``."""
    if not username and not email:
        raise ParseError(errors.USERNAME_MISSING, "username/email is required.")
    if password is None or password == "":
        raise ParseError(errors.PASSWORD_MISSING, "password is required.")
    if not isinstance(password, str):
        raise ParseError(errors.OBJECT_NOT_FOUND, "Invalid username/password.")
    user = await find_login_user(engine, username, email)
    # The hash is checked even when the user is unknown, so timing does not
    # reveal which usernames exist.
    hashed = user.get("_hashed_password") if user else "$2b$10$" + "." * 53
    ok = await verify_password(password, hashed)
    if not user or not ok:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Invalid username/password.")
    acl = user.get("ACL")
    if acl is not None and not acl:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Invalid username/password.")
    return user
