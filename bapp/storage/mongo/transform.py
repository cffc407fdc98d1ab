"""Translation between Parse REST values and Parse Server's MongoDB layout.

The layout is Parse Server's own (string ``_id``, ``_created_at``,
``_p_<field>`` pointers, ``_rperm``/``_wperm``/``_acl``, GeoPoints as
``[lng, lat]``...), so a database written by one server is readable by the
other. Inputs arrive already validated by the engine; anything unexpected here
is still refused rather than passed to the database."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bson import Binary

from bapp import errors
from bapp.errors import ParseError
from bapp.model import types

Fields = dict[str, dict]

# Internal keys that pass through unchanged (Parse Server's untransform list).
INTERNAL_KEYS = frozenset({
    "_hashed_password", "_email_verify_token", "_email_verify_token_expires_at",
    "_perishable_token", "_perishable_token_expires_at", "_failed_login_count",
    "_account_lockout_expires_at", "_password_changed_at", "_password_history",
    "_tombstone", "_rperm", "_wperm",
})
_TOP_RENAMES = {
    "objectId": "_id", "createdAt": "_created_at", "updatedAt": "_updated_at",
    "sessionToken": "_session_token", "_session_token": "_session_token",
}
_DECODE_RENAMES = {"_session_token": "sessionToken"}


def to_db_date(moment: datetime) -> datetime:
    """Naive UTC, the form PyMongo reads back."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _from_db_date(moment: datetime) -> str:
    return types.iso(moment)


# ------------------------------------------------------------------ values

