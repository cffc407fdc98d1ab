"""GraphQL ``where`` inputs to Parse ``where`` trees (as Parse Server's
query transformer maps them); the engine validates the result exactly as a
REST query's."""

from __future__ import annotations

from typing import Any

from bapp.graphql.names import object_id_of
from bapp.graphql.sdl import GraphQLClass

_OPS = {
    "equalTo": "$eq", "notEqualTo": "$ne", "lessThan": "$lt", "lessThanOrEqualTo": "$lte",
    "greaterThan": "$gt", "greaterThanOrEqualTo": "$gte", "in": "$in", "notIn": "$nin", "exists": "$exists",
    "inQueryKey": "$select", "notInQueryKey": "$dontSelect", "containedBy": "$containedBy", "contains": "$all",
    "matchesRegex": "$regex", "options": "$options", "text": "$text", "nearSphere": "$nearSphere",
    "maxDistance": "$maxDistance", "maxDistanceInRadians": "$maxDistanceInRadians",
    "maxDistanceInMiles": "$maxDistanceInMiles", "maxDistanceInKilometers": "$maxDistanceInKilometers",
    "within": "$within", "geoWithin": "$geoWithin", "geoIntersects": "$geoIntersects",
}
_SEARCH = {"term": "$term", "language": "$language", "caseSensitive": "$caseSensitive",
           "diacriticSensitive": "$diacriticSensitive"}
_LOGICAL = {"OR": "$or", "AND": "$and", "NOR": "$nor"}


def _geo(point: dict) -> dict:
    return {"__type": "GeoPoint", **point}


def _operand(op: str, value: Any, classes: dict[str, GraphQLClass]) -> Any:
    if value is None:
        return None
    if op == "text":
        search = value.get("search") or {}
        return {"$search": {_SEARCH[k]: v for k, v in search.items() if k in _SEARCH and v is not None}}
    if op in ("nearSphere",):
        return _geo(value)
    if op == "within":
        box = value.get("box") or {}
        return {"$box": [_geo(box.get("bottomLeft") or {}), _geo(box.get("upperRight") or {})]}
    if op == "geoWithin":
        out: dict[str, Any] = {}
        if value.get("polygon") is not None:
            out["$polygon"] = [_geo(p) for p in value["polygon"]]
        if value.get("centerSphere") is not None:
            sphere = value["centerSphere"]
            out["$centerSphere"] = [_geo(sphere.get("center") or {}), sphere.get("distance")]
        return out
    if op == "geoIntersects":
        return {"$point": _geo(value["point"])} if value.get("point") else {}
    if op in ("inQueryKey", "notInQueryKey"):
        query = value.get("query") or {}
        target = query.get("className")
        return {"query": {"className": target, "where": subquery_where(query.get("where") or {}, target, classes)},
                "key": value.get("key")}
    return value


def subquery_where(where: Any, class_name: Any, classes: dict[str, GraphQLClass]) -> Any:
    """The ``where`` of a sub-query (an Object input): GraphQL-style
    operators are mapped when the class is known; Parse-style ones pass."""
    target = classes.get(class_name) if isinstance(class_name, str) else None
    if target is None or not isinstance(where, dict):
        return where
    return to_parse(where, target, classes)


def _constraints(value: dict, classes: dict[str, GraphQLClass]) -> dict:
    out: dict[str, Any] = {}
    for op, operand in value.items():
        if operand is None and op != "equalTo":
            continue
        out[_OPS.get(op, op)] = _operand(op, operand, classes)
    return out


def _object_constraints(field: str, value: dict, out: dict, classes: dict[str, GraphQLClass]) -> None:
    """Object fields: ``{equalTo: {key: "a.b", value: 1}}`` is ``{"field.a.b": {"$eq": 1}}``."""
    plain: dict[str, Any] = {}
    for op, operand in value.items():
        if operand is None:
            continue
        if isinstance(operand, dict) and "key" in operand and "value" in operand:
            out.setdefault(f"{field}.{operand['key']}", {})[_OPS[op]] = operand["value"]
        elif isinstance(operand, list) and operand and all(isinstance(o, dict) and "key" in o for o in operand):
            for item in operand:
                out.setdefault(f"{field}.{item['key']}", {}).setdefault(_OPS[op], []).append(item.get("value"))
        else:
            plain[_OPS.get(op, op)] = _operand(op, operand, classes)
    if plain:
        out[field] = plain


def _ids(value: dict, class_name: str) -> dict:
    out: dict[str, Any] = {}
    for op, operand in value.items():
        if operand is None:
            continue
        if isinstance(operand, str):
            operand = object_id_of(operand, class_name)
        elif isinstance(operand, list):
            operand = [object_id_of(v, class_name) if isinstance(v, str) else v for v in operand]
        out[_OPS.get(op, op)] = operand
    return out


def _relational(value: dict, spec: dict, classes: dict[str, GraphQLClass]) -> dict:
    target_name = spec.get("targetClass")
    target = classes.get(target_name or "")
    out: dict[str, Any] = {}
    exists = value.get("exists")
    if exists is not None:
        if spec["type"] == "Relation":
            # A relation "exists" when it has an object (Parse Server's sub-query form).
            out["$inQuery" if exists else "$notInQuery"] = {"where": {"objectId": {"$exists": True}},
                                                            "className": target_name}
        else:
            out["$exists"] = exists
    for op, parse_op in (("have", "$inQuery"), ("haveNot", "$notInQuery")):
        if value.get(op) is not None:
            inner = to_parse(value[op], target, classes) if target else value[op]
            out[parse_op] = {"where": inner, "className": target_name}
    return out


def to_parse(where: dict, c: GraphQLClass, classes: dict[str, GraphQLClass]) -> dict:
    """A ``<Class>WhereInput`` value as a Parse ``where``."""
    out: dict[str, Any] = {}
    for key, value in where.items():
        if value is None:
            continue
        if key in _LOGICAL:
            out[_LOGICAL[key]] = [to_parse(v, c, classes) for v in value]
            continue
        if key == "id":
            out["objectId"] = {**out.get("objectId", {}), **_ids(value, c.class_name)}
            continue
        if key == "objectId":
            out["objectId"] = {**out.get("objectId", {}), **_constraints(value, classes)}
            continue
        spec = c.fields.get(key) or {}
        kind = spec.get("type")
        if kind in ("Pointer", "Relation"):
            out[key] = _relational(value, spec, classes)
        elif kind in ("Object", "ACL"):
            _object_constraints(key, value, out, classes)
        else:
            out[key] = _constraints(value, classes)
    return out
