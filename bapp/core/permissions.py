"""Class-level permissions, object ACLs and protected fields.

Parse Server's rules, in one place: the read and write pipelines ask here
and turn the answers into database constraints, so permission filtering
always happens in the query, never by fetching and dropping rows."""

from __future__ import annotations

import re
from typing import Any

from bapp import errors
from bapp.core.auth import Auth
from bapp.core.schema import CLP_KEYS, ClassSchema
from bapp.errors import ParseError
from bapp.model import types

READ_OPS = ("find", "get", "count")
NOTHING = {"objectId": {"$in": []}}  # a constraint no object satisfies


def read_operation(op: str, where: dict, count: bool, limit: int | None) -> str:
    """The CLP operation of a read, as Parse Server's DatabaseController picks
    it: a query whose where is exactly ``{objectId: "<id>"}`` is a ``get``
    (so the SDK's ``query.get(id)`` needs the get permission), and a
    count-only query is a ``count``."""
    if count and limit == 0:
        return "count"
    if op == "find" and list(where) == ["objectId"] and isinstance(where["objectId"], str):
        return "get"
    return op


def check_class_access(class_name: str, auth: Auth, op: str) -> None:
    """System classes clients may not touch through the generic routes."""
    if auth.read_only and op in ("create", "update", "delete", "addField"):
        raise errors.denied(errors.OPERATION_FORBIDDEN, f"read-only masterKey isn't allowed to perform the {op} operation.")
    if class_name.startswith("_Join:"):
        # Relation tables are written only through relation operations; a
        # direct write would let anyone edit role membership.
        raise errors.denied(errors.OPERATION_FORBIDDEN, f"Clients aren't allowed to perform the {op} operation on the {class_name} collection.")
    if auth.master:
        return
    if class_name in types.MASTER_ONLY_CLASSES:
        raise errors.denied(
            errors.OPERATION_FORBIDDEN,
            f"Clients aren't allowed to perform the {op} operation on the {class_name} collection.",
        )
    if class_name == "_Installation" and op in ("find", "delete"):
        raise errors.denied(
            errors.OPERATION_FORBIDDEN,
            f"Clients aren't allowed to perform the {op} operation on the installation collection.",
        )


def clp_constraint(schema: ClassSchema, op: str, auth: Auth, group: list[str]) -> dict | None:
    """Checks the CLP for ``op``; returns an extra where-constraint for
    pointer permissions, None when nothing needs adding. Raises on denial."""
    if auth.master:
        return None
    perms = schema.permissions
    allowed = perms.get(op) or {}
    if any(allowed.get(who) is True for who in group):
        return None
    if allowed.get("requiresAuthentication") is True:
        if auth.user:
            return None
        raise errors.denied(errors.OBJECT_NOT_FOUND, "Permission denied, user needs to be authenticated.")
    if op == "create":
        raise _denied(op, schema.class_name)
    pointer_fields = list(allowed.get("pointerFields") or [])
    if op in READ_OPS:
        pointer_fields += list(perms.get("readUserFields") or [])
    elif op in ("update", "delete"):
        pointer_fields += list(perms.get("writeUserFields") or [])
    if op == "addField" and pointer_fields:
        return None  # only reachable on update, where the update CLP applied pointer rules
    if pointer_fields:
        if not auth.user:
            if op == "get":
                raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")
            return dict(NOTHING)
        ptr = auth.user_pointer
        ors = []
        for name in dict.fromkeys(pointer_fields):
            kind = schema.fields.get(name, {}).get("type")
            # A pointer (or an Object holding one) equals the caller; an
            # Array field must contain the caller's pointer.
            ors.append({name: {"$all": [ptr]}} if kind == "Array" else {name: ptr})
        return ors[0] if len(ors) == 1 else {"$or": ors}
    raise _denied(op, schema.class_name)


def _denied(op: str, class_name: str) -> ParseError:
    return errors.denied(errors.OPERATION_FORBIDDEN, f"Permission denied for action {op} on class {class_name}.")


def read_acl_constraint(group: list[str]) -> dict:
    return {"_rperm": {"$in": [None, *group]}}


def write_acl_constraint(group: list[str]) -> dict:
    return {"_wperm": {"$in": [None, *group]}}


def can_write(obj: dict, group: list[str]) -> bool:
    acl = obj.get("ACL")
    if acl is None:
        return True
    return any(isinstance(acl.get(who), dict) and acl[who].get("write") is True for who in group)


def can_read(obj: dict, group: list[str]) -> bool:
    acl = obj.get("ACL")
    if acl is None:
        return True
    return any(isinstance(acl.get(who), dict) and acl[who].get("read") is True for who in group)


def and_where(where: dict, extra: dict | None) -> dict:
    if not extra:
        return where
    if not where:
        return dict(extra)
    return {"$and": [where, extra]}


# ------------------------------------------------------------ protected fields

