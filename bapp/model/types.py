"""Parse data types: names, type inference and validation of REST values.

Everything here is pure: it knows the REST JSON encoding of each Parse type
and nothing about storage or HTTP."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import string
from datetime import UTC, datetime
from typing import Any

from bapp import errors
from bapp.errors import ParseError

CLASS_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
FIELD_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
JOIN_CLASS_RE = re.compile(r"^_Join:[A-Za-z0-9_]+:[A-Za-z0-9_]+$")

SYSTEM_CLASSES = (
    "_User", "_Installation", "_Role", "_Session", "_Product", "_PushStatus",
    "_JobStatus", "_JobSchedule", "_Audience", "_Idempotency",
)
# Classes a client can never touch through the generic routes.
MASTER_ONLY_CLASSES = frozenset({
    "_JobStatus", "_PushStatus", "_Hooks", "_GlobalConfig", "_JobSchedule",
    "_Idempotency", "_GraphQLConfig", "_Audience",
})
# Classes that have no _SCHEMA entry in Parse Server.
VOLATILE_CLASSES = frozenset({
    "_JobStatus", "_PushStatus", "_Hooks", "_GlobalConfig", "_JobSchedule", "_Idempotency",
})

FIELD_TYPES = (
    "String", "Number", "Boolean", "Date", "Object", "Array", "GeoPoint", "File",
    "Bytes", "Polygon", "Pointer", "Relation",
)

DEFAULT_FIELDS: dict[str, dict] = {
    "objectId": {"type": "String"},
    "createdAt": {"type": "Date"},
    "updatedAt": {"type": "Date"},
    "ACL": {"type": "ACL"},
}

CLASS_DEFAULT_FIELDS: dict[str, dict[str, dict]] = {
    "_User": {
        "username": {"type": "String"},
        "password": {"type": "String"},
        "email": {"type": "String"},
        "emailVerified": {"type": "Boolean"},
        "authData": {"type": "Object"},
    },
    "_Installation": {
        "installationId": {"type": "String"},
        "deviceToken": {"type": "String"},
        "channels": {"type": "Array"},
        "deviceType": {"type": "String"},
        "pushType": {"type": "String"},
        "GCMSenderId": {"type": "String"},
        "timeZone": {"type": "String"},
        "localeIdentifier": {"type": "String"},
        "badge": {"type": "Number"},
        "appVersion": {"type": "String"},
        "appName": {"type": "String"},
        "appIdentifier": {"type": "String"},
        "parseVersion": {"type": "String"},
    },
    "_Role": {
        "name": {"type": "String"},
        "users": {"type": "Relation", "targetClass": "_User"},
        "roles": {"type": "Relation", "targetClass": "_Role"},
    },
    "_Session": {
        "user": {"type": "Pointer", "targetClass": "_User"},
        "installationId": {"type": "String"},
        "sessionToken": {"type": "String"},
        "expiresAt": {"type": "Date"},
        "createdWith": {"type": "Object"},
    },
    "_Product": {
        "productIdentifier": {"type": "String"},
        "download": {"type": "File"},
        "downloadName": {"type": "String"},
        "icon": {"type": "File"},
        "order": {"type": "Number"},
        "title": {"type": "String"},
        "subtitle": {"type": "String"},
    },
    "_PushStatus": {
        "pushTime": {"type": "String"}, "source": {"type": "String"}, "query": {"type": "String"},
        "payload": {"type": "String"}, "title": {"type": "String"}, "expiry": {"type": "Number"},
        "expiration_interval": {"type": "Number"}, "status": {"type": "String"},
        "numSent": {"type": "Number"}, "numFailed": {"type": "Number"},
        "pushHash": {"type": "String"}, "errorMessage": {"type": "Object"},
        "sentPerType": {"type": "Object"}, "failedPerType": {"type": "Object"},
        "sentPerUTCOffset": {"type": "Object"}, "failedPerUTCOffset": {"type": "Object"},
        "count": {"type": "Number"},
    },
    "_JobStatus": {
        "jobName": {"type": "String"}, "source": {"type": "String"}, "status": {"type": "String"},
        "message": {"type": "String"}, "params": {"type": "Object"}, "finishedAt": {"type": "Date"},
    },
    "_JobSchedule": {
        "jobName": {"type": "String"}, "description": {"type": "String"}, "params": {"type": "String"},
        "startAfter": {"type": "String"}, "daysOfWeek": {"type": "Array"},
        "timeOfDay": {"type": "String"}, "lastRun": {"type": "Number"},
        "repeatMinutes": {"type": "Number"},
    },
    "_Audience": {
        "name": {"type": "String"}, "query": {"type": "String"}, "lastUsed": {"type": "Date"},
        "timesUsed": {"type": "Number"},
    },
    "_Idempotency": {"reqId": {"type": "String"}, "expire": {"type": "Date"}},
}

# Keys refused anywhere in request data (Parse Server's requestKeywordDenylist,
# plus Python's dunder names).
DENIED_KEYS = frozenset({"__proto__", "constructor", "__class__", "_bsontype"})

_ID_ALPHABET = string.ascii_letters + string.digits


def new_object_id(size: int = 10) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(size))


def new_session_token() -> str:
    return "r:" + secrets.token_hex(16)


# ---------------------------------------------------------------- names

def is_valid_class_name(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    if name in SYSTEM_CLASSES or JOIN_CLASS_RE.match(name):
        return True
    return bool(CLASS_NAME_RE.match(name)) and name not in ("className", "length")


def check_class_name(name: Any) -> str:
    if not is_valid_class_name(name):
        raise ParseError(errors.INVALID_CLASS_NAME, f"Invalid classname: {name}, classnames can only have alphanumeric characters and _, and must start with an alpha character ")
    return name


def is_valid_field_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and bool(FIELD_NAME_RE.match(name))
        and name not in ("className", "length")
    )


# ---------------------------------------------------------------- dates

def now() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ParseError(errors.INCORRECT_TYPE, "This is not a valid Date")
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(errors.INCORRECT_TYPE, "This is not a valid Date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def date_json(moment: datetime) -> dict:
    return {"__type": "Date", "iso": iso(moment)}


# ---------------------------------------------------------------- values

def pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def is_pointer(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("__type") in ("Pointer", "Object")
        and isinstance(value.get("className"), str)
        and isinstance(value.get("objectId"), str)
    )


def type_of(value: Any) -> dict | None:
    """The schema type a REST value implies, or None for null / an op that
    implies nothing. Raises 111 for malformed typed values."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "Boolean"}
    if isinstance(value, (int, float)):
        return {"type": "Number"}
    if isinstance(value, str):
        return {"type": "String"}
    if isinstance(value, list):
        return {"type": "Array"}
    if not isinstance(value, dict):
        raise ParseError(errors.INCORRECT_TYPE, f"bad value {value!r}")
    kind = value.get("__type")
    if kind is not None:
        return _typed_value_type(value, kind)
    op = value.get("__op")
    if op is not None:
        return _op_type(value, op)
    return {"type": "Object"}


