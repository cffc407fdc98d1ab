"""Behaviour of the custom scalars (Any, Object, Date, Bytes, File, Upload):
what a client may send and what the server answers, as Parse Server's.

Input values become Parse's REST encoding (``{"__type": "Date", "iso"}``
and friends), so resolvers hand them to the engine unchanged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, GraphQLSchema, ValueNode, value_from_ast_untyped
from graphql.language import ObjectValueNode, StringValueNode

from bapp.errors import ParseError
from bapp.model import types


class Upload:
    """A file part of a multipart GraphQL request (the Upload scalar)."""

    def __init__(self, filename: str, content_type: str | None, data: bytes) -> None:
        self.filename = filename
        self.content_type = content_type
        self.data = data


def _invalid(value: Any, type_name: str) -> GraphQLError:
    shown = value if isinstance(value, (str, int, float, bool)) else type(value).__name__
    return GraphQLError(f"{shown} is not a valid {type_name}")


def _literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


# ------------------------------------------------------------------ Object / Any

def _object_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return value
    raise _invalid(value, "Object")


def _object_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    if isinstance(node, ObjectValueNode):
        return _literal(node, variables)
    raise _invalid(node.kind, "Object")


# ------------------------------------------------------------------ Date

def _iso(value: Any) -> str:
    if isinstance(value, str):
        try:
            return types.iso(types.parse_iso(value))
        except (ParseError, ValueError, TypeError):
            pass
    raise _invalid(value, "Date")


def _date_value(value: Any) -> dict:
    if isinstance(value, dict) and value.get("__type") == "Date" and value.get("iso"):
        return {"__type": "Date", "iso": _iso(value["iso"])}
    return {"__type": "Date", "iso": _iso(value)}


def _date_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> dict:
    if isinstance(node, (StringValueNode, ObjectValueNode)):
        return _date_value(_literal(node, variables))
    raise _invalid(node.kind, "Date")


def _date_out(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return types.iso(value)
    if isinstance(value, dict) and value.get("__type") == "Date" and isinstance(value.get("iso"), str):
        return value["iso"]
    raise _invalid(value, "Date")


# ------------------------------------------------------------------ Bytes

def _bytes_value(value: Any) -> dict:
    if isinstance(value, str):
        return {"__type": "Bytes", "base64": value}
    if isinstance(value, dict) and value.get("__type") == "Bytes" and isinstance(value.get("base64"), str):
        return {"__type": "Bytes", "base64": value["base64"]}
    raise _invalid(value, "Bytes")


def _bytes_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> dict:
    if isinstance(node, (StringValueNode, ObjectValueNode)):
        return _bytes_value(_literal(node, variables))
    raise _invalid(node.kind, "Bytes")


def _bytes_out(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("base64"), str):
        return value["base64"]
    raise _invalid(value, "Bytes")


# ------------------------------------------------------------------ File

def _file_value(value: Any) -> dict:
    if isinstance(value, str):
        return {"__type": "File", "name": value}
    if (isinstance(value, dict) and value.get("__type") == "File" and isinstance(value.get("name"), str)
            and isinstance(value.get("url"), (str, type(None)))):
        return {k: v for k, v in value.items() if k in ("__type", "name", "url") and v is not None}
    raise _invalid(value, "File")


def _file_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> dict:
    if isinstance(node, (StringValueNode, ObjectValueNode)):
        return _file_value(_literal(node, variables))
    raise _invalid(node.kind, "File")


def _file_out(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"]
    raise _invalid(value, "File")


# ------------------------------------------------------------------ Upload

def _upload_value(value: Any) -> Upload:
    if isinstance(value, Upload):
        return value
    raise GraphQLError("Upload value invalid.")


def _upload_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Upload:
    raise GraphQLError("Upload literal unsupported.")


def _upload_out(value: Any) -> Any:
    raise GraphQLError("Upload serialization unsupported.")


_BEHAVIOUR = {
    "Any": (lambda v: v, lambda v: v, _literal),
    "Object": (_object_value, _object_value, _object_literal),
    "Date": (_date_value, _date_out, _date_literal),
    "Bytes": (_bytes_value, _bytes_out, _bytes_literal),
    "File": (_file_value, _file_out, _file_literal),
    "Upload": (_upload_value, _upload_out, _upload_literal),
}


def install(schema: GraphQLSchema) -> None:
    """Gives the scalars an SDL-built schema declares their behaviour."""
    for name, (parse_value, serialize, parse_literal) in _BEHAVIOUR.items():
        scalar = schema.get_type(name)
        if isinstance(scalar, GraphQLScalarType):
            scalar.parse_value = parse_value  # type: ignore[method-assign]
            scalar.serialize = serialize  # type: ignore[method-assign]
            scalar.parse_literal = parse_literal  # type: ignore[method-assign]
