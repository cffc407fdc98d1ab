"""Logging in and out: password and authData logins, ``/users/me``,
``/loginAs``, ``/verifyPassword``, legacy-session upgrade and the e-mail
request routes. Routes stay thin; the rules (and the login hooks) live here.

Every failure of a password check answers the same 101 "Invalid
username/password." whether or not the user exists, and an unknown user
still costs one bcrypt comparison, so neither the answer nor its timing
tells which accounts exist."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.core import accounts, password_policy, users
from bapp.core.auth import Auth
from bapp.core.triggers import call_hook
from bapp.errors import ParseError
from bapp.model.query import QueryOptions
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

_VISIBLE_KEY = re.compile(r"^[A-Za-z][0-9A-Za-z_]*$")


def public_user(user: dict) -> dict:
    """A stored user as the login routes show it: no password, no internal
    keys, no unlinked (null) authData providers."""
    out = {k: v for k, v in user.items() if _VISIBLE_KEY.match(k) and k not in ("password", "sessionToken")}
    auth_data = out.get("authData")
    if isinstance(auth_data, dict):
        auth_data = {k: v for k, v in auth_data.items() if v is not None}
        if auth_data:
            out["authData"] = auth_data
        else:
            del out["authData"]
    return out


# ------------------------------------------------------------------ password check

async def authenticate(engine: Engine, params: dict, auth: Auth) -> dict:
    """The stored user named by username/email whose password matches."""
    username, email, password = params.get("username"), params.get("email"), params.get("password")
    # Presence is JavaScript truthiness, as in Parse Server: an object or
    # array as a credential is present, then matches nobody (404, 101).
    has_username, has_email = users.js_truthy(username), users.js_truthy(email)
    if not has_username and not has_email:
        raise ParseError(errors.USERNAME_MISSING, "username/email is required.")
    if not users.js_truthy(password):
        raise ParseError(errors.PASSWORD_MISSING, "password is required.")
    if (not isinstance(password, str) or (has_email and not isinstance(email, str))
            or (has_username and not isinstance(username, str))):
        raise ParseError(errors.OBJECT_NOT_FOUND, "Invalid username/password.")
    if has_username and has_email:
        where: dict = {"username": username, "email": email}
    elif has_email:
        where = {"email": email}
    else:
        where = {"$or": [{"username": username}, {"email": username}]}
    rows = await engine.storage.find("_User", engine.schemas.fields_of("_User"), where, FindOptions(limit=2))
    user = None
    if len(rows) > 1:
        # One user's username is another's email: the username wins.
        user = next((r for r in rows if r.get("username") == username), None)
    elif rows:
        user = rows[0]
    ok = await users.verify_password(password, user.get("_hashed_password") if user else None)
    if user is not None:
        await password_policy.record_login_attempt(engine, user, ok)  # accountLockout
    if user is None or not ok:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Invalid username/password.")
    acl = user.get("ACL")
    # A user whose ACL is {} is locked out (the way to lock an account).
    if not auth.master and isinstance(acl, dict) and not acl:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Invalid username/password.")
    email = engine.settings.email
    skip_check = auth.master and params.get("ignoreEmailVerification") is True
    if email.verify_user_emails and email.prevent_login_with_unverified_email and not skip_check \
            and user.get("emailVerified") is not True:
        raise ParseError(errors.EMAIL_NOT_FOUND, accounts.NOT_VERIFIED)
    return user


async def _run_login_hook(engine: Engine, trigger: str, user: dict, auth: Auth) -> None:
    hook = engine.triggers.trigger(trigger, "_User")
    if hook is None:
        return
    view = {**public_user(user), "className": "_User"}
    req = engine.hook_request(trigger, auth, object=view)
    await call_hook(hook, req, engine.hook_runner)


async def _open_session(engine: Engine, user: dict, provider: str, auth: Auth) -> dict:
    """beforeLogin, the new session, afterLogin; returns the response body."""
    out = public_user(user)
    await _run_login_hook(engine, "beforeLogin", out, auth)
    session = await users.create_session(engine, user["objectId"], {"action": "login", "authProvider": provider},
                                         auth.installation_id)
    out["sessionToken"] = session["sessionToken"]
    after_auth = replace(auth, user=out, session_token=session["sessionToken"], master=False, roles=None)
    await _run_login_hook(engine, "afterLogin", out, after_auth)
    return out


async def login(engine: Engine, params: dict, auth: Auth) -> dict:
    """``/login``: the whole user plus a new ``sessionToken``."""
    user = await authenticate(engine, params, auth)
    if password_policy.check_password_age(engine, user):
        # A password set before maxPasswordAge was configured: its age counts from now.
        await engine.storage.update("_User", engine.schemas.fields_of("_User"), {"objectId": user["objectId"]},
                                    password_policy.password_changed_fields(engine))
    return await _open_session(engine, user, "password", auth)


async def verify_password(engine: Engine, params: dict, auth: Auth) -> dict:
    """``/verifyPassword``: the user without a session; authData is never
    shown here (Parse Server 9, GHSA-wp76)."""
    user = public_user(await authenticate(engine, params, auth))
    user.pop("authData", None)
    return user


async def auth_data_login(engine: Engine, body: Any, auth: Auth) -> dict | None:
    """``POST /users`` with the authData of an existing user logs that user
    in (the caller answers 200); None when it is a sign-up."""
    if not isinstance(body, dict) or not isinstance(body.get("authData"), dict):
        return None
    providers = users.check_auth_data(engine, body["authData"])
    user = await users.find_user_by_auth_data(engine, providers)
    if user is None:
        return None
    # Every provider vouches before anything is said about the account
    # (Parse Server validates before answering 208 too: GHSA-8w3j).
    await engine.auth_providers.validate(providers)
    if auth.user_id and auth.user_id != user["objectId"]:
        raise ParseError(errors.ACCOUNT_ALREADY_LINKED, "this auth is already used")
    changed = users.changed_providers(providers, user.get("authData"))
    changed.pop("anonymous", None)
    if changed:
        # A login with a fresh token stores it, as Parse Server does.
        merged = {**(user.get("authData") or {}), **changed}
        await engine.storage.update("_User", engine.schemas.fields_of("_User"), {"objectId": user["objectId"]},
                                    {"authData": merged})
        engine.auth.forget_user(user["objectId"])
        user = {**user, "authData": merged}
    return await _open_session(engine, user, ",".join(providers), auth)


# ------------------------------------------------------------------ sessions of the caller

async def logout(engine: Engine, auth: Auth) -> dict:
    """Deletes the caller's session (through the pipeline, so hooks and
    caches see it) and runs afterLogout. No token: nothing to do."""
    token = auth.session_token
    if not token:
        return {}
    rows = await engine.storage.find("_Session", engine.schemas.fields_of("_Session"),
                                     {"sessionToken": token}, FindOptions(limit=1))
    if not rows:
        return {}
    session = {k: v for k, v in rows[0].items() if not k.startswith("_")}
    await engine.delete("_Session", session["objectId"], Auth.as_master(installation_id=auth.installation_id))
    hook = engine.triggers.trigger("afterLogout", "_Session")
    if hook is not None:
        req = engine.hook_request("afterLogout", auth, object={**session, "className": "_Session"})
        await call_hook(hook, req, engine.hook_runner)
    return {}


async def me(engine: Engine, auth: Auth) -> dict:
    """``/users/me``: the caller's user, read with the caller's own rights,
    plus the session token; authData stays out (Parse Server 9, GHSA-37mj)."""
    if not auth.session_token or not auth.user:
        raise errors.denied(errors.INVALID_SESSION_TOKEN, "Invalid session token")
    try:
        user = await engine.get("_User", auth.user_id, QueryOptions(), auth)
    except ParseError as exc:
        if exc.code == errors.OBJECT_NOT_FOUND:
            raise errors.denied(errors.INVALID_SESSION_TOKEN, "Invalid session token") from None
        raise
    out = public_user(user)
    out.pop("authData", None)
    out["sessionToken"] = auth.session_token
    return out


async def session_me(engine: Engine, auth: Auth) -> dict:
    """``/sessions/me``: the caller's session object."""
    if not auth.session_token:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "Session token required.")
    rows = await engine.storage.find("_Session", engine.schemas.fields_of("_Session"),
                                     {"sessionToken": auth.session_token}, FindOptions(limit=1))
    if not rows:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "Session token not found.")
    return engine.clean("_Session", rows[0], Auth.as_master())