def _typed_value_type(value: dict, kind: Any) -> dict:
    if kind in ("Pointer", "Object"):
        if not is_pointer(value):
            raise ParseError(errors.INCORRECT_TYPE, "This is not a valid Pointer")
        return {"type": "Pointer", "targetClass": value["className"]}
    if kind == "Relation":
        if not isinstance(value.get("className"), str):
            raise ParseError(errors.INCORRECT_TYPE, "This is not a valid Relation")
        return {"type": "Relation", "targetClass": value["className"]}
    if kind == "Date":
        parse_iso(value.get("iso"))
        return {"type": "Date"}
    if kind == "GeoPoint":
        check_geopoint(value)
        return {"type": "GeoPoint"}
    if kind == "Polygon":
        check_polygon(value)
        return {"type": "Polygon"}
    if kind == "File":
        if not isinstance(value.get("name"), str) or not value["name"]:
            raise ParseError(errors.INCORRECT_TYPE, "This is not a valid File")
        return {"type": "File"}
    if kind == "Bytes":
        decode_bytes(value)
        return {"type": "Bytes"}
    raise ParseError(errors.INCORRECT_TYPE, f"This is not a valid {kind}")


def _op_type(value: dict, op: Any) -> dict | None:
    if op == "Increment":
        return {"type": "Number"}
    if op in ("Add", "AddUnique", "Remove"):
        return {"type": "Array"}
    if op in ("AddRelation", "RemoveRelation"):
        objects = value.get("objects")
        if isinstance(objects, list) and objects and is_pointer(objects[0]):
            return {"type": "Relation", "targetClass": objects[0]["className"]}
        return None
    if op == "Batch":
        for sub in value.get("ops") or []:
            if isinstance(sub, dict):
                found = _op_type(sub, sub.get("__op"))
                if found:
                    return found
        return None
    return None