def encode_interior(value: Any) -> Any:
    """A REST value nested in an Object or Array, as Mongo stores it."""
    if isinstance(value, dict):
        kind = value.get("__type")
        if kind in ("Pointer", "Object") and types.is_pointer(value):
            return types.pointer(value["className"], value["objectId"])
        if kind == "Date":
            return to_db_date(types.parse_iso(value.get("iso")))
        if kind == "Bytes":
            return Binary(types.decode_bytes(value))
        if kind == "File":
            return {"__type": "File", "name": value.get("name"), **({"url": value["url"]} if "url" in value else {})}
        return {k: encode_interior(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode_interior(v) for v in value]
    if isinstance(value, datetime):
        return to_db_date(value)
    return value


def encode_top(key: str, value: Any, spec: dict | None) -> tuple[str, Any]:
    """A top-level field: returns the Mongo key and value."""
    if isinstance(value, dict):
        kind = value.get("__type")
        if kind in ("Pointer", "Object") and types.is_pointer(value):
            return "_p_" + key, f"{value['className']}${value['objectId']}"
        if kind == "GeoPoint":
            lat, lng = types.check_geopoint(value)
            return key, [lng, lat]
        if kind == "Polygon":
            return key, polygon_to_geojson(value)
        if kind == "File":
            return key, value.get("name")
        if kind == "Date":
            return key, to_db_date(types.parse_iso(value.get("iso")))
    if isinstance(value, datetime):
        return _TOP_RENAMES.get(key, key), to_db_date(value)
    if spec and spec.get("type") == "Pointer" and value is None:
        return "_p_" + key, None
    return key, encode_interior(value)


def polygon_to_geojson(value: dict) -> dict:
    points = types.check_polygon(value)
    ring = [[lng, lat] for lat, lng in points]
    if ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def decode_interior(value: Any, file_url: Callable[[str], str]) -> Any:
    if isinstance(value, datetime):
        return types.date_json(value)
    if isinstance(value, dict):
        if value.get("__type") == "File" and isinstance(value.get("name"), str):
            return {"__type": "File", "name": value["name"], "url": file_url(value["name"])}
        return {k: decode_interior(v, file_url) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_interior(v, file_url) for v in value]
    if isinstance(value, (bytes, Binary)):
        return {"__type": "Bytes", "base64": base64.b64encode(bytes(value)).decode()}
    return value


# ------------------------------------------------------------------ objects

def acl_to_perms(acl: dict) -> tuple[list[str], list[str], dict]:
    rperm, wperm, legacy = [], [], {}
    for who, perms in acl.items():
        if not isinstance(perms, dict):
            continue
        entry = {}
        if perms.get("read") is True:
            rperm.append(who)
            entry["r"] = True
        if perms.get("write") is True:
            wperm.append(who)
            entry["w"] = True
        if entry:
            legacy[who] = entry
    return rperm, wperm, legacy


def perms_to_acl(rperm: list | None, wperm: list | None) -> dict:
    acl: dict[str, dict] = {}
    for who in rperm or []:
        acl.setdefault(who, {})["read"] = True
    for who in wperm or []:
        acl.setdefault(who, {})["write"] = True
    return acl


def encode_object(fields: Fields, obj: dict) -> dict:
    """A full object for insertion."""
    doc: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "ACL":
            if value is not None:
                doc["_rperm"], doc["_wperm"], doc["_acl"] = acl_to_perms(value)
            continue
        if key == "authData":
            for provider, data in (value or {}).items():
                if data is not None:
                    doc["_auth_data_" + provider] = encode_interior(data)
            continue
        if key in INTERNAL_KEYS:
            doc[key] = encode_interior(value)
            continue
        if value is None and fields.get(key, {}).get("type") == "Relation":
            continue
        mongo_key, mongo_value = encode_top(key, value, fields.get(key))
        doc[_TOP_RENAMES.get(mongo_key, mongo_key)] = mongo_value
    return doc


def decode_object(fields: Fields, doc: dict, file_url: Callable[[str], str]) -> dict:
    """A Mongo document as a REST object (internal ``_`` keys that the engine
    needs, such as ``_hashed_password``, are kept for it to strip)."""
    out: dict[str, Any] = {}
    rperm = wperm = None
    has_perms = False
    auth_data: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "_id":
            out["objectId"] = value
        elif key == "_created_at":
            out["createdAt"] = _from_db_date(value) if isinstance(value, datetime) else value
        elif key == "_updated_at":
            out["updatedAt"] = _from_db_date(value) if isinstance(value, datetime) else value
        elif key == "_rperm":
            rperm, has_perms = value, True
        elif key == "_wperm":
            wperm, has_perms = value, True
        elif key == "_acl":
            continue
        elif key.startswith("_p_"):
            name = key[3:]
            if isinstance(value, str) and "$" in value:
                cls, _, oid = value.partition("$")
                out[name] = types.pointer(cls, oid)
            elif value is None:
                continue
        elif key.startswith("_auth_data_"):
            auth_data[key[len("_auth_data_"):]] = decode_interior(value, file_url)
        elif key in _DECODE_RENAMES:
            out[_DECODE_RENAMES[key]] = value
        elif key in INTERNAL_KEYS or key.startswith("_"):
            out[key] = value
        else:
            out[key] = _decode_top(value, fields.get(key), file_url)
    if auth_data:
        out["authData"] = auth_data
    if has_perms:
        out["ACL"] = perms_to_acl(rperm, wperm)
    for name, spec in fields.items():
        if spec.get("type") == "Relation":
            out[name] = {"__type": "Relation", "className": spec.get("targetClass")}
    return out


def _decode_top(value: Any, spec: dict | None, file_url: Callable[[str], str]) -> Any:
    kind = spec.get("type") if spec else None
    if kind == "GeoPoint" and isinstance(value, list) and len(value) == 2:
        return {"__type": "GeoPoint", "latitude": value[1], "longitude": value[0]}
    if kind == "Polygon" and isinstance(value, dict) and value.get("type") == "Polygon":
        ring = value.get("coordinates", [[]])[0]
        return {"__type": "Polygon", "coordinates": [[p[1], p[0]] for p in ring]}
    if kind == "File" and isinstance(value, str):
        return {"__type": "File", "name": value, "url": file_url(value)}
    if kind == "Bytes" and isinstance(value, str):
        return {"__type": "Bytes", "base64": value}
    return decode_interior(value, file_url)


# ------------------------------------------------------------------ updates

def encode_update(fields: Fields, update: dict) -> dict:
    """Sets and ``__op`` operations as one atomic Mongo update document."""
    sets: dict[str, Any] = {}
    unsets: dict[str, Any] = {}
    incs: dict[str, Any] = {}
    pushes: dict[str, Any] = {}
    add_to_set: dict[str, Any] = {}
    pulls: dict[str, Any] = {}
    for key, value in update.items():
        root = key.split(".", 1)[0]
        spec = fields.get(root)
        op = value.get("__op") if isinstance(value, dict) else None
        if key == "ACL":
            if value is None:
                unsets.update({"_rperm": "", "_wperm": "", "_acl": ""})
            else:
                sets["_rperm"], sets["_wperm"], sets["_acl"] = acl_to_perms(value)
            continue
        if key == "authData":
            for provider, data in (value or {}).items():
                if data is None:
                    unsets["_auth_data_" + provider] = ""
                else:
                    sets["_auth_data_" + provider] = encode_interior(data)
            continue
        mongo_key = _update_key(key, value, spec)
        if op is None:
            if "." in key:
                sets[mongo_key] = encode_interior(value)
            else:
                mk, mv = encode_top(key, value, spec)
                sets[_TOP_RENAMES.get(mk, mk)] = mv
        elif op == "Delete":
            unsets[mongo_key] = ""
            if spec and spec.get("type") == "Pointer" and "." not in key:
                unsets["_p_" + key] = ""
        elif op == "Increment":
            incs[mongo_key] = value["amount"]
        elif op == "Add":
            pushes[mongo_key] = {"$each": [encode_interior(v) for v in value["objects"]]}
        elif op == "AddUnique":
            add_to_set[mongo_key] = {"$each": [encode_interior(v) for v in value["objects"]]}
        elif op == "Remove":
            pulls[mongo_key] = [encode_interior(v) for v in value["objects"]]
        else:
            raise ParseError(errors.COMMAND_UNAVAILABLE, f"The {op} operator is not supported yet.")
    result: dict[str, Any] = {}
    for name, part in (("$set", sets), ("$unset", unsets), ("$inc", incs), ("$push", pushes),
                       ("$addToSet", add_to_set), ("$pullAll", pulls)):
        if part:
            result[name] = part
    return result


def _update_key(key: str, value: Any, spec: dict | None) -> str:
    if key in _TOP_RENAMES:
        return _TOP_RENAMES[key]
    if "." not in key and spec and spec.get("type") == "Pointer":
        return "_p_" + key
    return key


# ------------------------------------------------------------------ queries

_COMPARISON = {"$lt", "$lte", "$gt", "$gte", "$ne", "$eq"}


def encode_where(fields: Fields, where: dict) -> dict:
    """A validated Parse ``where`` as a Mongo filter."""
    out: dict[str, Any] = {}
    for key, value in where.items():
        if key in ("$or", "$and", "$nor"):
            out[key] = [encode_where(fields, sub) for sub in value]
        elif key == "$text":
            out["$text"] = value
        elif key in ("_rperm", "_wperm"):
            out[key] = value
        elif key == "$expr_ids":
            out["_id"] = value
        else:
            _encode_field_constraint(fields, key, value, out)
    return out


def _encode_field_constraint(fields: Fields, key: str, value: Any, out: dict) -> None:
    root = key.split(".", 1)[0]
    spec = fields.get(root)
    kind = spec.get("type") if spec else None
    if key.startswith("authData.") and key.count(".") == 2:
        _, provider, sub = key.split(".")
        out[f"_auth_data_{provider}.{sub}"] = _encode_constraint_value(value, None)
        return
    # Only a Pointer field (or one the schema does not know) is stored under
    # _p_; a pointer matched against an Array field compares array elements.
    is_ptr = "." not in key and (kind == "Pointer" or (kind is None and _looks_pointer(value)))
    if key in _TOP_RENAMES:
        mongo_key = _TOP_RENAMES[key]
    elif is_ptr:
        mongo_key = "_p_" + key
    else:
        mongo_key = key
    if isinstance(value, dict) and "__type" not in value and any(k.startswith("$") for k in value):
        out[mongo_key] = _encode_ops(value, kind, is_ptr, mongo_key, out)
        if out[mongo_key] is None:
            del out[mongo_key]
    else:
        out[mongo_key] = _encode_atom(value, kind, is_ptr)


def _looks_pointer(value: Any) -> bool:
    if types.is_pointer(value):
        return True
    if isinstance(value, dict):
        for op in ("$in", "$nin", "$ne", "$eq", "$all"):
            sub = value.get(op)
            if types.is_pointer(sub):
                return True
            if isinstance(sub, list) and sub and types.is_pointer(sub[0]):
                return True
    return False


def _encode_atom(value: Any, kind: str | None, is_ptr: bool) -> Any:
    if is_ptr:
        if types.is_pointer(value):
            return f"{value['className']}${value['objectId']}"
        return value
    if isinstance(value, dict):
        t = value.get("__type")
        if t == "Date":
            return to_db_date(types.parse_iso(value.get("iso")))
        if t == "GeoPoint":
            return [value["longitude"], value["latitude"]]
        if t == "Polygon" and kind == "Polygon":
            return polygon_to_geojson(value)
        if t == "File":
            return value.get("name") if kind == "File" else encode_interior(value)
        return encode_interior(value)
    if isinstance(value, datetime):
        return to_db_date(value)
    return encode_interior(value)


def _encode_constraint_value(value: Any, kind: str | None) -> Any:
    if isinstance(value, dict) and "__type" not in value and any(k.startswith("$") for k in value):
        return _encode_ops(value, kind, False, "", {})
    return _encode_atom(value, kind, False)


def _encode_ops(value: dict, kind: str | None, is_ptr: bool, mongo_key: str, out: dict) -> Any:
    result: dict[str, Any] = {}
    for op, arg in value.items():
        if op in _COMPARISON:
            result[op] = _encode_atom(arg, kind, is_ptr)
        elif op in ("$in", "$nin", "$all"):
            result[op] = [_encode_in_element(v, kind, is_ptr) for v in arg]
        elif op == "$exists":
            result[op] = bool(arg)
        elif op == "$regex":
            result["$regex"] = quote_literals(arg)
            if value.get("$options"):
                result["$options"] = value["$options"]
        elif op == "$options":
            continue
        elif op == "$containedBy":
            result["$not"] = {"$elemMatch": {"$nin": [_encode_atom(v, kind, False) for v in arg]}}
        elif op == "$nearSphere":
            result["$nearSphere"] = [arg["longitude"], arg["latitude"]]
        elif op in ("$maxDistance", "$maxDistanceInRadians"):
            result["$maxDistance"] = arg
        elif op == "$maxDistanceInMiles":
            result["$maxDistance"] = arg / 3958.8
        elif op == "$maxDistanceInKilometers":
            result["$maxDistance"] = arg / 6371.0
        elif op == "$within":
            box = arg["$box"]
            result["$geoWithin"] = {"$box": [[p["longitude"], p["latitude"]] for p in box]}
        elif op == "$geoWithin":
            result["$geoWithin"] = _encode_geo_within(arg)
        elif op == "$geoIntersects":
            point = arg["$point"]
            result["$geoIntersects"] = {"$geometry": {"type": "Point", "coordinates": [point["longitude"], point["latitude"]]}}
        elif op == "$text":
            search = arg["$search"]
            text = {"$search": search["$term"]}
            for src, dst in (("$language", "$language"), ("$caseSensitive", "$caseSensitive"),
                             ("$diacriticSensitive", "$diacriticSensitive")):
                if src in search:
                    text[dst] = search[src]
            out["$text"] = text
        elif op == "$elemMatch":
            result[op] = arg
        else:
            raise ParseError(errors.INVALID_JSON, f"bad constraint: {op}")
    return result or None


def _encode_in_element(value: Any, kind: str | None, is_ptr: bool) -> Any:
    if isinstance(value, dict) and "$regex" in value:
        return re.compile(quote_literals(value["$regex"]), _re_flags(value.get("$options", "")))
    return _encode_atom(value, kind, is_ptr)


def quote_literals(pattern: str) -> str:
    """Rewrites PCRE ``\\Q...\\E`` quoting (what the SDKs' startsWith,
    endsWith and contains send) as escaped characters: the same pattern for
    MongoDB, and one Python's ``re`` (in-memory store) can compile."""
    if "\\Q" not in pattern:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("\\Q", i):
            end = pattern.find("\\E", i + 2)
            literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
            out.append(re.escape(literal))
            i = len(pattern) if end < 0 else end + 2
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i:i + 2])  # other escapes (\\\\ included) stay as they are
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def _re_flags(options: str) -> int:
    flags = 0
    for letter, flag in (("i", re.I), ("m", re.M), ("x", re.X), ("s", re.S)):
        if letter in options:
            flags |= flag
    return flags