async def login_as(engine: Engine, user_id: Any, auth: Auth) -> dict:
    """``/loginAs`` (master key): a session for any user, no hooks."""
    if not auth.master:
        raise errors.denied(errors.OPERATION_FORBIDDEN, "master key is required")
    if auth.read_only:
        raise errors.denied(errors.OPERATION_FORBIDDEN, "read-only masterKey isn't allowed to login as another user.")
    if not user_id or not isinstance(user_id, str):
        raise ParseError(errors.INVALID_VALUE, "userId must not be empty, null, or undefined")
    rows = await engine.storage.find("_User", engine.schemas.fields_of("_User"), {"objectId": user_id},
                                     FindOptions(limit=1))
    if not rows:
        raise ParseError(errors.OBJECT_NOT_FOUND, "user not found")
    out = public_user(rows[0])
    session = await users.create_session(engine, user_id, {"action": "login", "authProvider": "masterkey"},
                                         auth.installation_id)
    out["sessionToken"] = session["sessionToken"]
    return out


async def upgrade_session(engine: Engine, token: str | None, auth: Auth) -> dict:
    """``/upgradeToRevocableSession``: trades a legacy token (stored on the
    user) for a revocable ``r:`` session and forgets the legacy one."""
    if not token:
        raise ParseError(errors.OBJECT_NOT_FOUND, "invalid session")
    if not isinstance(token, str) or len(token) > 512:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "invalid legacy session token")
    fields = engine.schemas.fields_of("_User")
    rows = await engine.storage.find("_User", fields, {"_session_token": token}, FindOptions(limit=2))
    if len(rows) != 1:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "invalid legacy session token")
    user_id = rows[0]["objectId"]
    session = await users.create_session(engine, user_id, {"action": "upgrade"}, auth.installation_id)
    await engine.storage.update("_User", fields, {"objectId": user_id}, {"_session_token": {"__op": "Delete"}})
    engine.auth.forget_session(token)
    session.pop("objectId", None)
    return session
