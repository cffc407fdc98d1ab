"""Value and reference checks shared by the hooks of this app.

Error codes: 142 (VALIDATION_ERROR) for a bad value or a dangling reference,
119 (OPERATION_FORBIDDEN) for acting for someone else, 111 (INCORRECT_TYPE)
for a value of the wrong type, 137 (DUPLICATE_VALUE) for a second record
where one is allowed."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from bapp import cloud

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")


def fail(message: str, code: int = cloud.Error.VALIDATION_ERROR) -> cloud.Error:
    return cloud.Error(code, message)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def non_negative(obj: dict, field: str, *, whole: bool = False) -> None:
    """A number in ``obj[field]`` is non-negative (and whole if ``whole``).
    A missing value or one of another type is left to the schema checks
    that follow the hook (142 "<field> is required", 111 schema mismatch)."""
    value = obj.get(field)
    if not is_number(value):
        return
    if value < 0 or (whole and value != int(value)):
        kind = "whole number" if whole else "number"
        raise fail(f"{field} must be a non-negative {kind}")


def one_of(obj: dict, field: str, allowed: tuple[str, ...]) -> None:
    value = obj.get(field)
    if value is not None and value not in allowed:
        raise fail(f"{field} must be one of {', '.join(allowed)}")


def pointer_id(value: Any, field: str, class_name: str) -> str:
    """The objectId of a pointer to ``class_name`` (111 for anything else)."""
    if (isinstance(value, dict) and value.get("__type") in ("Pointer", "Object")
            and value.get("className") == class_name and isinstance(value.get("objectId"), str)):
        return value["objectId"]
    raise fail(f"{field} must be a pointer to {class_name}", cloud.Error.INCORRECT_TYPE)


async def existing(value: Any, field: str, class_name: str, *, required: bool = True) -> dict | None:
    """The object a pointer field refers to (read with the master key); 142
    when the field is missing or points at nothing."""
    if value is None:
        if required:
            raise fail(f"{field} is required")
        return None
    object_id = pointer_id(value, field, class_name)
    found = await cloud.first(class_name, {"objectId": object_id}, master=True)
    if found is None:
        raise fail(f"{field} points to a missing {class_name.lstrip('_')}: {object_id}")
    return found


def changed(req: Any, field: str) -> bool:
    """Whether an update changes ``field``."""
    return req.original is not None and req.object.get(field) != req.original.get(field)


async def has_role(user: dict | None, role: str) -> bool:
    """Whether ``user`` is a direct member of the role ``role``."""
    if not user:
        return False
    found = await cloud.first("_Role", {"name": role, "users": cloud.pointer("_User", user["objectId"])},
                              master=True)
    return found is not None


def now() -> dict:
    """The current time as a Parse Date (what a hook writes into an object)."""
    moment = datetime.now(UTC)
    return {"__type": "Date", "iso": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email(obj: dict, field: str = "email") -> None:
    """A string email must look like one (125, Parse's message for users)."""
    value = obj.get(field)
    if isinstance(value, str) and not EMAIL_RE.match(value):
        raise fail("Email address format is invalid.", cloud.Error.INVALID_EMAIL_ADDRESS)


def owner_acl(user_id: str) -> dict:
    """The owner reads and writes; admins read and write."""
    return {user_id: {"read": True, "write": True}, "role:admin": {"read": True, "write": True}}


async def owner(req: Any, what: str) -> str:
    """The ``user`` of a new object: the caller unless an admin (or the
    master key) acts for someone else; 119 for a client acting for another."""
    obj = req.object
    caller = req.user["objectId"] if req.user else None
    value = obj.get("user")
    if value is None:
        if caller is None:
            raise fail("user is required")
        obj["user"] = cloud.pointer("_User", caller)
        return caller
    user_id = pointer_id(value, "user", "_User")
    if user_id != caller and not req.master and not await has_role(req.user, "admin"):
        raise fail(f"{what} can only be created for yourself", cloud.Error.OPERATION_FORBIDDEN)
    await existing(value, "user", "_User")
    return user_id


def unchanged(req: Any, *fields: str) -> None:
    """On update, ``fields`` keep their value (142 otherwise)."""
    for field in fields:
        if changed(req, field):
            raise fail(f"{field} cannot be changed")
