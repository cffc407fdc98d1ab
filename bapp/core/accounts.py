"""E-mail verification and password reset (Parse Server 9's UserController).

Tokens are 25 random alphanumerics in the user's hidden fields, laid out as
Parse Server stores them: ``_email_verify_token`` and
``_email_verify_token_expires_at``; ``_perishable_token`` and
``_perishable_token_expires_at`` (reset). Links carry the token only (no
username, as since Parse Server 8): ``<publicServerURL>/apps/<appId>/verify_email?token=..``
and ``<publicServerURL>/apps/<appId>/request_password_reset?token=..``.
Each token is single-use: it is consumed by a conditional update that
matches the token itself, so two concurrent uses cannot both succeed.

Engine functions for other front ends (REST routes, the HTML pages, GraphQL,
the admin console); each raises ``ParseError`` with Parse Server's code and
message where Parse Server's route does:

* ``request_password_reset(engine, email)``: ``POST /requestPasswordReset``
  (GraphQL ``resetPassword``): sends the reset mail; an unknown address
  succeeds silently unless ``passwordPolicy.resetPasswordSuccessOnInvalidEmail`` is false.
* ``request_verification_email(engine, email)``: ``POST /verificationEmailRequest``
  (GraphQL ``sendVerificationEmail``).
* ``send_password_reset_for_user(engine, user_id)``: the same reset mail for a
  known user (the console's "reset a password").
* ``confirm_reset_password(engine, username, password, token)``: GraphQL
  ``confirmResetPassword``: the reset form's work with Parse Server's
  GraphQL errors (200/201/-1; the username is required but, as since Parse
  Server 8, the token alone names the user).
* ``set_password(engine, user_id, new_password)``: a master-key password
  change through the write pipeline (policy, history, session revocation,
  unlock), for the console.
* ``verify_email(engine, token)`` -> bool; ``resend_verification_email(engine,
  username=, token=)`` -> bool; ``check_reset_token(engine, token)`` and
  ``reset_password(engine, token, new_password)`` raise ``AccountError``
  whose message the pages show (Parse Server's strings).

The write pipeline calls ``mark_email_unverified`` (sign-up and e-mail
change) and ``after_user_saved`` (sends the verification mail)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Collection
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bapp import errors
from bapp.config_accounts import email_configured
from bapp.core import password_policy
from bapp.core.auth import Auth
from bapp.errors import ParseError
from bapp.model import types
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

EMAIL_CONFIG_MESSAGE = ("An appName, publicServerURL, and emailAdapter are required for password reset "
                        "and email verification functionality.")
RESET_TOKEN_INVALID = "Failed to reset password: username / email / token is invalid"
RESET_LINK_EXPIRED = "The password reset link has expired"
NOT_VERIFIED = "User email is not verified."
_ALPHABET = string.ascii_letters + string.digits
_DELETE = {"__op": "Delete"}


class AccountError(Exception):
    """A failed page flow; ``message`` is what the page shows."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def new_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(25))


def _public(user: dict) -> dict:
    from bapp.core.login import public_user

    out = public_user(user)
    out.pop("authData", None)
    return out


async def _find_users(engine: Engine, where: dict, limit: int = 2) -> list[dict]:
    return await engine.storage.find("_User", engine.schemas.fields_of("_User"), where, FindOptions(limit=limit))


async def _write_internal(engine: Engine, user_id: str, update: dict, where: dict | None = None) -> dict | None:
    """A direct write of hidden fields (no hooks: Parse Server writes these
    through its database controller too)."""
    engine.auth.forget_user(user_id)
    return await engine.storage.update("_User", engine.schemas.fields_of("_User"),
                                       {"objectId": user_id, **(where or {})}, update)


def require_email_config(engine: Engine) -> None:
    if not email_configured(engine.settings) or engine.mail is None:
        raise ParseError(errors.INTERNAL_SERVER_ERROR, EMAIL_CONFIG_MESSAGE)


def _check_email_param(email: Any) -> str:
    if not email:
        raise ParseError(errors.EMAIL_MISSING, "you must provide an email")
    if not isinstance(email, str):
        raise ParseError(errors.INVALID_EMAIL_ADDRESS, "you must provide a valid email string")
    return email


def _link(engine: Engine, page: str, token: str) -> str:
    settings = engine.settings
    base = settings.public_server_url.rstrip("/")
    destination = f"{base}/{settings.pages.pages_endpoint}/{quote(settings.app_id, safe='')}/{page}"
    query = f"token={quote(token, safe='')}"
    frame = settings.pages.parse_frame_url
    if frame:
        return f"{frame}?link={quote(destination.replace(base, '', 1), safe='')}&{query}"
    return f"{destination}?{query}"


# ------------------------------------------------------------------ verification

def verification_applies(body: dict) -> bool:
    """Parse Server verifies e-mails of password and anonymous users only."""
    providers = [p for p, d in (body.get("authData") or {}).items() if d is not None] \
        if isinstance(body.get("authData"), dict) else []
    return not providers or providers == ["anonymous"]


