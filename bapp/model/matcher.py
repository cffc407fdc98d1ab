"""Evaluate a Parse ``where`` clause against one object, in memory.

Two callers need this: LiveQuery (match the object before and after a write
against every subscription) and the in-memory storage backend (which cannot
run geo operators or ``$text`` itself).  Answers follow what Parse Server
returns through MongoDB, and malformed constraints raise the same ParseError
codes Parse Server's query transform raises, so a bad query fails the same
way whichever backend serves it.

Objects and ``where`` values are REST JSON (``{"__type": "Date", ...}``,
pointers, GeoPoints ...); top-level ``createdAt``/``updatedAt`` are ISO strings.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bapp.errors import INVALID_JSON, INVALID_KEY_NAME, INVALID_QUERY, ParseError
from bapp.model import geo
from bapp.model.text_search import TextSearch

log = logging.getLogger("bapp.matcher")

try:  # `regex` can abort a runaway match (ReDoS); the stdlib `re` cannot.
    import regex as _engine

    _HAS_TIMEOUT = True
except ImportError:  # pragma: no cover - dependency missing
    _engine = re  # type: ignore[assignment]
    _HAS_TIMEOUT = False

DEFAULT_REGEX_TIMEOUT = 0.1  # seconds of regex work allowed per evaluation
LIVE_MAX_DEPTH = 20  # $or/$and/$nor nesting accepted for a subscription
EVAL_MAX_DEPTH = 100  # hard cap for any caller: keeps recursion bounded
MAX_REGEX_LENGTH = 32764  # MongoDB's limit on a pattern's length

_LOGICAL = {
    "$or": "Bad $or format - use an array value.",
    "$and": "Bad $and format - use an array value.",
    "$nor": "Bad $nor format - use an array of at least 1 value.",
}
# These need other objects (sub-queries, relation join tables).
_UNDECIDABLE = frozenset({"$inQuery", "$notInQuery", "$select", "$dontSelect", "$relatedTo"})
# Top-level fields Parse stores as dates but sends as plain ISO strings.
_ISO_DATE_FIELDS = frozenset({"createdAt", "updatedAt", "expiresAt"})
_REF_TYPES = ("Pointer", "Object")
_RANGE_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": operator.lt,
    "$lte": operator.le,
    "$gt": operator.gt,
    "$gte": operator.ge,
}
_DT_MAX = datetime.max.replace(tzinfo=UTC)
_DT_MIN = datetime.min.replace(tzinfo=UTC)

Getter = Callable[[dict], list]


class _Ctx:
    """Per-evaluation state: one regex time budget and one notion of "now"."""

    __slots__ = ("deadline", "now", "timeout")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout and timeout > 0 else None
        self.now = datetime.now(UTC)

    def search(self, pattern: Any, text: str) -> bool:
        if self.deadline is None or not _HAS_TIMEOUT:  # no budget (Parse's regexTimeout 0)
            return pattern.search(text) is not None
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return pattern.search(text, timeout=remaining) is not None
        except TimeoutError:
            raise ParseError(
                INVALID_QUERY, f"Regex timeout: evaluating the pattern took longer than {self.timeout}s"
            ) from None


Pred = Callable[[dict, _Ctx], bool]


# --------------------------------------------------------------------- values


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _parse_iso(s: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _pyval(v: Any) -> Any:
    """Decode a REST Date to an aware datetime so dates compare by instant."""
    if isinstance(v, dict) and v.get("__type") == "Date":
        iso = v.get("iso")
        d = _parse_iso(iso) if isinstance(iso, str) else None
        return d if d is not None else v
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    return v


def _js(v: Any) -> str:
    """Render a value roughly as JavaScript string concatenation would, for
    error messages that mirror Parse Server's."""
    if isinstance(v, dict):
        return f"/{v['$regex']}/" if "$regex" in v else "[object Object]"
    if isinstance(v, list):
        return ",".join(_js(x) for x in v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _dump(v: Any) -> str:
    try:
        return json.dumps(v, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(v)


def _is_ref(v: Any) -> bool:
    return isinstance(v, dict) and v.get("__type") in _REF_TYPES


def _eq(a: Any, b: Any) -> bool:
    """MongoDB-style equality of REST values: numbers by value, booleans apart
    from numbers, dates by instant, pointers by class and id (a bare objectId
    string equals a pointer with that id, as Parse allows for pointer fields)."""
    a, b = _pyval(a), _pyval(b)
    if isinstance(a, datetime) or isinstance(b, datetime):
        return isinstance(a, datetime) and isinstance(b, datetime) and a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dict) and isinstance(b, dict):
        return _dict_eq(a, b)
    if isinstance(a, dict) and isinstance(b, str):
        return _is_ref(a) and a.get("objectId") == b
    if isinstance(a, str) and isinstance(b, dict):
        return _is_ref(b) and b.get("objectId") == a
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
    return False


def _dict_eq(a: dict, b: dict) -> bool:
    ta, tb = a.get("__type"), b.get("__type")
    if ta in _REF_TYPES or tb in _REF_TYPES:
        return (
            ta in _REF_TYPES
            and tb in _REF_TYPES
            and a.get("className") == b.get("className")
            and a.get("objectId") == b.get("objectId")
        )
    if ta != tb:
        return False
    if ta == "File":  # only the name is stored; the url is computed
        return a.get("name") == b.get("name")
    if ta == "GeoPoint":
        return _eq(a.get("latitude"), b.get("latitude")) and _eq(a.get("longitude"), b.get("longitude"))
    if ta == "Bytes":
        return a.get("base64") == b.get("base64")
    return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)