def _encode_geo_within(arg: dict) -> dict:
    if "$polygon" in arg:
        poly = arg["$polygon"]
        if isinstance(poly, dict) and poly.get("__type") == "Polygon":
            return {"$geometry": polygon_to_geojson(poly)}
        return {"$polygon": [[p["longitude"], p["latitude"]] for p in poly]}
    if "$centerSphere" in arg:
        center, radius = arg["$centerSphere"]
        if isinstance(center, dict):
            center = [center["longitude"], center["latitude"]]
        return {"$centerSphere": [center, radius]}
    raise ParseError(errors.INVALID_JSON, "bad $geoWithin value")


def encode_sort(fields: Fields, order: list[str]) -> list[tuple[str, Any]]:
    sort: list[tuple[str, Any]] = []
    for key in order:
        desc = key.startswith("-")
        name = key[1:] if desc else key
        if name == "$score":
            # Relevance of a $text query, always best first.
            sort.append(("score", {"$meta": "textScore"}))
            continue
        if name in _TOP_RENAMES:
            name = _TOP_RENAMES[name]
        elif fields.get(name, {}).get("type") == "Pointer":
            name = "_p_" + name
        sort.append((name, -1 if desc else 1))
    return sort


def encode_projection(fields: Fields, keys: list[str]) -> dict:
    proj = {"_id": 1, "_created_at": 1, "_updated_at": 1, "_rperm": 1, "_wperm": 1}
    for key in keys:
        root = key.split(".", 1)[0]
        if root in ("objectId", "createdAt", "updatedAt", "ACL"):
            continue
        if root == "$score":
            proj["score"] = {"$meta": "textScore"}
        elif fields.get(root, {}).get("type") == "Pointer":
            proj["_p_" + root] = 1
        elif root == "authData":
            continue
        else:
            proj[_TOP_RENAMES.get(root, root)] = 1
    return proj