def mark_email_unverified(engine: Engine, body: dict, changed_by_trigger: Collection[str] = ()) -> None:
    """A new or changed e-mail: a fresh verification token and
    ``emailVerified: false`` (unless a beforeSave trigger set it)."""
    email = engine.settings.email
    if not email.verify_user_emails or not isinstance(body.get("email"), str) or not verification_applies(body):
        return
    body["_email_verify_token"] = new_token()
    if "emailVerified" not in changed_by_trigger:
        body["emailVerified"] = False
    if email.token_validity_duration:
        expires = types.now() + timedelta(seconds=email.token_validity_duration)
        body["_email_verify_token_expires_at"] = types.date_json(expires)


def signup_gets_session(engine: Engine, body: dict) -> bool:
    """No session for a password sign-up while unverified users may not log in.
    A user the master key created already verified (no address to verify)
    keeps its sign-up: a deliberate deviation, Parse Server refuses it too."""
    email = engine.settings.email
    has_providers = isinstance(body.get("authData"), dict) and any(v is not None for v in body["authData"].values())
    verified = body.get("emailVerified") is True
    return has_providers or verified or not (email.verify_user_emails and email.prevent_login_with_unverified_email)


def check_signup_allowed(engine: Engine, body: dict) -> None:
    """``preventSignupWithUnverifiedEmail``: the user is stored (and mailed),
    but the sign-up answers 205, as Parse Server."""
    email = engine.settings.email
    if email.prevent_signup_with_unverified_email and not signup_gets_session(engine, body):
        raise ParseError(errors.EMAIL_NOT_FOUND, NOT_VERIFIED)


async def after_user_saved(engine: Engine, user_id: str, body: dict) -> None:
    """Sends the verification mail of a write that issued a token."""
    token = body.get("_email_verify_token")
    if not isinstance(token, str) or engine.mail is None or not engine.settings.email.send_user_email_verification:
        return
    rows = await _find_users(engine, {"objectId": user_id}, 1)
    if rows and rows[0].get("_email_verify_token") == token:
        engine.mail.send_verification_email(_link(engine, "verify_email", token), _public(rows[0]))


def _token_expired(value: Any) -> bool:
    expires = password_policy.as_datetime(value)
    return expires is not None and expires <= types.now()


async def verify_email(engine: Engine, token: Any) -> bool:
    """The verification link: True when the e-mail is (now) verified."""
    if not engine.settings.email.verify_user_emails or not isinstance(token, str) or not token:
        return False
    rows = await _find_users(engine, {"_email_verify_token": token})
    if len(rows) != 1:
        return False
    user = rows[0]
    if user.get("emailVerified") is True:
        return True
    if engine.settings.email.token_validity_duration and _token_expired(user.get("_email_verify_token_expires_at")):
        return False
    try:
        # Through the pipeline (hooks and LiveQuery see it); the condition
        # on the token makes the link single-use even under concurrency.
        await engine.update("_User", user["objectId"], {"emailVerified": True}, Auth.as_master(),
                            where={"_email_verify_token": token})
    except ParseError as exc:
        if exc.code == errors.OBJECT_NOT_FOUND:
            return False
        raise
    return True


async def _reissue_verification(engine: Engine, user: dict) -> None:
    """A new token unless the current one may be reused, then the mail."""
    email = engine.settings.email
    token = user.get("_email_verify_token")
    expires = password_policy.as_datetime(user.get("_email_verify_token_expires_at"))
    reusable = (email.token_reuse_if_valid and email.token_validity_duration and isinstance(token, str)
                and expires is not None and expires > types.now())
    if not reusable:
        update: dict[str, Any] = {"_email_verify_token": new_token(), "emailVerified": False}
        if email.token_validity_duration:
            until = types.now() + timedelta(seconds=email.token_validity_duration)
            update["_email_verify_token_expires_at"] = types.date_json(until)
        stored = await _write_internal(engine, user["objectId"], update, {"emailVerified": {"$ne": True}})
        if stored is None:
            return  # verified meanwhile
        user, token = stored, update["_email_verify_token"]
    engine.mail.send_verification_email(_link(engine, "verify_email", token), _public(user))


async def request_verification_email(engine: Engine, email: Any) -> None:
    """``POST /verificationEmailRequest``: a new verification mail."""
    require_email_config(engine)
    email = _check_email_param(email)
    rows = await _find_users(engine, {"email": email}, 1)
    quiet = engine.settings.email.success_on_invalid_email
    if not rows:
        if quiet:
            return
        raise ParseError(errors.EMAIL_NOT_FOUND, f"No user found with email {email}")
    if rows[0].get("emailVerified") is True:
        if quiet:
            return
        raise ParseError(errors.OTHER_CAUSE, f"Email {email} is already verified.")
    if engine.settings.email.verify_user_emails:
        await _reissue_verification(engine, rows[0])