def _cmp_class(v: Any) -> str | None:
    if isinstance(v, bool):
        return "bool"
    if _is_num(v):
        return "num"
    if isinstance(v, str):
        return "str"
    if isinstance(v, datetime):
        return "date"
    return None


def _compare(a: Any, b: Any, fn: Callable[[Any, Any], bool]) -> bool:
    """Range comparison within one type class only, as MongoDB brackets types."""
    a = _pyval(a)
    cls = _cmp_class(a)
    return cls is not None and cls == _cmp_class(b) and fn(a, b)


def _expand(values: Iterable[Any]) -> Iterator[Any]:
    """Each resolved value, then the elements of array values (MongoDB matches
    a scalar condition against the array itself and against each element)."""
    for v in values:
        yield v
        if isinstance(v, list):
            yield from v


def _walk(cur: Any, parts: list[str], i: int, out: list) -> None:
    if i == len(parts):
        out.append(cur)
        return
    key = parts[i]
    if isinstance(cur, dict):
        if key in cur:
            _walk(cur[key], parts, i + 1, out)
    elif isinstance(cur, list):
        if key.isdigit() and int(key) < len(cur):
            _walk(cur[int(key)], parts, i + 1, out)
        for el in cur:  # dot notation reaches into arrays of objects
            if isinstance(el, dict):
                _walk(el, parts, i, out)


def _make_getter(key: str) -> Getter:
    parts = key.split(".")
    if len(parts) > 1:

        def get_path(obj: dict) -> list:
            out: list = []
            _walk(obj, parts, 0, out)
            return out

        return get_path
    as_date = key in _ISO_DATE_FIELDS

    def get(obj: dict) -> list:
        if key not in obj:
            return []
        v = obj[key]
        if as_date and isinstance(v, str):
            v = _parse_iso(v) or v
        return [v]

    return get


def _null_match(values: list) -> bool:
    return not values or any(c is None for c in _expand(values))


def _prim_key(v: Any) -> tuple[str, Any] | None:
    if isinstance(v, str):
        return ("s", v)
    if _is_num(v):
        return ("n", v)
    return None


class _InSet:
    """``$in`` candidates with a hash lookup for strings and numbers, so a
    10,000-value list stays cheap; other values go through ``_eq``."""

    __slots__ = ("has_null", "keys", "others")

    def __init__(self, values: list) -> None:
        self.keys = {k for k in map(_prim_key, values) if k is not None}
        self.others = [v for v in values if _prim_key(v) is None]
        self.has_null = any(v is None for v in values)

    def hit(self, c: Any) -> bool:
        key = _prim_key(c)
        if key is not None and key in self.keys:
            return True
        if _is_ref(c) and ("s", c.get("objectId")) in self.keys:  # bare objectId for a pointer
            return True
        return any(_eq(c, v) for v in self.others)

    def match(self, values: list) -> bool:
        if not values:
            return self.has_null
        return any(self.hit(c) for c in _expand(values))


# ---------------------------------------------------------------------- regex


