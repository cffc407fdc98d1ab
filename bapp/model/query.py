"""Validation of Parse ``where`` trees and query options.

A ``where`` is checked once, against an allow-list of keys and operators,
before anything reaches the database: an operator that was silently ignored
would widen the results, which is a security bug, so everything unknown is
refused with Parse Server's error."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bapp import errors
from bapp.config import Limits
from bapp.errors import ParseError
from bapp.model import types
from bapp.model.matcher import compile_regex

LOGICAL = ("$or", "$and", "$nor")
FIELD_OPS = frozenset({
    "$lt", "$lte", "$gt", "$gte", "$ne", "$eq", "$in", "$nin", "$exists", "$all",
    "$containedBy", "$regex", "$options", "$text", "$select", "$dontSelect", "$inQuery",
    "$notInQuery", "$nearSphere", "$maxDistance", "$maxDistanceInRadians",
    "$maxDistanceInMiles", "$maxDistanceInKilometers", "$within", "$geoWithin",
    "$geoIntersects",
})
SUBQUERY_OPS = ("$select", "$dontSelect", "$inQuery", "$notInQuery")
_KEY_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)*$")
# Internal columns the master key may constrain (Parse Server 9's
# internalFields with masterRead). Clients may constrain none of them, and
# nobody may query _hashed_password.
INTERNAL_QUERY_KEYS = frozenset({
    "_rperm", "_wperm", "_perishable_token", "_perishable_token_expires_at", "_email_verify_token",
    "_email_verify_token_expires_at", "_account_lockout_expires_at", "_failed_login_count",
    "_password_changed_at", "_password_history", "_tombstone", "_session_token",
})
QUERY_PARAMS = frozenset({
    "where", "order", "limit", "skip", "keys", "excludeKeys", "include", "includeAll", "count",
    "readPreference", "includeReadPreference", "subqueryReadPreference", "hint", "explain",
    "comment", "redirectClassNameForKey",
})
GET_PARAMS = frozenset({"keys", "include", "excludeKeys", "readPreference", "includeReadPreference",
                        "subqueryReadPreference"})
_READ_PREFS = {"PRIMARY", "PRIMARY_PREFERRED", "SECONDARY", "SECONDARY_PREFERRED", "NEAREST"}


@dataclass
class QueryOptions:
    """Parsed ``GET /classes/X`` parameters."""

    where: dict = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    limit: int | None = None
    skip: int = 0
    keys: list[str] | None = None
    exclude_keys: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    include_all: bool = False
    count: bool = False
    hint: Any = None
    explain: Any = None
    comment: str | None = None
    redirect_key: str | None = None


def _comma_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = value.split(",")
    else:
        raise ParseError(errors.INVALID_QUERY, f"Invalid parameter for query: {name}")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise ParseError(errors.INVALID_QUERY, f"Invalid parameter for query: {name}")
        item = item.strip()
        if item:
            out.append(item)
    return out


def _int_param(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ParseError(errors.INVALID_QUERY, f"Invalid parameter for query: {name}")
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ParseError(errors.INVALID_QUERY, f"Invalid parameter for query: {name}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ParseError(errors.INVALID_QUERY, f"Invalid parameter for query: {name}")
    return value


def parse_where(where: Any) -> dict:
    """A ``where`` parameter: an object, or a string holding one (Parse
    Server parses a string once more; anything else in it is 107 "where
    parameter is not valid JSON", its wording)."""
    if where is None:
        return {}
    if isinstance(where, str):
        try:
            where = json.loads(where)
        except ValueError:
            raise ParseError(errors.INVALID_JSON, "where parameter is not valid JSON") from None
        if isinstance(where, str):
            raise ParseError(errors.INVALID_JSON, "where parameter is not valid JSON")
        if where is None:
            return {}
    if not isinstance(where, dict):
        raise ParseError(errors.INVALID_JSON, "where must be a JSON object")
    return where


def parse_options(params: dict, *, single: bool = False) -> QueryOptions:
    """Reads query parameters (already JSON-decoded where possible)."""
    allowed = GET_PARAMS if single else QUERY_PARAMS
    for key in params:
        if key not in allowed:
            if single:
                raise ParseError(errors.INVALID_QUERY, "Improper encode of parameter")
            raise ParseError(errors.INVALID_QUERY, f"Invalid parameter for query: {key}")
    opts = QueryOptions()
    where = parse_where(params.get("where", {}))
    opts.where = where
    opts.order = order_keys(_comma_list(params.get("order"), "order"))
    if "limit" in params:
        # MongoDB reads a negative limit as its absolute value; internally a
        # negative limit means "no limit", which a client must not reach.
        opts.limit = abs(_int_param(params["limit"], "limit"))
    if "skip" in params:
        opts.skip = _int_param(params["skip"], "skip")
        if opts.skip < 0:
            raise ParseError(errors.INVALID_QUERY, "Invalid parameter for query: skip")
    if "keys" in params:
        opts.keys = _comma_list(params["keys"], "keys")
    opts.exclude_keys = _comma_list(params.get("excludeKeys"), "excludeKeys")
    include = _comma_list(params.get("include"), "include")
    if "*" in include or params.get("includeAll"):
        opts.include_all = True
        include = [i for i in include if i != "*"]
    opts.include = include
    count = params.get("count")
    opts.count = count in (1, True, "1", "true", "True")
    for pref in ("readPreference", "includeReadPreference", "subqueryReadPreference"):
        value = params.get(pref)
        if value is not None and (not isinstance(value, str) or value.upper() not in _READ_PREFS):
            raise ParseError(errors.INVALID_QUERY, f"Invalid parameter for query: {pref}")
    opts.hint = params.get("hint")
    if opts.hint is not None and not isinstance(opts.hint, (str, dict)):
        raise ParseError(errors.INVALID_QUERY, "Invalid parameter for query: hint")
    opts.explain = params.get("explain")
    comment = params.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ParseError(errors.INVALID_QUERY, "Invalid parameter for query: comment")
    opts.comment = comment
    redirect = params.get("redirectClassNameForKey")
    if redirect is not None and not types.is_valid_field_name(redirect):
        raise ParseError(errors.INVALID_QUERY, "Invalid parameter for query: redirectClassNameForKey")
    opts.redirect_key = redirect
    return opts


_ORDER_ALIASES = {"_created_at": "createdAt", "_updated_at": "updatedAt"}


def order_keys(keys: list[str]) -> list[str]:
    """Sort keys with Parse Server's aliases: ``_created_at``/``_updated_at``
    sort by createdAt/updatedAt (as Parse.com did); when a field is named
    twice the first one decides, as there."""
    out: list[str] = []
    seen: set[str] = set()
    for key in keys:
        desc = key.startswith("-")
        name = key[1:] if desc else key
        name = _ORDER_ALIASES.get(name, name)
        if name in seen:
            continue
        seen.add(name)
        out.append("-" + name if desc else name)
    return out


def check_key(key: Any, *, master: bool) -> None:
    if not isinstance(key, str):
        raise ParseError(errors.INVALID_KEY_NAME, f"Invalid key name: {key}")
    if key == "ACL":
        raise ParseError(errors.INVALID_QUERY, "Cannot query on ACL.")
    if key in INTERNAL_QUERY_KEYS and master:
        return
    if not _KEY_RE.match(key):
        raise ParseError(errors.INVALID_KEY_NAME, f"Invalid key name: {key}")


@dataclass
class WhereValidator:
    """Walks a ``where`` tree; ``fields`` is the class schema's fields."""

    fields: dict[str, dict]
    master: bool
    limits: Limits
    subqueries: list[tuple[str, str, Any]] = field(default_factory=list)

    def validate(self, where: Any, depth: int = 0) -> dict:
        if not isinstance(where, dict):
            raise ParseError(errors.INVALID_QUERY, "Invalid query: where must be an object.")
        if depth > self.limits.query_depth:
            raise ParseError(errors.INVALID_QUERY, f"Query is nested too deeply (limit {self.limits.query_depth}).")
        out: dict[str, Any] = {}
        for key, value in where.items():
            if key in LOGICAL:
                out[key] = self._logical(key, value, depth)
            elif key == "$relatedTo":
                out[key] = self._related_to(value, depth)
            else:
                check_key(key, master=self.master)
                out[key] = self._constraint(key, value)
        return out

    def _logical(self, key: str, value: Any, depth: int) -> list[dict]:
        # A real list only: an array-like object ({"0": ..., "length": 1})
        # must not slip through as a plain constraint.
        if not isinstance(value, list) and not self.master:
            # Parse Server 9 refuses this for clients before validating the
            # query, with a sanitized message (its quirk, copied).
            raise errors.denied(errors.INVALID_QUERY, f"{key} must be an array")
        if not isinstance(value, list) or (key == "$nor" and not value):
            if key == "$nor":
                raise ParseError(errors.INVALID_QUERY, "Bad $nor format - use an array of at least 1 value.")
            raise ParseError(errors.INVALID_QUERY, f"Bad {key} format - use an array value.")
        return [self.validate(sub, depth + 1) for sub in value]

    def _related_to(self, value: Any, depth: int) -> dict:
        obj = value.get("object") if isinstance(value, dict) else None
        unsaved = isinstance(obj, dict) and obj.get("__type") == "Pointer" and "objectId" not in obj \
            and isinstance(obj.get("className"), str)
        if (
            not isinstance(value, dict)
            or set(value) != {"object", "key"}
            or not (types.is_pointer(obj) or unsaved)
            or not types.is_valid_field_name(value["key"])
        ):
            raise ParseError(errors.INVALID_JSON, "bad $relatedTo value")
        types.check_class_name(obj["className"])
        if unsaved:
            # The SDKs send an unsaved parent (a clone()) without objectId:
            # it relates to nothing, as in Parse Server.
            return {"object": {"__type": "Pointer", "className": obj["className"]}, "key": value["key"]}
        return {"object": types.pointer(obj["className"], obj["objectId"]), "key": value["key"]}

    def _constraint(self, key: str, value: Any) -> Any:
        spec = self.fields.get(key.split(".", 1)[0])
        kind = spec.get("type") if spec else None
        if isinstance(value, dict) and "__type" not in value and any(k.startswith("$") for k in value):
            return self._operators(key, value, kind, spec)
        if "." not in key and key != "objectId" and key not in INTERNAL_QUERY_KEYS:
            check_equality_atom(value)
        return self._atom(value, kind, key, equality=True)

    def _atom(self, value: Any, kind: str | None, key: str, *, equality: bool = False) -> Any:
        if isinstance(value, dict):
            if "__op" in value:
                raise ParseError(errors.INVALID_JSON, f"bad atom: {value}")
            t = value.get("__type")
            if t == "Date":
                types.parse_iso(value.get("iso"))
                return {"__type": "Date", "iso": value["iso"]}
            if t in ("Pointer", "Object"):
                if not types.is_pointer(value):
                    raise ParseError(errors.INVALID_JSON, "bad pointer")
                return types.pointer(value["className"], value["objectId"])
            if t == "GeoPoint":
                types.check_geopoint(value)
            if t == "Polygon":
                # Stored polygons are closed rings: an open one names the same polygon.
                points = types.check_polygon(value)
                if points[0] != points[-1]:
                    points.append(list(points[0]))
                return {"__type": "Polygon", "coordinates": points}
            types.check_keys(value, max_depth=self.limits.value_depth, top=False)
            return value
        if isinstance(value, list):
            types.check_keys(value, max_depth=self.limits.value_depth, top=False)
            return value
        if isinstance(value, str) and key in ("createdAt", "updatedAt", "expiresAt") and equality:
            return {"__type": "Date", "iso": types.iso(types.parse_iso(value))}
        if kind == "Pointer" and isinstance(value, str) and not equality:
            spec = self.fields.get(key.split(".", 1)[0], {})
            return types.pointer(spec.get("targetClass", ""), value)
        return value

    def _operators(self, key: str, value: dict, kind: str | None, spec: dict | None) -> dict:
        out: dict[str, Any] = {}
        for op, arg in value.items():
            if op not in FIELD_OPS:
                raise ParseError(errors.INVALID_JSON, f"bad constraint: {op}")
            if op in ("$lt", "$lte", "$gt", "$gte"):
                out[op] = self._comparable(arg, kind, key)
            elif op in ("$ne", "$eq"):
                if isinstance(arg, dict) and "$relativeTime" in arg:
                    raise ParseError(errors.INVALID_JSON,
                                     "$relativeTime can only be used with the $lt, $lte, $gt, and $gte operators")
                if not ("." not in key and kind == "Array"):
                    check_plain_atom(arg)
                out[op] = self._atom(arg, kind, key)
            elif op in ("$in", "$nin"):
                out[op] = self._in_list(op, arg, kind, key)
            elif op == "$all":
                out[op] = self._all(arg, kind, key)
            elif op == "$containedBy":
                if not isinstance(arg, list):
                    raise ParseError(errors.INVALID_JSON, "bad $containedBy: should be an array")
                out[op] = [self._atom(v, kind, key) for v in arg]
            elif op == "$exists":
                if not isinstance(arg, bool):
                    raise ParseError(errors.INVALID_JSON, "bad $exists value")
                out[op] = arg
            elif op == "$regex":
                out[op] = check_regex(arg, value.get("$options"))
            elif op == "$options":
                if "$regex" not in value:
                    raise ParseError(errors.INVALID_QUERY, "$options requires $regex")
                out[op] = arg
            elif op == "$text":
                out[op] = check_text(arg)
            elif op in SUBQUERY_OPS:
                out[op] = self._subquery(op, arg)
            elif op == "$nearSphere":
                types.check_geopoint(arg if isinstance(arg, dict) else {})
                out[op] = types_geopoint(arg)
            elif op.startswith("$maxDistance"):
                if not isinstance(arg, (int, float)) or isinstance(arg, bool) or arg < 0:
                    raise ParseError(errors.INVALID_JSON, f"bad {op} value")
                out[op] = arg
            elif op == "$within":
                out[op] = check_box(arg)
            elif op == "$geoWithin":
                out[op] = check_geo_within(arg)
            elif op == "$geoIntersects":
                if not isinstance(arg, dict) or not isinstance(arg.get("$point"), dict):
                    raise ParseError(errors.INVALID_JSON, "bad $geoIntersect value; $point should be GeoPoint")
                types.check_geopoint(arg["$point"])
                out[op] = {"$point": types_geopoint(arg["$point"])}
        return out

    def _comparable(self, arg: Any, kind: str | None, key: str) -> Any:
        if isinstance(arg, dict) and "$relativeTime" in arg:
            if kind != "Date" and key not in ("createdAt", "updatedAt", "expiresAt"):
                raise ParseError(errors.INVALID_JSON, "$relativeTime can only be used with Date field")
            return types.date_json(relative_time(arg["$relativeTime"]))
        check_plain_atom(arg)
        return self._atom(arg, kind, key)

    def _in_list(self, op: str, arg: Any, kind: str | None, key: str) -> list:
        if not isinstance(arg, list):
            raise ParseError(errors.INVALID_JSON, f"bad {op} value")
        if len(arg) > self.limits.in_size:
            raise ParseError(errors.INVALID_QUERY, f"{op} has {len(arg)} values, which exceeds the limit of {self.limits.in_size}.")
        flat: list = []
        for item in arg:
            if isinstance(item, list) and kind != "Array":
                flat.extend(item)
            else:
                flat.append(item)
        return [self._atom(v, kind, key) for v in flat]

    def _all(self, arg: Any, kind: str | None, key: str) -> list:
        if not isinstance(arg, list):
            raise ParseError(errors.INVALID_JSON, "bad $all value")
        regexes = [isinstance(v, dict) and "$regex" in v for v in arg]
        if any(regexes) and not all(regexes):
            raise ParseError(errors.INVALID_JSON, "All $all values must be of regex type or none: " + str(arg))
        if all(regexes) and arg:
            return [{"$regex": check_regex(v["$regex"], v.get("$options")), **({"$options": v["$options"]} if v.get("$options") else {})} for v in arg]
        return [self._atom(v, kind, key) for v in arg]

    def _subquery(self, op: str, arg: Any) -> dict:
        if op in ("$select", "$dontSelect"):
            if not isinstance(arg, dict) or set(arg) != {"query", "key"} or not isinstance(arg["query"], dict):
                raise ParseError(errors.INVALID_QUERY, f"improper usage of {op}")
            if not isinstance(arg["key"], str):
                raise ParseError(errors.INVALID_QUERY, f"improper usage of {op}")
            query = arg["query"]
        else:
            if not isinstance(arg, dict):
                raise ParseError(errors.INVALID_QUERY, f"improper usage of {op}")
            query = arg
        class_name = query.get("className")
        if not types.is_valid_class_name(class_name):
            raise ParseError(errors.INVALID_QUERY, f"improper usage of {op}")
        sub_where = query.get("where", {})
        if not isinstance(sub_where, dict):
            raise ParseError(errors.INVALID_QUERY, f"improper usage of {op}")
        return arg


# Typed values Parse Server's Mongo transform accepts as a top-level query atom.
_ATOM_TYPES = frozenset({"Pointer", "Object", "Date", "Bytes", "GeoPoint", "Polygon", "File"})


def js_string(value: Any) -> str:
    """``String(value)`` in JavaScript, for messages that quote a value the
    way Parse Server's template strings do."""
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_equality_atom(value: Any) -> None:
    """A plain object is no equality value for a top-level key: Parse Server
    on MongoDB refuses it. An array is (``equalTo('tags', ['a', 'b'])``
    matches an array equal to it, as MongoDB's equality does)."""
    if isinstance(value, dict) and value.get("__type") not in _ATOM_TYPES:
        raise ParseError(errors.INVALID_JSON, f"You cannot use {js_string(value)} as a query parameter.")


def check_plain_atom(value: Any) -> None:
    """Operands of $lt/$gt/$eq/$ne (outside Array fields) must be atoms."""
    if isinstance(value, list) or (isinstance(value, dict) and value.get("__type") not in _ATOM_TYPES):
        dumped = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        raise ParseError(errors.INVALID_JSON, f"bad atom: {dumped}")


def types_geopoint(value: dict) -> dict:
    lat, lng = types.check_geopoint(value)
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


def check_box(arg: Any) -> dict:
    box = arg.get("$box") if isinstance(arg, dict) else None
    if not isinstance(box, list) or len(box) != 2:
        raise ParseError(errors.INVALID_JSON, "malformatted $within arg")
    return {"$box": [types_geopoint(p if isinstance(p, dict) else {}) for p in box]}


def check_geo_within(arg: Any) -> dict:
    if not isinstance(arg, dict):
        raise ParseError(errors.INVALID_JSON, "bad $geoWithin value")
    if "$polygon" in arg:
        poly = arg["$polygon"]
        if isinstance(poly, dict) and poly.get("__type") == "Polygon":
            types.check_polygon(poly)
            return {"$polygon": poly}
        if not isinstance(poly, list) or len(poly) < 3:
            raise ParseError(errors.INVALID_JSON, "bad $geoWithin value; $polygon should contain at least 3 GeoPoints")
        return {"$polygon": [types_geopoint(p if isinstance(p, dict) else {}) for p in poly]}
    if "$centerSphere" in arg:
        value = arg["$centerSphere"]
        if not isinstance(value, list) or len(value) != 2:
            raise ParseError(errors.INVALID_JSON, "bad $geoWithin value; $centerSphere should be an array of Parse.GeoPoint and distance")
        center, radius = value
        if isinstance(center, list) and len(center) == 2:
            center = {"__type": "GeoPoint", "latitude": center[1], "longitude": center[0]}
        if not isinstance(center, dict):
            raise ParseError(errors.INVALID_JSON, "bad $geoWithin value; $centerSphere geo point invalid")
        if not isinstance(radius, (int, float)) or isinstance(radius, bool) or radius < 0:
            raise ParseError(errors.INVALID_JSON, "bad $geoWithin value; $centerSphere distance invalid")
        return {"$centerSphere": [types_geopoint(center), radius]}
    raise ParseError(errors.INVALID_JSON, "bad $geoWithin value; $polygon or $centerSphere required")


def check_regex(pattern: Any, options: Any) -> str:
    """Validates a ``$regex``/``$options`` pair with the matcher's compiler,
    which understands the PCRE ``\\Q...\\E`` quoting the SDKs' startsWith,
    endsWith and contains send (Python's ``re`` rejects it)."""
    compile_regex(pattern, options)
    return pattern


def check_text(arg: Any) -> dict:
    search = arg.get("$search") if isinstance(arg, dict) else None
    if not isinstance(search, dict):
        raise ParseError(errors.INVALID_JSON, "bad $text: $search, should be object")
    if not isinstance(search.get("$term"), str):
        raise ParseError(errors.INVALID_JSON, "bad $text: $term, should be string")
    if "$language" in search and not isinstance(search["$language"], str):
        raise ParseError(errors.INVALID_JSON, "bad $text: $language, should be string")
    for flag in ("$caseSensitive", "$diacriticSensitive"):
        if flag in search and not isinstance(search[flag], bool):
            raise ParseError(errors.INVALID_JSON, f"bad $text: {flag}, should be boolean")
    return arg


_RELATIVE_RE = re.compile(r"^(in\s+)?(.+?)(\s+ago)?$")
_UNITS = {
    "yr": 365 * 86400, "yrs": 365 * 86400, "year": 365 * 86400, "years": 365 * 86400,
    "wk": 7 * 86400, "wks": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400,
    "d": 86400, "day": 86400, "days": 86400,
    "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}


def relative_time(text: Any, base: datetime | None = None) -> datetime:
    """Parse Server's ``$relativeTime``: "3 days ago", "in 2 hours", "now"."""
    base = base or datetime.now(UTC)
    if not isinstance(text, str):
        raise ParseError(errors.INVALID_JSON, "$relativeTime must be a string")
    text = text.strip().lower()
    if text == "now":
        return base
    future = text.startswith("in ")
    past = text.endswith(" ago")
    if future == past:
        raise ParseError(errors.INVALID_JSON, "Time should either start with 'in' or end with 'ago'")
    body = text[3:] if future else text[:-4]
    parts = body.split()
    if len(parts) % 2:
        raise ParseError(errors.INVALID_JSON, "Invalid time string. Dangling unit or number.")
    seconds = 0.0
    for amount, unit in zip(parts[::2], parts[1::2], strict=True):
        try:
            value = float(amount)
        except ValueError:
            raise ParseError(errors.INVALID_JSON, f"'{amount}' is not an integer.") from None
        if unit not in _UNITS:
            raise ParseError(errors.INVALID_JSON, f"Invalid interval: '{unit}'")
        seconds += value * _UNITS[unit]
    delta = timedelta(seconds=seconds)
    return base + delta if future else base - delta


def walk_keys(where: dict):
    """Yields every field key constrained anywhere in a where tree (for
    protected-field checks)."""
    for key, value in where.items():
        if key in LOGICAL:
            for sub in value:
                yield from walk_keys(sub)
        elif key != "$relatedTo":
            yield key
