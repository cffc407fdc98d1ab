"""Class-level permissions, object ACLs and protected fields.

Parse Server's rules, in one place: the read and write pipelines ask here
and turn the answers into database constraints, so permission filtering
always happens in the query, never by fetching and dropping rows."""

from __future__ import annotations

from typing import Any

from bapp import errors
from bapp.core import types
from bapp.core.auth import Auth
from bapp.core.schema import ClassSchema
from bapp.errors import ParseError

READ_OPS = ("find", "get", "count")
NOTHING = {"objectId": {"$in": []}}  # a constraint no object satisfies


def check_class_access(class_name: str, auth: Auth, op: str) -> None:
    """System classes clients may not touch through the generic routes."""
    if auth.read_only and op in ("create", "update", "delete", "addField"):
        raise ParseError(errors.OPERATION_FORBIDDEN, f"read-only masterKey isn't allowed to perform the {op} operation.")
    if class_name.startswith("_Join:"):
        # Relation tables are written only through relation operations; a
        # direct write would let anyone edit role membership.
        raise ParseError(errors.OPERATION_FORBIDDEN, f"Clients aren't allowed to perform the {op} operation on the {class_name} collection.")
    if auth.master:
        return
    if class_name in types.MASTER_ONLY_CLASSES:
        raise ParseError(
            errors.OPERATION_FORBIDDEN,
            f"Clients aren't allowed to perform the {op} operation on the {class_name} collection.",
        )
    if class_name == "_Installation" and op in ("find", "delete"):
        raise ParseError(
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
        raise ParseError(errors.OBJECT_NOT_FOUND, "Permission denied, user needs to be authenticated.")
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
            ors.append({name: {"$all": [ptr]}} if kind == "Array" else {name: ptr})
        return ors[0] if len(ors) == 1 else {"$or": ors}
    raise _denied(op, schema.class_name)


def _denied(op: str, class_name: str) -> ParseError:
    return ParseError(errors.OPERATION_FORBIDDEN, f"Permission denied for action {op} on class {class_name}.")


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