def _translate_pcre(pattern: str) -> str:
    """Rewrite the PCRE features MongoDB accepts but Python engines lack:
    ``\\Q...\\E`` literal quoting (the SDKs' startsWith/contains use it) and
    ``\\Z`` (end or before a final newline)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(_engine.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if nxt == "E":  # a stray \E is ignored by PCRE
                i += 2
                continue
            out.append("(?=\\n?\\Z)" if nxt == "Z" else pattern[i : i + 2])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_FLAGS = {"i": _engine.IGNORECASE, "m": _engine.MULTILINE, "s": _engine.DOTALL, "x": _engine.VERBOSE}


@functools.lru_cache(maxsize=2048)
def _compile_cached(pattern: str, options: str) -> Any:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ParseError(INVALID_QUERY, "Invalid regular expression: pattern is too long")
    flags = 0
    for ch in options:
        flags |= _FLAGS[ch]
    try:
        return _engine.compile(_translate_pcre(pattern), flags)
    except (_engine.error, ValueError, TypeError, OverflowError, RecursionError, IndexError) as exc:
        log.info("invalid regular expression %r: %s", pattern, exc)
        raise ParseError(INVALID_QUERY, "Invalid regular expression.") from None


def compile_regex(pattern: Any, options: Any = None) -> Any:
    """Validate and compile a ``$regex``/``$options`` pair (cached).

    Parse Server 9's checks and messages (102): a non-string pattern or
    options, options other than the letters ``imxsu``; a pattern that does
    not compile -> 102 ``Invalid regular expression.`` (the regex engine's
    own text says nothing a client can use).
    """
    if not isinstance(pattern, str):
        raise ParseError(INVALID_QUERY, "$regex value must be a string")
    if options is None:
        options = ""
    elif not isinstance(options, str):
        raise ParseError(INVALID_QUERY, "$options value must be a string")
    elif not re.fullmatch(r"[imxsu]+", options):
        raise ParseError(INVALID_QUERY, f"Bad $options value for query: {options}")
    # "u" (Unicode) is what Python's str patterns always are.
    return _compile_cached(pattern, "".join(sorted(set(options) - {"u"})))


# ---------------------------------------------------------------- constraints


def _undecidable(op: str) -> ParseError:
    return ParseError(INVALID_QUERY, f"{op} cannot be evaluated against a single object")


def _where_value(v: Any, as_date: bool = False) -> Any:
    """Decode a where-side atom.  A malformed Date is refused like Parse does."""
    if isinstance(v, dict) and v.get("__type") == "Date":
        d = _pyval(v)
        if not isinstance(d, datetime):
            raise ParseError(INVALID_JSON, f"bad atom: {_dump(v)}")
        return d
    if as_date and isinstance(v, str):
        return _parse_iso(v) or v
    return v


_INTERVALS = {
    **dict.fromkeys(("yr", "yrs", "year", "years"), 31536000),
    **dict.fromkeys(("wk", "wks", "week", "weeks"), 604800),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("sec", "secs", "second", "seconds"), 1),
}


def _relative_seconds(op: str, text: Any) -> float:
    """Parse ``"3 days ago"`` / ``"in 2 hours"`` / ``"now"`` into signed seconds
    with Parse Server's grammar and error texts."""

    def bad(info: str) -> ParseError:
        return ParseError(INVALID_JSON, f"bad $relativeTime ({op}) value. {info}")

    if not isinstance(text, str):
        raise bad("$relativeTime should be a string")
    text = text.lower()
    parts = [p for p in text.split(" ") if p]
    future, past = parts[:1] == ["in"], parts[-1:] == ["ago"]
    if not future and not past and text != "now":
        raise bad("Time should either start with 'in' or end with 'ago'")
    if future and past:
        raise bad("Time cannot have both 'in' and 'ago'")
    parts = parts[1:] if future else parts[:-1]
    if len(parts) % 2 and text != "now":
        raise bad("Invalid time string. Dangling unit or number.")
    total = 0.0
    for num, unit in zip(parts[0::2], parts[1::2], strict=True):
        try:
            val = float(num)
        except ValueError:
            val = math.nan
        if not val.is_integer():
            raise bad(f"'{num}' is not an integer.")
        if unit not in _INTERVALS:
            raise bad(f"Invalid interval: '{unit}'")
        total += val * _INTERVALS[unit]
    return total if future else -total