async def resend_verification_email(engine: Engine, username: Any = None, token: Any = None) -> bool:
    """The expired-link page's form: a new mail for the user named by the
    old token (or username); False when there is no such unverified user."""
    where: dict[str, Any] = {}
    if isinstance(username, str) and username:
        where["username"] = username
    if isinstance(token, str) and token:
        where["_email_verify_token"] = token
    if not where or engine.mail is None or not engine.settings.email.verify_user_emails:
        return False
    rows = await _find_users(engine, where)
    if len(rows) != 1 or rows[0].get("emailVerified") is True:
        return False
    await _reissue_verification(engine, rows[0])
    return True


# ------------------------------------------------------------------ password reset

async def _issue_reset(engine: Engine, user: dict) -> None:
    policy = engine.settings.password_policy
    token = user.get("_perishable_token")
    expires = password_policy.as_datetime(user.get("_perishable_token_expires_at"))
    reusable = (policy is not None and policy.reset_token_reuse_if_valid and policy.reset_token_validity_duration
                and isinstance(token, str) and expires is not None and expires > types.now())
    if not reusable:
        token = new_token()
        update: dict[str, Any] = {"_perishable_token": token}
        if policy is not None and policy.reset_token_validity_duration:
            until = types.now() + timedelta(seconds=policy.reset_token_validity_duration)
            update["_perishable_token_expires_at"] = types.date_json(until)
        user = await _write_internal(engine, user["objectId"], update) or user
    engine.mail.send_password_reset_email(_link(engine, "request_password_reset", token), _public(user))


async def request_password_reset(engine: Engine, email: Any) -> None:
    """``POST /requestPasswordReset``: the reset mail for the user with that
    e-mail (or, without one, that username)."""
    require_email_config(engine)
    email = _check_email_param(email)
    rows = await _find_users(engine, {"$or": [{"email": email}, {"username": email, "email": {"$exists": False}}]}, 1)
    if not rows:
        policy = engine.settings.password_policy
        if policy is None or policy.reset_password_success_on_invalid_email:
            return
        raise ParseError(errors.OBJECT_NOT_FOUND, "A user with that email does not exist.")
    await _issue_reset(engine, rows[0])


async def send_password_reset_for_user(engine: Engine, user_id: str) -> None:
    """The reset mail for a known user (admin console)."""
    require_email_config(engine)
    rows = await _find_users(engine, {"objectId": user_id}, 1)
    if not rows:
        raise ParseError(errors.OBJECT_NOT_FOUND, "user not found")
    if not rows[0].get("email") and not rows[0].get("username"):
        raise ParseError(errors.EMAIL_MISSING, "you must provide an email")
    await _issue_reset(engine, rows[0])


async def check_reset_token(engine: Engine, token: Any) -> dict:
    """The user a reset link belongs to; AccountError when invalid or expired."""
    if not isinstance(token, str) or not token:
        raise AccountError(RESET_TOKEN_INVALID)
    rows = await _find_users(engine, {"_perishable_token": token})
    if len(rows) != 1:
        raise AccountError(RESET_TOKEN_INVALID)
    policy = engine.settings.password_policy
    if policy is not None and policy.reset_token_validity_duration \
            and _token_expired(rows[0].get("_perishable_token_expires_at")):
        raise AccountError(RESET_LINK_EXPIRED)
    return rows[0]


async def reset_password(engine: Engine, token: Any, new_password: Any) -> None:
    """The reset form: sets the new password (policy applies; sessions are
    revoked per ``revokeSessionOnPasswordReset``) and consumes the token."""
    user = await check_reset_token(engine, token)
    try:
        await engine.update("_User", user["objectId"], {"password": new_password}, Auth.as_master(),
                            where={"_perishable_token": token})
    except ParseError as exc:
        if exc.code == errors.OBJECT_NOT_FOUND:
            raise AccountError(RESET_TOKEN_INVALID) from None
        raise AccountError(exc.message) from None
    await _unlock(engine, user["objectId"])


async def confirm_reset_password(engine: Engine, username: Any, password: Any, token: Any) -> None:
    """GraphQL ``confirmResetPassword``."""
    if not username:
        raise ParseError(errors.USERNAME_MISSING, "you must provide a username")
    if not password:
        raise ParseError(errors.PASSWORD_MISSING, "you must provide a password")
    if not token:
        raise ParseError(errors.OTHER_CAUSE, "you must provide a token")
    try:
        await reset_password(engine, token, password)
    except AccountError as exc:
        raise ParseError(errors.OTHER_CAUSE, exc.message) from None


async def set_password(engine: Engine, user_id: str, new_password: str) -> None:
    """A master-key password change (admin console); ParseError as a
    ``PUT /users/<id>`` with the master key would raise."""
    await engine.update("_User", user_id, {"password": new_password}, Auth.as_master())
    await _unlock(engine, user_id)


async def _unlock(engine: Engine, user_id: str) -> None:
    fields = password_policy.unlock_fields(engine)
    if fields:
        await _write_internal(engine, user_id, fields)
