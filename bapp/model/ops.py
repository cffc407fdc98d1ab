"""``__op`` operations: validation, and local application for the views
that hooks see. The database applies them atomically; these local versions
only build ``req.object`` and the values of a new object."""

from __future__ import annotations

import copy
from typing import Any

from bapp import errors
from bapp.errors import ParseError
from bapp.model import types

ARRAY_OPS = ("Add", "AddUnique", "Remove")
RELATION_OPS = ("AddRelation", "RemoveRelation")
DELETE = object()  # marker: the key is removed


def is_op(value: Any) -> bool:
    return isinstance(value, dict) and "__op" in value


def normalize_element(value: Any) -> Any:
    """Pointers inside arrays become exactly {__type, className, objectId},
    or $addToSet / $pullAll would not match stored elements."""
    if types.is_pointer(value):
        return types.pointer(value["className"], value["objectId"])
    return value


def validate_op(key: str, value: dict) -> dict:
    op = value.get("__op")
    if op == "Increment":
        amount = value.get("amount")
        if not isinstance(amount, (int, float)) or isinstance(amount, bool):
            raise ParseError(errors.INVALID_JSON, "Increment amount must be a number")
        return {"__op": op, "amount": amount}
    if op in ARRAY_OPS:
        objects = value.get("objects")
        if not isinstance(objects, list):
            raise ParseError(errors.INVALID_JSON, f"{op} objects must be an array")
        types.check_keys(objects, top=False)
        return {"__op": op, "objects": [normalize_element(o) for o in objects]}
    if op == "Delete":
        return {"__op": "Delete"}
    if op in RELATION_OPS:
        objects = value.get("objects")
        if not isinstance(objects, list) or not all(types.is_pointer(o) for o in objects):
            raise ParseError(errors.INVALID_JSON, f"{op} objects must be an array of pointers")
        classes = {o["className"] for o in objects}
        if len(classes) > 1:
            raise ParseError(errors.INVALID_JSON, "All relation objects must be of the same class")
        return {"__op": op, "objects": [types.pointer(o["className"], o["objectId"]) for o in objects]}
    if op == "Batch":
        subs = value.get("ops")
        if not isinstance(subs, list):
            raise ParseError(errors.INVALID_JSON, "Batch ops must be an array")
        checked = [validate_op(key, s) if isinstance(s, dict) else None for s in subs]
        if any(c is None or c["__op"] not in RELATION_OPS for c in checked):
            raise ParseError(errors.INVALID_JSON, "Batch ops must be relation operations")
        return {"__op": "Batch", "ops": checked}
    raise ParseError(errors.COMMAND_UNAVAILABLE, f"The {op} operator is not supported yet.")


def apply(current: Any, op: dict) -> Any:
    kind = op["__op"]
    if kind == "Increment":
        base = current if isinstance(current, (int, float)) and not isinstance(current, bool) else 0
        return base + op["amount"]
    if kind == "Add":
        return list(current if isinstance(current, list) else []) + copy.deepcopy(op["objects"])
    if kind == "AddUnique":
        out = list(current if isinstance(current, list) else [])
        for item in op["objects"]:
            if item not in out:
                out.append(copy.deepcopy(item))
        return out
    if kind == "Remove":
        return [x for x in (current if isinstance(current, list) else []) if x not in op["objects"]]
    if kind == "Delete":
        return DELETE
    return current  # relation ops do not change the stored document


def apply_all(base: dict, changes: dict) -> dict:
    """The object after ``changes`` (sets and ops, dotted keys included)."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        parts = key.split(".")
        holder = out
        for part in parts[:-1]:
            nxt = holder.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                holder[part] = nxt
            holder = nxt
        leaf = parts[-1]
        if is_op(value):
            if value["__op"] in RELATION_OPS or value["__op"] == "Batch":
                continue
            result = apply(holder.get(leaf), value)
        else:
            result = copy.deepcopy(value)
        if result is DELETE:
            holder.pop(leaf, None)
        else:
            holder[leaf] = result
    return out


def relation_ops(value: dict) -> list[dict]:
    if value["__op"] == "Batch":
        return value["ops"]
    if value["__op"] in RELATION_OPS:
        return [value]
    return []