def _shift(now: datetime, seconds: float) -> datetime:
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        return _DT_MAX if seconds > 0 else _DT_MIN


def _is_relative(v: Any) -> bool:
    return isinstance(v, dict) and "$relativeTime" in v


def _no_relative(op: str, v: Any) -> None:
    if _is_relative(v):
        raise ParseError(INVALID_JSON, "$relativeTime can only be used with the $lt, $lte, $gt, and $gte operators")


def _op_range(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    fn = _RANGE_OPS[op]
    if _is_relative(val):
        offset = _relative_seconds(op, val["$relativeTime"])
        return lambda obj, ctx: any(_compare(c, _shift(ctx.now, offset), fn) for c in _expand(get(obj)))
    if isinstance(val, list) or (isinstance(val, dict) and "__type" not in val):
        raise ParseError(INVALID_JSON, f"bad atom: {_dump(val)}")
    bound = _where_value(val)
    if bound is None:  # MongoDB: $lte/$gte null behave as equality with null
        return (lambda obj, ctx: _null_match(get(obj))) if op in ("$lte", "$gte") else (lambda obj, ctx: False)
    return lambda obj, ctx: any(_compare(c, bound, fn) for c in _expand(get(obj)))


def _op_eq(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    _no_relative(op, val)
    pred = _eq_pred(get, _where_value(val))
    return pred if op == "$eq" else (lambda obj, ctx: not pred(obj, ctx))


def _eq_pred(get: Getter, b: Any) -> Pred:
    if b is None:
        return lambda obj, ctx: _null_match(get(obj))
    return lambda obj, ctx: any(_eq(c, b) for c in _expand(get(obj)))


def _op_in(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    if not isinstance(val, list):
        raise ParseError(INVALID_JSON, f"bad {op} value")
    flat: list = []
    for item in val:  # Parse flattens nested arrays one level
        flat.extend(item if isinstance(item, list) else [item])
    candidates = _InSet([_where_value(v) for v in flat])
    if op == "$in":
        return lambda obj, ctx: candidates.match(get(obj))
    return lambda obj, ctx: not candidates.match(get(obj))


def _op_exists(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    _no_relative(op, val)
    want = bool(val) if isinstance(val, (bool, int, float)) or val is None else True
    return lambda obj, ctx: bool(get(obj)) == want


def _is_starts_with(v: Any) -> bool:
    return isinstance(v, dict) and "$regex" in v and re.search(r"/\^\\Q.*\\E/", f"/{v['$regex']}/") is not None


def _op_all(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    if not isinstance(val, list):
        raise ParseError(INVALID_JSON, "bad $all value")
    is_rx = [isinstance(v, dict) and "$regex" in v for v in val]
    if any(is_rx):  # Parse: regexes only as startsWith, and never mixed with values
        first = _is_starts_with(val[0])
        consistent = first if len(val) == 1 else all(_is_starts_with(v) == first for v in val[1:])
        if not consistent:
            raise ParseError(INVALID_JSON, f"All $all values must be of regex type or none: {_js(val)}")
    items = [
        (compile_regex(v["$regex"]), None) if rx else (None, _where_value(v)) for v, rx in zip(val, is_rx, strict=True)
    ]

    def pred(obj: dict, ctx: _Ctx) -> bool:
        cands = list(_expand(get(obj)))
        if not cands or not items:
            return False
        for rx, value in items:
            if rx is not None:
                if not any(isinstance(c, str) and ctx.search(rx, c) for c in cands):
                    return False
            elif not any(_eq(c, value) for c in cands):
                return False
        return True

    return pred


def _op_contained_by(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    if not isinstance(val, list):
        raise ParseError(INVALID_JSON, "bad $containedBy: should be an array")
    allowed = [_where_value(v) for v in val]

    def pred(obj: dict, ctx: _Ctx) -> bool:
        # Parse sends $nor:[{f:{$elemMatch:{$nin:list}}}]: non-arrays and missing fields pass.
        return not any(
            isinstance(v, list) and any(not any(_eq(el, a) for a in allowed) for el in v) for v in get(obj)
        )

    return pred


def _op_regex(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    rx = compile_regex(val, cons.get("$options"))
    return lambda obj, ctx: any(isinstance(c, str) and ctx.search(rx, c) for c in _expand(get(obj)))


def _op_text(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    search = val.get("$search") if isinstance(val, dict) else None
    if not isinstance(search, dict):
        raise ParseError(INVALID_JSON, "bad $text: $search, should be object")
    term = search.get("$term")
    if not term or not isinstance(term, str):
        raise ParseError(INVALID_JSON, "bad $text: $term, should be string")
    language, case, diacritic = (search.get(k) for k in ("$language", "$caseSensitive", "$diacriticSensitive"))
    for name, value, typ, label in (
        ("$language", language, str, "string"),
        ("$caseSensitive", case, bool, "boolean"),
        ("$diacriticSensitive", diacritic, bool, "boolean"),
    ):
        if value and not isinstance(value, typ):
            raise ParseError(INVALID_JSON, f"bad $text: {name}, should be {label}")
    spec = TextSearch(term, language or None, bool(case), bool(diacritic))
    return lambda obj, ctx: spec.matches([c for c in _expand(get(obj)) if isinstance(c, str)])


_DISTANCE_KEYS: tuple[tuple[str, Callable[[float], float]], ...] = (
    # Parse applies these in reverse key order, so a later entry wins.
    ("$maxDistanceInRadians", float),
    ("$maxDistanceInMiles", geo.miles_to_radians),
    ("$maxDistanceInKilometers", geo.km_to_radians),
    ("$maxDistance", float),
)


def _points(get: Getter, obj: dict) -> Iterator[tuple[float, float]]:
    for c in _expand(get(obj)):
        p = geo.try_geopoint(c)
        if p is not None:
            yield p


def _op_near(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    lat, lng = geo.parse_geopoint(val)
    limit = math.inf
    for key, to_radians in _DISTANCE_KEYS:
        d = cons.get(key)
        if d is None:
            continue
        if not _is_num(d) or math.isnan(d) or d < 0:
            raise ParseError(INVALID_JSON, f"bad {key} value")
        limit = to_radians(d)
    return lambda obj, ctx: any(geo.haversine_radians(p[0], p[1], lat, lng) <= limit for p in _points(get, obj))


def _op_within(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    sw, ne = geo.parse_box(val)
    return lambda obj, ctx: any(geo.point_in_box(p[0], p[1], sw, ne) for p in _points(get, obj))


def _op_geo_within(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    if not isinstance(val, dict):
        raise ParseError(INVALID_JSON, "bad $geoWithin value")
    if "$polygon" in val:
        ring = geo.parse_within_polygon(val["$polygon"])
        return lambda obj, ctx: any(geo.point_in_polygon(p[0], p[1], ring) for p in _points(get, obj))
    if "$centerSphere" in val:
        (clat, clng), radius = geo.parse_center_sphere(val["$centerSphere"])
        return lambda obj, ctx: any(
            geo.within_center_sphere(p[0], p[1], clat, clng, radius) for p in _points(get, obj)
        )
    return lambda obj, ctx: True  # Parse ignores a $geoWithin with neither shape


def _op_geo_intersects(op: str, val: Any, cons: dict, get: Getter) -> Pred:
    point = val.get("$point") if isinstance(val, dict) else None
    if not geo.is_geopoint_json(point):
        raise ParseError(INVALID_JSON, "bad $geoIntersect value; $point should be GeoPoint")
    lat, lng = geo.parse_geopoint(point)

    def pred(obj: dict, ctx: _Ctx) -> bool:
        rings = (geo.try_polygon(c) for c in _expand(get(obj)))
        return any(ring is not None and geo.point_in_polygon(lat, lng, ring) for ring in rings)

    return pred


def _op_modifier(op: str, val: Any, cons: dict, get: Getter) -> None:
    """``$options`` and ``$maxDistance*`` only qualify a sibling operator."""


_OPS: dict[str, Callable[[str, Any, dict, Getter], Pred | None]] = {
    **dict.fromkeys(_RANGE_OPS, _op_range),
    "$eq": _op_eq,
    "$ne": _op_eq,
    "$in": _op_in,
    "$nin": _op_in,
    "$exists": _op_exists,
    "$all": _op_all,
    "$containedBy": _op_contained_by,
    "$regex": _op_regex,
    "$text": _op_text,
    "$nearSphere": _op_near,
    "$within": _op_within,
    "$geoWithin": _op_geo_within,
    "$geoIntersects": _op_geo_intersects,
    **dict.fromkeys(("$options", *(k for k, _ in _DISTANCE_KEYS)), _op_modifier),
}


# ------------------------------------------------------------------- compiler


def _all_of(preds: list[Pred]) -> Pred:
    if not preds:
        return lambda obj, ctx: True
    if len(preds) == 1:
        return preds[0]
    return lambda obj, ctx: all(p(obj, ctx) for p in preds)


def _compile_field(key: str, value: Any) -> Pred:
    get = _make_getter(key)
    # Parse treats a value as constraints only when every key is an operator;
    # anything else (typed JSON, plain objects) is a literal to compare with.
    if isinstance(value, dict) and value and all(k.startswith("$") for k in value):
        preds = []
        for op, val in value.items():
            if op in _UNDECIDABLE:
                raise _undecidable(op)
            handler = _OPS.get(op)
            if handler is None:
                raise ParseError(INVALID_JSON, f"bad constraint: {op}")
            pred = handler(op, val, value, get)
            if pred is not None:
                preds.append(pred)
        return _all_of(preds)
    return _eq_pred(get, _where_value(value, as_date=key in _ISO_DATE_FIELDS))


def _compile_where(where: Any, depth: int, max_depth: int) -> Pred:
    if not isinstance(where, dict):
        raise ParseError(INVALID_QUERY, "Invalid where clause: expected a JSON object")
    preds: list[Pred] = []
    for key, value in where.items():
        if key in _LOGICAL:
            preds.append(_compile_logical(key, value, depth, max_depth))
        elif key in _UNDECIDABLE:
            raise _undecidable(key)
        elif key.startswith("$"):
            raise ParseError(INVALID_KEY_NAME, f"Invalid key name: {key}")
        elif key == "ACL":
            raise ParseError(INVALID_QUERY, "Cannot query on ACL.")
        else:
            preds.append(_compile_field(key, value))
    return _all_of(preds)


def _compile_logical(op: str, value: Any, depth: int, max_depth: int) -> Pred:
    if depth + 1 > max_depth:
        raise ParseError(INVALID_QUERY, f"Query condition nesting depth exceeds the maximum of {max_depth}")
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise ParseError(INVALID_QUERY, _LOGICAL[op])
    subs = [_compile_where(v, depth + 1, max_depth) for v in value]
    if op == "$or":
        return lambda obj, ctx: any(s(obj, ctx) for s in subs)
    if op == "$and":
        return lambda obj, ctx: all(s(obj, ctx) for s in subs)
    return lambda obj, ctx: not any(s(obj, ctx) for s in subs)


class CompiledWhere:
    """A validated ``where`` clause; compile once (per subscription), match often."""

    __slots__ = ("_pred",)

    def __init__(self, pred: Pred) -> None:
        self._pred = pred

    def matches(self, obj: dict, *, regex_timeout: float | None = DEFAULT_REGEX_TIMEOUT) -> bool:
        """``regex_timeout`` bounds all regex work of this one evaluation;
        ``None`` or ``0`` lifts the bound."""
        if not isinstance(obj, dict):
            return False
        try:
            return self._pred(obj, _Ctx(regex_timeout))
        except RecursionError:
            raise ParseError(INVALID_QUERY, "Object nesting too deep to evaluate the query") from None


def compile_where(where: Any, *, max_depth: int = EVAL_MAX_DEPTH) -> CompiledWhere:
    """Validate ``where`` and build its matcher; raises the ParseError a query
    with that clause would fail with."""
    try:
        return CompiledWhere(_compile_where(where, 0, min(max_depth, EVAL_MAX_DEPTH)))
    except RecursionError:
        raise ParseError(INVALID_QUERY, "Query nesting too deep") from None


def matches(
    obj: dict, where: dict, *, regex_timeout: float | None = DEFAULT_REGEX_TIMEOUT, max_depth: int = EVAL_MAX_DEPTH
) -> bool:
    """Would ``obj`` (REST JSON) be returned by a query with this ``where``?"""
    return compile_where(where, max_depth=max_depth).matches(obj, regex_timeout=regex_timeout)


def validate_live_where(where: dict, max_depth: int = LIVE_MAX_DEPTH) -> None:
    """Refuse a subscription ``where`` that cannot be decided on one object
    (sub-queries, relations), is malformed, nests ``$or/$and/$nor`` deeper
    than ``max_depth`` or carries an invalid regex -- at subscribe time, not
    on every event."""
    compile_where(where, max_depth=max_depth)
