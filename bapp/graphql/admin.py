"""``callCloudCode``, the schema queries and mutations (``class``,
``classes``, ``createClass``, ``updateClass``, ``deleteClass``, master key
only) and the global config (``cloudConfig``, ``updateCloudConfig``)."""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLResolveInfo

from bapp import errors
from bapp.cloud import runtime as cloud_runtime
from bapp.core import schema_api
from bapp.errors import ParseError
from bapp.graphql.context import Context, ctx_of

_SCHEMA_INPUTS = (
    ("addStrings", "String"), ("addNumbers", "Number"), ("addBooleans", "Boolean"), ("addArrays", "Array"),
    ("addObjects", "Object"), ("addDates", "Date"), ("addFiles", "File"), ("addGeoPoint", "GeoPoint"),
    ("addPolygons", "Polygon"), ("addBytes", "Bytes"), ("addPointers", "Pointer"), ("addRelations", "Relation"),
)
_FIELD_TYPES = {"String": "SchemaStringField", "Number": "SchemaNumberField", "Boolean": "SchemaBooleanField",
                "Array": "SchemaArrayField", "Object": "SchemaObjectField", "Date": "SchemaDateField",
                "File": "SchemaFileField", "GeoPoint": "SchemaGeoPointField", "Polygon": "SchemaPolygonField",
                "Bytes": "SchemaBytesField", "Pointer": "SchemaPointerField", "Relation": "SchemaRelationField",
                "ACL": "SchemaACLField"}


# ------------------------------------------------------------------ cloud code

async def call_cloud_code(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    ctx = ctx_of(info)
    result = await cloud_runtime.call_function(ctx.engine, input["functionName"], dict(input.get("params") or {}),
                                               ctx.auth)
    return {"result": cloud_runtime.function_response(result).get("result"),
            "clientMutationId": input.get("clientMutationId")}


# ------------------------------------------------------------------ schema

def class_out(schema: dict) -> dict:
    fields = [{"name": n, "type": s.get("type"), "targetClassName": s.get("targetClass")}
              for n, s in (schema.get("fields") or {}).items()]
    return {"name": schema["className"], "schemaFields": fields}


def resolve_schema_field_type(value: dict, *_: Any) -> str | None:
    return _FIELD_TYPES.get(value.get("type"))


def schema_fields_to_parse(schema_fields: dict | None, existing: dict[str, dict] | None) -> dict:
    """``SchemaFieldsInput`` as the REST schema API's ``fields``."""
    if not schema_fields:
        return {}
    removed = {f["name"] for f in schema_fields.get("remove") or []}
    out: dict[str, dict] = {}
    for key, kind in _SCHEMA_INPUTS:
        items = schema_fields.get(key)
        if items is None:
            continue
        for item in items if isinstance(items, list) else [items]:
            name = item["name"]
            if name in removed:
                continue
            if name in out or (existing and name in existing):
                raise ParseError(errors.INVALID_KEY_NAME, f"Duplicated field name: {name}")
            out[name] = {"type": kind, "targetClass": item["targetClassName"]} if kind in ("Pointer", "Relation") \
                else {"type": kind}
    if existing:
        for name in removed:
            if name in existing:
                out[name] = {"__op": "Delete"}
    return out


def _writable(ctx: Context, action: str) -> None:
    ctx.require_master()
    if ctx.auth.read_only:
        raise ParseError(errors.OPERATION_FORBIDDEN, f"read-only masterKey isn't allowed to {action} a schema.")


async def _existing(ctx: Context, name: Any) -> dict:
    schema = await ctx.engine.schemas.get(name) if isinstance(name, str) else None
    if schema is None:
        raise ParseError(errors.INVALID_CLASS_NAME, f"Class {name} does not exist.")
    return schema.to_api()


async def resolve_class(_root: Any, info: GraphQLResolveInfo, name: str) -> dict:
    ctx = ctx_of(info)
    ctx.require_master()
    return class_out(await _existing(ctx, name))


async def resolve_classes(_root: Any, info: GraphQLResolveInfo) -> list[dict]:
    ctx = ctx_of(info)
    ctx.require_master()
    found = await schema_api.all_schemas(ctx.engine)
    return [class_out(s) for s in found["results"]]


async def create_class(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    ctx = ctx_of(info)
    _writable(ctx, "create")
    name = input["name"]
    fields = schema_fields_to_parse(input.get("schemaFields"), None)
    created = await schema_api.create_schema(ctx.engine, name, {"className": name, "fields": fields})
    return {"class": class_out(created), "clientMutationId": input.get("clientMutationId")}


async def update_class(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    ctx = ctx_of(info)
    _writable(ctx, "update")
    name = input["name"]
    current = await _existing(ctx, name)
    fields = schema_fields_to_parse(input.get("schemaFields"), current["fields"])
    updated = await schema_api.update_schema(ctx.engine, name, {"className": name, "fields": fields})
    return {"class": class_out(updated), "clientMutationId": input.get("clientMutationId")}


async def delete_class(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    ctx = ctx_of(info)
    _writable(ctx, "delete")
    name = input["name"]
    current = await _existing(ctx, name)
    await schema_api.delete_schema(ctx.engine, name)
    return {"class": class_out(current), "clientMutationId": input.get("clientMutationId")}


# ------------------------------------------------------------------ global config

def _config_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


async def resolve_cloud_config(_root: Any, info: GraphQLResolveInfo, paramName: str) -> dict:
    """As ``GET /config``: master-key-only parameters are hidden from others."""
    ctx = ctx_of(info)
    found = await ctx.rest("GET", "/config", {})
    params, master_only = found.get("params") or {}, found.get("masterKeyOnly") or {}
    if paramName not in params:
        return {"value": None, "isMasterKeyOnly": None}
    return {"value": _config_text(params[paramName]), "isMasterKeyOnly": bool(master_only.get(paramName))}


async def update_cloud_config(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    """As ``PUT /config`` (master key, key names checked the same way)."""
    ctx = ctx_of(info)
    ctx.require_master()
    name, value = input["paramName"], input["value"]
    master_only = bool(input.get("isMasterKeyOnly"))
    await ctx.rest("PUT", "/config", {"params": {name: value}, "masterKeyOnly": {name: master_only}})
    return {"cloudConfig": {"value": value, "isMasterKeyOnly": master_only},
            "clientMutationId": input.get("clientMutationId")}
