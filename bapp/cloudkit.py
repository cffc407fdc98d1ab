"""Helpers for cloud-code authors: field validation, role checks, an
admin-only role-assignment function, paging and per-key locks.

The bundled inventory apps use them (``from bapp import cloudkit``); they are
plain functions over ``bapp.cloud``, so any app can.

Error codes: a bad or missing value is 142 (VALIDATION_ERROR, as Parse's
cloud validators answer); something the caller may not do or set is 119
(OPERATION_FORBIDDEN, as Parse answers for server-managed fields)."""

from __future__ import annotations

import asyncio
import math
import re
import weakref
from datetime import UTC, datetime
from typing import Any

from bapp import cloud

INVALID = cloud.Error.VALIDATION_ERROR
FORBIDDEN = cloud.Error.OPERATION_FORBIDDEN
PAGE = 1000

# Deliberately simple: one @, no spaces, a dot in the domain.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def invalid(message: str) -> cloud.Error:
    return cloud.Error(INVALID, message)


def forbidden(message: str) -> cloud.Error:
    return cloud.Error(FORBIDDEN, message)


# ------------------------------------------------------------------ values

def text(obj: dict, key: str, *, required: bool = False) -> str | None:
    """A string field; required ones must not be blank."""
    value = obj.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise invalid(f"{key} must be a non-empty string")
    return value


def number(obj: dict, key: str, *, required: bool = False, positive: bool = False) -> float | None:
    """A non-negative (or, with ``positive``, strictly positive) number."""
    value = obj.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    kind = "a positive" if positive else "a non-negative"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"{key} must be {kind} number")
    if value < 0 or (positive and value == 0):
        raise invalid(f"{key} must be {kind} number")
    return value


def choice(obj: dict, key: str, allowed: tuple[str, ...], *, required: bool = False) -> str | None:
    """A value from a fixed set."""
    value = obj.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    if value not in allowed:
        raise invalid(f"{key} must be one of: {', '.join(allowed)}")
    return value


