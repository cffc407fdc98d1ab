"""Mutation inputs to Parse REST bodies: ACL inputs, pointer ``link`` /
``createAndLink``, relation ``add`` / ``remove`` / ``createAndAdd``, geo
values, files (an existing file or an upload) and ``null`` as Delete."""

from __future__ import annotations

from typing import Any

from bapp import errors
from bapp.errors import ParseError
from bapp.graphql import files
from bapp.graphql.context import Context
from bapp.graphql.names import object_id_of
from bapp.graphql.sdl import GraphQLClass
from bapp.model import types

DELETE = {"__op": "Delete"}


def acl(value: dict) -> dict:
    out: dict[str, dict] = {}
    public = value.get("public")
    if public:
        out["*"] = {"read": public["read"], "write": public["write"]}
    for rule in value.get("users") or []:
        out[object_id_of(rule["userId"], "_User")] = {"read": rule["read"], "write": rule["write"]}
    for rule in value.get("roles") or []:
        out[f"role:{rule['roleName']}"] = {"read": rule["read"], "write": rule["write"]}
    return out


async def to_parse(ctx: Context, c: GraphQLClass, fields: dict | None) -> dict:
    """A ``Create<Class>FieldsInput`` / ``Update<Class>FieldsInput`` value as
    a REST body; nested ``createAndLink``/``createAndAdd`` objects are
    created first, through the engine, with the caller's rights."""
    out: dict[str, Any] = {}
    for name, value in (fields or {}).items():
        if name == "ACL":
            out["ACL"] = acl(value) if value is not None else DELETE
            continue
        spec = c.fields.get(name) or {}
        kind = spec.get("type")
        if kind == "Relation":
            out[name] = await _relation(ctx, name, spec, value)
        elif value is None:
            out[name] = dict(DELETE)
        elif kind == "Pointer":
            out[name] = await _pointer(ctx, name, spec, value)
        elif kind == "GeoPoint":
            out[name] = {**value, "__type": "GeoPoint"}
        elif kind == "Polygon":
            out[name] = {"__type": "Polygon", "coordinates": [[p["latitude"], p["longitude"]] for p in value]}
        elif kind == "File":
            out[name] = await _file(ctx, value)
        else:
            out[name] = value
    return out


async def _create_nested(ctx: Context, class_name: str, fields: dict | None) -> str:
    target = ctx.classes.get(class_name)
    body = await to_parse(ctx, target, fields) if target else dict(fields or {})
    created = await ctx.engine.create(class_name, body, ctx.auth)
    return created["objectId"]


async def _pointer(ctx: Context, name: str, spec: dict, value: Any) -> dict:
    target = spec.get("targetClass") or ""
    if not isinstance(value, dict) or len([k for k, v in value.items() if v is not None]) != 1:
        raise ParseError(errors.INVALID_POINTER,
                         f"You need to provide link OR createLink on the pointer mutation of field {name}")
    if value.get("createAndLink") is not None:
        return types.pointer(target, await _create_nested(ctx, target, value["createAndLink"]))
    return types.pointer(target, object_id_of(value["link"], target))


async def _relation(ctx: Context, name: str, spec: dict, value: Any) -> dict:
    target = spec.get("targetClass") or ""
    if not isinstance(value, dict) or not any(v is not None for v in value.values()):
        raise ParseError(errors.INVALID_POINTER,
                         f"You need to provide at least one operation on the relation mutation of field {name}")
    ops: list[dict] = []
    created = [await _create_nested(ctx, target, fields) for fields in value.get("createAndAdd") or []]
    added = [object_id_of(i, target) for i in value.get("add") or []] + created
    if added:
        ops.append({"__op": "AddRelation", "objects": [types.pointer(target, i) for i in added]})
    if value.get("remove"):
        ops.append({"__op": "RemoveRelation",
                    "objects": [types.pointer(target, object_id_of(i, target)) for i in value["remove"]]})
    return {"__op": "Batch", "ops": ops}


async def _file(ctx: Context, value: dict) -> dict:
    if value.get("upload") is not None:
        info = await files.store(ctx, value["upload"])
        return {"__type": "File", **info}
    existing = value.get("file")
    if isinstance(existing, dict) and existing.get("name"):
        return {k: v for k, v in {"__type": "File", "name": existing["name"], "url": existing.get("url")}.items()
                if v is not None}
    raise ParseError(errors.FILE_SAVE_ERROR, "Invalid file upload.")
