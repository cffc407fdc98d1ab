"""Parse Server's ``passwordPolicy`` and ``accountLockout``.

Policy (checked on sign-up, on a password change and on a reset, 142 with
Parse Server's messages): ``validatorPattern`` and the cloud-code
``validatorCallback`` (``@cloud.password_validator``), ``validationError``,
``doNotAllowUsername``, ``maxPasswordHistory`` (the last N passwords, kept
as bcrypt hashes in ``_password_history``), ``maxPasswordAge`` in days
(``_password_changed_at``; an expired password refuses login with 101).

Lockout: ``threshold`` failed logins lock the account for ``duration``
minutes (``_failed_login_count``, ``_account_lockout_expires_at``). The
counter is incremented by one atomic update and the lock is set by a
conditional update on the counter, so concurrent wrong guesses are all
counted (unlike a read-then-write, which Parse Server once had)."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.errors import ParseError
from bapp.model import types

if TYPE_CHECKING:
    from bapp.core.engine import Engine

POLICY_ERROR = "Password does not meet the Password Policy requirements."
CONTAINS_USERNAME = "Password cannot contain your username."
PASSWORD_EXPIRED = "Your password has expired. Please reset your password."


def as_datetime(value: Any) -> datetime | None:
    """A stored internal date (datetime, REST Date or ISO string) in UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, dict) and value.get("__type") == "Date":
        value = value.get("iso")
    if isinstance(value, str):
        try:
            return types.parse_iso(value)
        except ParseError:
            return None
    return None


# ------------------------------------------------------------------ policy

async def _callback_accepts(engine: Engine, password: str) -> bool:
    callback = getattr(engine.triggers, "password_validator", None)
    if callback is None:
        return True
    if inspect.iscoroutinefunction(callback):
        result = await callback(password)
    else:
        result = await asyncio.to_thread(callback, password)
        if inspect.isawaitable(result):
            result = await result
    return bool(result)


async def check_password(engine: Engine, password: str, username: str | None) -> None:
    """Strength and username rules of a new password (142)."""
    policy = engine.settings.password_policy
    pattern = policy.pattern() if policy is not None else None
    if (pattern is not None and not pattern.search(password)) or not await _callback_accepts(engine, password):
        message = policy.validation_error if policy is not None else None
        raise ParseError(errors.VALIDATION_ERROR, message or POLICY_ERROR)
    if policy is not None and policy.do_not_allow_username and isinstance(username, str) and username \
            and username in password:
        raise ParseError(errors.VALIDATION_ERROR, CONTAINS_USERNAME)


async def check_history(engine: Engine, password: str, original: dict) -> list[str] | None:
    """Refuses a password among the user's last ``maxPasswordHistory`` ones
    (142) and returns the new ``_password_history`` (None: not kept)."""
    from bapp.core.users import verify_password

    policy = engine.settings.password_policy
    if policy is None or not policy.max_password_history:
        return None
    size = policy.max_password_history
    history = [h for h in (original.get("_password_history") or []) if isinstance(h, str)]
    current = original.get("_hashed_password")
    # The current password plus the newest size-1 entries of the history.
    candidates = history[-(size - 1):] if size > 1 else []
    if isinstance(current, str):
        candidates = [*candidates, current]
    for old in candidates:
        if await verify_password(password, old):
            raise ParseError(errors.VALIDATION_ERROR,
                             f"New password should not be the same as last {size} passwords.")
    # The history keeps size-1 hashes: the newest size-2 of it plus the current one.
    kept = history[-(size - 2):] if size > 2 else []
    return [*kept, current] if isinstance(current, str) else kept


def check_password_age(engine: Engine, user: dict) -> bool:
    """Raises 101 on an expired password; True when the user has no
    ``_password_changed_at`` yet (the caller then starts the clock)."""
    policy = engine.settings.password_policy
    if policy is None or not policy.max_password_age:
        return False
    changed = as_datetime(user.get("_password_changed_at"))
    if changed is None:
        return True
    if changed + timedelta(days=policy.max_password_age) < types.now():
        raise ParseError(errors.OBJECT_NOT_FOUND, PASSWORD_EXPIRED)
    return False


def password_changed_fields(engine: Engine) -> dict:
    """Internal fields written with every new password."""
    policy = engine.settings.password_policy
    if policy is not None and policy.max_password_age:
        return {"_password_changed_at": types.date_json(types.now())}
    return {}


# ------------------------------------------------------------------ lockout

def _locked_error(engine: Engine) -> ParseError:
    duration = engine.settings.account_lockout.duration
    shown = int(duration) if float(duration).is_integer() else duration
    return ParseError(errors.OBJECT_NOT_FOUND, "Your account is locked due to multiple failed login attempts. "
                                               f"Please try again after {shown} minute(s)")


async def _user_row(engine: Engine, user_id: str) -> dict | None:
    from bapp.storage.base import FindOptions

    rows = await engine.storage.find("_User", engine.schemas.fields_of("_User"), {"objectId": user_id},
                                     FindOptions(limit=1))
    return rows[0] if rows else None


async def record_login_attempt(engine: Engine, user: dict, success: bool) -> None:
    """Parse Server's AccountLockout.handleLoginAttempt: a locked account is
    refused whatever the password; otherwise a success resets the counter
    and a failure counts (and locks at the threshold)."""
    lockout = engine.settings.account_lockout
    if lockout is None:
        return
    fields = engine.schemas.fields_of("_User")
    current = await _user_row(engine, user["objectId"]) or user
    expires = as_datetime(current.get("_account_lockout_expires_at"))
    count = current.get("_failed_login_count") or 0
    if expires is not None and expires > types.now() and count >= lockout.threshold:
        raise _locked_error(engine)
    where = {"objectId": user["objectId"]}
    if success:
        await engine.storage.update("_User", fields, where, {"_failed_login_count": 0})
        return
    counted = await engine.storage.update("_User", fields, where,
                                          {"_failed_login_count": {"__op": "Increment", "amount": 1}})
    if counted and (counted.get("_failed_login_count") or 0) >= lockout.threshold:
        until = types.now() + timedelta(minutes=lockout.duration)
        await engine.storage.update("_User", fields,
                                    {**where, "_failed_login_count": {"$gte": lockout.threshold}},
                                    {"_account_lockout_expires_at": types.date_json(until)})


def unlock_fields(engine: Engine) -> dict:
    """What a password reset clears when ``unlockOnPasswordReset`` is on."""
    lockout = engine.settings.account_lockout
    if lockout is None or not lockout.unlock_on_password_reset:
        return {}
    return {"_failed_login_count": {"__op": "Delete"}, "_account_lockout_expires_at": {"__op": "Delete"}}