def protected_sets(schema: ClassSchema, server_option: dict, auth: Auth, group: list[str]) -> tuple[dict, list[str]]:
    """(all protectedFields entries, the keys of the entries that apply to
    this caller without looking at an object)."""
    merged: dict[str, list[str]] = {}
    for source in (server_option.get(schema.class_name) or {}, schema.permissions.get("protectedFields") or {}):
        for who, names in source.items():
            merged.setdefault(who, [])
            merged[who] = list(dict.fromkeys(merged[who] + list(names or [])))
    applicable = ["*"]
    if auth.user:
        applicable.append("authenticated")
    applicable += [g for g in group if g != "*" and g in merged]
    return merged, applicable


def hidden_fields(merged: dict, applicable: list[str], obj: dict | None, user_id: str | None) -> set[str]:
    """A field is hidden only when every applicable entry lists it."""
    keys = [k for k in applicable if k in merged]
    if obj is not None and user_id:
        for who in merged:
            if who.startswith("userField:") and _points_to(obj.get(who[len("userField:"):]), user_id):
                keys.append(who)
    if not keys:
        return set()
    hidden = set(merged[keys[0]])
    for key in keys[1:]:
        hidden &= set(merged[key])
    return hidden


def _points_to(value: Any, user_id: str) -> bool:
    if types.is_pointer(value):
        return value["objectId"] == user_id
    if isinstance(value, list):
        return any(_points_to(v, user_id) for v in value)
    return False


# ------------------------------------------------------------ CLP validation

_PERMISSION_KEY = re.compile(r"^(\*|requiresAuthentication|pointerFields|role:.*)$")
_PROTECTED_KEY = re.compile(r"^(\*|authenticated|userField:.*|role:.*)$")


def validate_clp(clp: Any, fields: dict[str, dict], object_id_re: str = r"^[a-zA-Z0-9]{10}$") -> dict:
    """Checks a ``classLevelPermissions`` object the way Parse Server's schema
    controller does (every failure is 107 with its message); returns it."""
    if clp is None:
        return clp
    if not isinstance(clp, dict):
        raise ParseError(errors.INVALID_JSON, f"'{clp}' is not a valid value for class level permissions")
    user_id = re.compile(object_id_re)
    for op, value in clp.items():
        if op not in CLP_KEYS:
            raise ParseError(errors.INVALID_JSON, f"{op} is not a valid operation for class level permissions")
        if op in ("readUserFields", "writeUserFields"):
            if not isinstance(value, list):
                raise ParseError(errors.INVALID_JSON, f"'{types.js_text(value)}' is not a valid value for class level permissions {op} - must be an array")
            for name in value:
                _check_pointer_field(name, fields, op)
            continue
        if not isinstance(value, dict):
            raise ParseError(errors.INVALID_JSON, f"'{types.js_text(value)}' is not a valid value for class level permissions {op} - must be an object")
        if op == "protectedFields":
            _validate_protected(value, fields, user_id)
            continue
        for who, permit in value.items():
            if not isinstance(who, str) or not (_PERMISSION_KEY.match(who) or user_id.match(who)):
                raise ParseError(errors.INVALID_JSON, f"'{who}' is not a valid key for class level permissions")
            if who == "pointerFields":
                if not isinstance(permit, list):
                    raise ParseError(errors.INVALID_JSON, f"'{types.js_text(permit)}' is not a valid value for {op}[{who}] - expected an array.")
                for name in permit:
                    _check_pointer_field(name, fields, op)
            elif permit is not True:
                raise ParseError(errors.INVALID_JSON, f"'{types.js_text(permit)}' is not a valid value for class level permissions {op}:{who}:{types.js_text(permit)}")
    return clp


def _validate_protected(value: dict, fields: dict[str, dict], user_id: re.Pattern) -> None:
    for who, names in value.items():
        if not isinstance(who, str) or not (_PROTECTED_KEY.match(who) or user_id.match(who)):
            raise ParseError(errors.INVALID_JSON, f"'{who}' is not a valid key for class level permissions")
        if not isinstance(names, list):
            raise ParseError(errors.INVALID_JSON, f"'{types.js_text(names)}' is not a valid value for protectedFields[{who}] - expected an array.")
        for name in names:
            if name in types.DEFAULT_FIELDS:
                raise ParseError(errors.INVALID_JSON, f"Default field '{name}' can not be protected")
            if not isinstance(name, str) or name not in fields:
                raise ParseError(errors.INVALID_JSON, f"Field '{name}' in protectedFields:{who} does not exist")


def _check_pointer_field(name: Any, fields: dict[str, dict], op: str) -> None:
    spec = fields.get(name) if isinstance(name, str) else None
    if not spec or not ((spec.get("type") == "Pointer" and spec.get("targetClass") == "_User") or spec.get("type") == "Array"):
        raise ParseError(errors.INVALID_JSON, f"'{name}' is not a valid column for class level pointer permissions {op}")


