"""Aggregation pipelines written with Parse field names, in Mongo terms.

``createdAt`` becomes ``_created_at``, pointer fields ``_p_<name>`` (and
``$name`` references likewise), ISO date strings in ``$match`` become dates,
and the output ``_id`` is renamed ``objectId`` as Parse Server does."""

from __future__ import annotations

from typing import Any

from bapp.model import types
from bapp.storage.mongo import transform

_RENAMES = {"objectId": "_id", "createdAt": "_created_at", "updatedAt": "_updated_at"}


def _field(name: str, fields: dict) -> str:
    root = name.split(".", 1)[0]
    if root in _RENAMES:
        return _RENAMES[root] + name[len(root):]
    if fields.get(root, {}).get("type") == "Pointer":
        return "_p_" + name
    return name


def _refs(value: Any, fields: dict) -> Any:
    """Rewrites ``"$field"`` references anywhere in an expression."""
    if isinstance(value, str) and value.startswith("$") and not value.startswith("$$"):
        return "$" + _field(value[1:], fields)
    if isinstance(value, dict):
        return {k: _refs(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_refs(v, fields) for v in value]
    return value


def _match(value: dict, fields: dict) -> dict:
    out: dict[str, Any] = {}
    for key, sub in value.items():
        if key in ("$or", "$and", "$nor") and isinstance(sub, list):
            out[key] = [_match(s, fields) for s in sub]
            continue
        kind = fields.get(key, {}).get("type")
        out[_field(key, fields)] = _match_value(sub, kind)
    return out


def _match_value(value: Any, kind: str | None) -> Any:
    if isinstance(value, dict):
        if value.get("__type"):
            return transform.encode_interior(value) if value["__type"] != "Pointer" else f"{value['className']}${value['objectId']}"
        return {k: _match_value(v, kind) for k, v in value.items()}
    if isinstance(value, list):
        return [_match_value(v, kind) for v in value]
    if kind == "Date" and isinstance(value, str):
        try:
            return transform.to_db_date(types.parse_iso(value))
        except Exception:
            return value
    return value


def encode_pipeline(pipeline: list[dict], fields: dict) -> list[dict]:
    out = []
    for stage in pipeline:
        name, body = next(iter(stage.items()))
        if name == "$match":
            out.append({name: _match(body, fields)})
        elif name == "$group" and isinstance(body, dict):
            group = dict(body)
            if "objectId" in group and "_id" not in group:
                group["_id"] = group.pop("objectId")
            out.append({name: _refs(group, fields)})
        elif name == "$sort" and isinstance(body, dict):
            out.append({name: {_field(k, fields): v for k, v in body.items()}})
        elif name == "$project" and isinstance(body, dict):
            out.append({name: {_field(k, fields): _refs(v, fields) for k, v in body.items()}})
        else:
            out.append({name: _refs(body, fields)})
    return out


def decode_results(rows: list[dict], file_url: Any) -> list[dict]:
    out = []
    for row in rows:
        row = dict(row)
        if "_id" in row:
            value = row.pop("_id")
            if isinstance(value, str) and "$" in value:
                value = value.split("$", 1)[1]
            row["objectId"] = value
        for db_key, key in (("_created_at", "createdAt"), ("_updated_at", "updatedAt")):
            if db_key in row:
                row[key] = row.pop(db_key)
        out.append(transform.decode_interior(row, file_url))
    return out