def email(obj: dict, key: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not EMAIL_RE.match(value):
        raise invalid(f"{key} must be a valid email address")
    return value


async def reference(obj: dict, key: str, class_name: str, *, required: bool = False) -> dict | None:
    """A pointer field that must name an existing object; returns that object."""
    value = obj.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    object_id = pointer_id(value, class_name)
    if object_id is None:
        raise invalid(f"{key} must be a pointer to {class_name}")
    found = await cloud.first(class_name, {"objectId": object_id}, master=True)
    if found is None:
        raise invalid(f"{key} must point to an existing {class_name}")
    return found


def pointer_id(value: Any, class_name: str) -> str | None:
    """The objectId of a pointer (or saved object) of ``class_name``."""
    if not isinstance(value, dict) or value.get("className") != class_name:
        return None
    if value.get("__type") not in ("Pointer", "Object", None):
        return None
    object_id = value.get("objectId")
    return object_id if isinstance(object_id, str) and object_id else None


def now() -> dict:
    """The current time as a Parse Date (for values a hook sets)."""
    moment = datetime.now(UTC)
    return {"__type": "Date", "iso": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}


# ------------------------------------------------------------------ writes

def changed(req: Any, key: str) -> bool:
    """Whether this save changes ``key`` (always true for a set key on create)."""
    before = (req.original or {}).get(key)
    return req.object.get(key) != before


def keep(req: Any, *keys: str) -> None:
    """Refuses a change to fields that are fixed once the object exists."""
    if req.original is None:
        return
    for key in keys:
        if changed(req, key):
            raise forbidden(f"{key} cannot be changed")


def server_managed(req: Any, *keys: str) -> None:
    """Refuses a client's write to fields only cloud code maintains."""
    for key in keys:
        if req.original is None and req.object.get(key) is None:
            continue
        if changed(req, key):
            raise forbidden(f"{key} is maintained by the server")


def guard_decrease(req: Any, key: str) -> None:
    """Makes a decrease of ``key`` conditional on the stored value still
    covering it when the write happens, so concurrent client decrements
    (Increment ops) can never take it below zero; a miss answers 101."""
    if req.original is None:
        return
    before, after = req.original.get(key), req.object.get(key)
    if isinstance(before, (int, float)) and isinstance(after, (int, float)) and after < before:
        req.condition = {key: {"$gte": before - after}}


# ------------------------------------------------------------------ roles

async def roles_of(user: dict | None) -> set[str]:
    """Names of the roles the user holds, inherited ones included (role P's
    ``roles`` relation lists the roles whose members also hold P)."""
    if not user or not user.get("objectId"):
        return set()
    held = await cloud.find("_Role", {"users": cloud.pointer("_User", user["objectId"])}, master=True,
                            limit=PAGE)
    names = {role["name"] for role in held}
    frontier = [role["objectId"] for role in held]
    seen = set(frontier)
    while frontier:
        parents = await cloud.find("_Role", {"roles": {"$in": [cloud.pointer("_Role", i) for i in frontier]}},
                                   master=True, limit=PAGE)
        frontier = [role["objectId"] for role in parents if role["objectId"] not in seen]
        seen.update(frontier)
        names.update(role["name"] for role in parents)
    return names


async def ensure_role(name: str, acl: dict) -> dict:
    """The role named ``name``, created (with ``acl``) when missing."""
    found = await cloud.first("_Role", {"name": name}, master=True)
    if found is not None:
        return found
    try:
        return await cloud.create("_Role", {"name": name, "ACL": acl}, master=True)
    except cloud.Error as exc:
        if exc.code != cloud.Error.DUPLICATE_VALUE:
            raise
        # Created meanwhile by a concurrent save.
        return await cloud.first("_Role", {"name": name}, master=True)


def role_function(name: str, assignable: tuple[str, ...]) -> None:
    """Registers cloud function ``name``: an admin adds a user (``userId``
    or ``username``) to one of the ``assignable`` roles, or with
    ``member: false`` removes them. Admins themselves are made from the
    command line (``--admin-username`` or ``bapp create-admin``)."""
    spec = {"require_user": True, "require_any_user_roles": ["admin"],
            "fields": {"role": {"type": str, "required": True, "options": list(assignable)},
                       "member": {"type": bool}}}

    @cloud.define(name, validator=spec)
    async def assign(req) -> dict:
        user = await _named_user(req.params)
        role = await ensure_role(req.params["role"], {})
        op = "AddRelation" if req.params.get("member", True) else "RemoveRelation"
        await cloud.update("_Role", role["objectId"], {"users": {"__op": op, "objects": [cloud.pointer(user)]}},
                           master=True)
        return {"userId": user["objectId"], "role": role["name"], "member": op == "AddRelation"}


async def _named_user(params: dict) -> dict:
    for key, field in (("userId", "objectId"), ("username", "username")):
        if isinstance(params.get(key), str):
            found = await cloud.first("_User", {field: params[key]}, master=True)
            if found is None:
                raise invalid(f"{key} must name an existing user")
            return found
    raise invalid("userId or username is required")


# ------------------------------------------------------------------ reading

async def find_all(class_name: str, where: dict, **kwargs: Any) -> list[dict]:
    """Every matching object (master), page by page."""
    rows: list[dict] = []
    while True:
        page = await cloud.find(class_name, where, limit=PAGE, skip=len(rows), order="createdAt", master=True,
                                **kwargs)
        rows.extend(page)
        if len(page) < PAGE:
            return rows


_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def lock(key: str) -> asyncio.Lock:
    """An in-process lock per key, for work that reads several objects and
    writes a summary (totals, find-or-create). Atomicity of stock itself
    never depends on it: that is the database's conditional update."""
    found = _locks.get(key)
    if found is None:
        found = _locks[key] = asyncio.Lock()
    return found