def check_geopoint(value: dict) -> tuple[float, float]:
    lat, lng = value.get("latitude"), value.get("longitude")
    if (
        not isinstance(lat, (int, float)) or isinstance(lat, bool)
        or not isinstance(lng, (int, float)) or isinstance(lng, bool)
    ):
        raise ParseError(errors.INVALID_JSON, "invalid GeoPoint")
    if not -90 <= lat <= 90:
        raise ParseError(errors.INVALID_JSON, "GeoPoint latitude out of bounds: " + str(lat) + ".")
    if not -180 <= lng <= 180:
        raise ParseError(errors.INVALID_JSON, "GeoPoint longitude out of bounds: " + str(lng) + ".")
    return float(lat), float(lng)


def check_polygon(value: dict) -> list[list[float]]:
    coords = value.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 3:
        raise ParseError(errors.INCORRECT_TYPE, "Polygon must have at least 3 values")
    points = []
    for point in coords:
        if not isinstance(point, list) or len(point) != 2:
            raise ParseError(errors.INCORRECT_TYPE, "This is not a valid Polygon")
        check_geopoint({"latitude": point[0], "longitude": point[1]})
        points.append([float(point[0]), float(point[1])])
    return points


def decode_bytes(value: dict) -> bytes:
    data = value.get("base64")
    if not isinstance(data, str):
        raise ParseError(errors.INCORRECT_TYPE, "This is not a valid Bytes")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError(errors.INCORRECT_TYPE, "This is not a valid Bytes") from None


def type_name(spec: dict | None) -> str:
    """Renders a schema type the way Parse Server's mismatch message does."""
    if not spec:
        return "null"
    if spec["type"] in ("Pointer", "Relation"):
        return f"{spec['type']}<{spec.get('targetClass')}>"
    return spec["type"]


def same_type(a: dict, b: dict) -> bool:
    return a["type"] == b["type"] and a.get("targetClass") == b.get("targetClass")


def check_keys(value: Any, depth: int = 0, max_depth: int = 32, top: bool = True) -> None:
    """Refuses denied keywords at any depth, ``$``/``.`` in nested keys and
    values nested beyond ``max_depth`` (a stack-exhaustion guard)."""
    if depth > max_depth:
        raise ParseError(errors.INVALID_JSON, f"Object is nested too deeply (limit {max_depth}).")
    if isinstance(value, dict):
        for key, sub in value.items():
            if key == "_bsontype":
                _check_bsontype(sub, top)
            if top and key in ("__proto__", "__class__"):
                # What Parse Server answers for these as field names.
                raise ParseError(errors.INVALID_KEY_NAME, f"Invalid field name: {key}.")
            if key in DENIED_KEYS or (isinstance(key, str) and key.startswith("__") and key not in ("__type", "__op")):
                raise ParseError(errors.INVALID_KEY_NAME, f"Prohibited keyword in request data: {{\"key\":\"{key}\"}}.")
            if not top and isinstance(key, str) and ("$" in key or "." in key):
                raise ParseError(errors.INVALID_NESTED_KEY, "Nested keys should not contain the '$' or '.' characters")
            check_keys(sub, depth + 1, max_depth, top=False)
    elif isinstance(value, list):
        for sub in value:
            check_keys(sub, depth + 1, max_depth, top=False)


def _check_bsontype(value: Any, top: bool) -> None:
    """``_bsontype`` tells JavaScript's BSON serializer what an object is, so
    a client must not store it. Its value is in the message, as in Parse
    Server's denylist entry ``{"key":"_bsontype","value":"Code"}``; a
    nested ``_bsontype`` of another value is refused too (Parse Server
    stores it: a deliberate safer deviation, since Parse Server may share
    the database)."""
    if isinstance(value, str) and "Code" in value:
        raise ParseError(errors.INVALID_KEY_NAME, 'Prohibited keyword in request data: {"key":"_bsontype","value":"Code"}.')
    if top:
        raise ParseError(errors.INVALID_KEY_NAME, "Invalid field name: _bsontype.")
    shown = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    raise ParseError(errors.INVALID_KEY_NAME, f'Prohibited keyword in request data: {{"key":"_bsontype","value":{shown}}}.')


def js_text(value: Any) -> str:
    """``String(value)`` in JavaScript: Parse Server interpolates raw values
    into its messages, and clients may compare those messages."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return ",".join("" if v is None else js_text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)
