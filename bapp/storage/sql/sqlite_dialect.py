"""The SQLite dialect: the same layout as the PostgreSQL store (a table per
class, a column per field) in SQLite's types, with its JSON functions.

Encodings: strings, pointers (the objectId) and file names as TEXT, numbers
as REAL, booleans as 0/1, dates as ISO-8601 UTC text with milliseconds
(which orders and compares like the instant), Objects, Arrays, Bytes and the
``_rperm``/``_wperm`` lists as JSON text, a GeoPoint as its REST JSON, a
Polygon as its coordinate list. Regexes, ``$text`` relevance and sphere
distances are decided by functions registered on every connection that call
Parse's model code (``bapp/model``), so they agree with the in-memory store
and LiveQuery's matcher."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from bapp.model import geo, types
from bapp.model.text_search import TextSearch
from bapp.storage.sql.dialect import Bind, Dialect

_COLUMN_TYPES = {
    "String": "TEXT", "Number": "REAL", "Boolean": "INTEGER", "Date": "TEXT", "Pointer": "TEXT", "File": "TEXT",
    "Object": "TEXT", "Array": "TEXT", "Bytes": "TEXT", "GeoPoint": "TEXT", "Polygon": "TEXT", "Perms": "TEXT",
}
_JSON_TYPES = {
    "string": "= 'text'", "number": "IN ('integer', 'real')", "boolean": "IN ('true', 'false')",
    "object": "= 'object'", "array": "= 'array'", "null": "= 'null'",
}
# The compiler's placeholders; no other "?<digits>" occurs in its SQL (values are never spliced in).
_PLACEHOLDER = re.compile(r"\?(\d+)")
_JSON_STORED = frozenset({"Object", "Array", "Bytes", "Perms"})


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def json_path(path: list[str]) -> str:
    """A JSON path (``$."a"."b"``); keys come from validated field names."""
    return "$" + "".join('."' + key.replace('"', '') + '"' for key in path)


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# ------------------------------------------------------------ registered functions

def _text_search(term: str, language: str | None) -> TextSearch:
    return TextSearch(term, language or None, False, False)


def text_match(term: Any, language: Any, text: Any) -> int:
    if not isinstance(term, str) or not isinstance(text, str):
        return 0
    return int(_text_search(term, language).matches([text]))


def text_score(term: Any, language: Any, text: Any) -> float:
    if not isinstance(term, str) or not isinstance(text, str):
        return 0.0
    return _text_search(term, language).score([text])


def _point(raw: Any) -> tuple[float, float] | None:
    if not isinstance(raw, str):
        return None
    try:
        value = orjson.loads(raw)
        return float(value["latitude"]), float(value["longitude"])
    except (ValueError, TypeError, KeyError):
        return None


def sphere_distance(raw: Any, lat: float, lng: float) -> float | None:
    point = _point(raw)
    return None if point is None else geo.haversine_radians(point[0], point[1], lat, lng)


def in_box(raw: Any, box: str) -> int:
    point = _point(raw)
    if point is None:
        return 0
    sw, ne = orjson.loads(box)
    return int(geo.point_in_box(point[0], point[1], sw, ne))


def in_polygon(raw: Any, ring: str) -> int:
    point = _point(raw)
    return 0 if point is None else int(geo.point_in_polygon(point[0], point[1], orjson.loads(ring)))


def polygon_has(raw: Any, lat: float, lng: float) -> int:
    if not isinstance(raw, str):
        return 0
    return int(geo.polygon_contains_point(orjson.loads(raw), [lat, lng]))


FUNCTIONS = {
    "parse_text_match": (3, text_match),
    "parse_text_score": (3, text_score),
    "parse_distance": (3, sphere_distance),
    "parse_in_box": (2, in_box),
    "parse_in_polygon": (2, in_polygon),
    "parse_polygon_has": (3, polygon_has),
}


class SqliteDialect(Dialect):
    name = "sqlite"
    binary_collation = ""  # SQLite compares text byte-wise (BINARY) already

    def placeholder(self, index: int) -> str:
        return f"?{index}"

    def finish(self, sql: str, params: list) -> tuple[str, list]:
        """Only the parameters the statement uses, renumbered (a constraint
        folded to TRUE/FALSE leaves its values unused, and SQLite refuses
        more values than placeholders)."""
        used = sorted({int(n) for n in _PLACEHOLDER.findall(sql)})
        if len(used) == len(params):
            return sql, params
        number = {old: new for new, old in enumerate(used, 1)}
        return _PLACEHOLDER.sub(lambda m: f"?{number[int(m.group(1))]}", sql), [params[i - 1] for i in used]

    def column_type(self, kind: str) -> str:
        return _COLUMN_TYPES.get(kind, "TEXT")

    def typed(self, placeholder: str, kind: str) -> str:
        return placeholder

    def to_db(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == "Date" and isinstance(value, datetime):
            return types.iso(value)
        if kind in _JSON_STORED:
            return dumps(value)
        if kind == "GeoPoint" and isinstance(value, dict):
            lat, lng = types.check_geopoint(value)
            return dumps({"__type": "GeoPoint", "latitude": lat, "longitude": lng})
        if kind == "Polygon" and isinstance(value, dict):
            ring = [[lat, lng] for lat, lng in types.check_polygon(value)]
            if ring[0] != ring[-1]:  # stored closed, as Parse Server stores polygons
                ring.append(list(ring[0]))
            return dumps(ring)
        if kind == "Boolean":
            return int(bool(value))
        return value

    def from_db(self, kind: str, raw: Any) -> Any:
        if raw is None:
            return None
        if kind == "Number":
            return _number(raw)
        if kind == "Boolean":
            return bool(raw)
        if kind == "Date":
            return {"__type": "Date", "iso": raw}
        if kind in _JSON_STORED:
            return orjson.loads(raw)
        if kind == "GeoPoint":
            return orjson.loads(raw)
        if kind == "Polygon":
            return {"__type": "Polygon", "coordinates": orjson.loads(raw)}
        return raw

    def json_param(self, bind: Bind, value: Any) -> str:
        return f"json({bind(dumps(value))})"

    # ------------------------------------------------------------ scalar columns
    def in_list(self, expr: str, kind: str, bind: Bind, values: list) -> str:
        return f"{expr} IN (SELECT value FROM json_each({bind(dumps(values))}))"

    def regex(self, expr: str, bind: Bind, pattern: str, options: str) -> str:
        return f"parse_regex({bind(pattern)}, {bind(options)}, {expr})"

    def perms_overlap(self, expr: str, bind: Bind, entries: list[str]) -> str:
        return (f"EXISTS (SELECT 1 FROM json_each({expr}) p "
                f"WHERE p.value IN (SELECT value FROM json_each({bind(dumps(entries))})))")

    # ------------------------------------------------------------ JSON values (always JSON text)
    def json_at(self, expr: str, path: list[str], bind: Bind) -> str:
        if not path:
            return expr
        return f"({expr} -> {bind(json_path(path))})"

    def json_text_at(self, expr: str, path: list[str], bind: Bind) -> str:
        return f"({expr} ->> {bind(json_path(path))})"

    def json_is(self, expr: str, json_type: str) -> str:
        return f"json_type({expr}) {_JSON_TYPES[json_type]}"

    @staticmethod
    def _same(a: str, b: str) -> str:
        """Elements ``a`` and ``b`` (json_each rows) hold equal JSON values
        (numbers by value, 1 never equal to true)."""
        kind = "(CASE WHEN {0}.type IN ('integer', 'real') THEN 'n' ELSE {0}.type END)"
        return f"({kind.format(a)} = {kind.format(b)} AND {a}.value IS {b}.value)"

    @staticmethod
    def _elements(expr: str) -> str:
        """The elements of an array, or the value itself (as MongoDB compares)."""
        return f"json_each(CASE WHEN json_type({expr}) = 'array' THEN {expr} ELSE json_array(json({expr})) END)"

    def json_equals(self, expr: str, bind: Bind, value: Any) -> str:
        p = bind(dumps([value]))
        found = f"EXISTS (SELECT 1 FROM {self._elements(expr)} x, json_each({p}) v WHERE {self._same('x', 'v')})"
        if not isinstance(value, list):
            return found
        # An array value also equals the whole array.
        return f"({found} OR (json_type({expr}) = 'array' AND json({expr}) = json({bind(dumps(value))})))"

    def json_compare(self, expr: str, op: str, bind: Bind, value: Any) -> str:
        if isinstance(value, dict):
            return (f"(CASE WHEN json_type({expr}) = 'object' AND ({expr} ->> '$.__type') = 'Date' "
                    f"THEN ({expr} ->> '$.iso') {op} {bind(value['iso'])} END)")
        if isinstance(value, str):
            return f"(CASE WHEN json_type({expr}) = 'text' THEN ({expr} ->> '$') {op} {bind(value)} END)"
        return f"(CASE WHEN json_type({expr}) IN ('integer', 'real') THEN ({expr} ->> '$') {op} {bind(value)} END)"

    def json_array_has_any(self, expr: str, bind: Bind, values: list) -> str:
        p = bind(dumps(values))
        return f"EXISTS (SELECT 1 FROM {self._elements(expr)} x, json_each({p}) v WHERE {self._same('x', 'v')})"

    def json_array_has_all(self, expr: str, bind: Bind, values: list) -> str:
        p = bind(dumps(values))
        return (f"(CASE WHEN json_type({expr}) = 'array' THEN NOT EXISTS (SELECT 1 FROM json_each({p}) v "
                f"WHERE NOT EXISTS (SELECT 1 FROM json_each({expr}) x WHERE {self._same('x', 'v')})) END)")

    def json_array_within(self, expr: str, bind: Bind, values: list) -> str:
        p = bind(dumps(values))
        return (f"(CASE WHEN json_type({expr}) = 'array' THEN NOT EXISTS (SELECT 1 FROM json_each({expr}) x "
                f"WHERE NOT EXISTS (SELECT 1 FROM json_each({p}) v WHERE {self._same('x', 'v')})) END)")

    def json_array_any_regex(self, expr: str, bind: Bind, pattern: str, options: str) -> str:
        return (f"(CASE WHEN json_type({expr}) = 'array' THEN EXISTS (SELECT 1 FROM json_each({expr}) x "
                f"WHERE x.type = 'text' AND parse_regex({bind(pattern)}, {bind(options)}, x.value)) END)")

    def json_array_any_text(self, expr: str) -> str:
        return (f"(SELECT group_concat(x.value, ' ') FROM json_each(CASE WHEN json_type({expr}) = 'array' "
                f"THEN {expr} ELSE '[]' END) x WHERE x.type = 'text')")

    # ------------------------------------------------------------ text search and geo
    def text_match(self, expr: str, bind: Bind, term: str, language: str | None) -> str:
        return f"parse_text_match({bind(term)}, {bind(language)}, {expr})"

    def text_score(self, expr: str, bind: Bind, term: str, language: str | None) -> str:
        return f"parse_text_score({bind(term)}, {bind(language)}, {expr})"

    def sphere_distance(self, expr: str, bind: Bind, lat: float, lng: float) -> str:
        return f"parse_distance({expr}, {bind(float(lat))}, {bind(float(lng))})"

    def point_in_box(self, expr: str, bind: Bind, south_west: tuple, north_east: tuple) -> str:
        return f"parse_in_box({expr}, {bind(dumps([list(south_west), list(north_east)]))})"

    def point_in_polygon(self, expr: str, bind: Bind, points: list[tuple]) -> str:
        return f"parse_in_polygon({expr}, {bind(dumps([list(p) for p in points]))})"

    def polygon_has_point(self, expr: str, bind: Bind, lat: float, lng: float) -> str:
        return f"parse_polygon_has({expr}, {bind(float(lat))}, {bind(float(lng))})"

    # ------------------------------------------------------------ updates (JSON text in, JSON text out)
    def _as_object(self, expr: str) -> str:
        return f"(CASE WHEN json_type({expr}) = 'object' THEN {expr} ELSE '{{}}' END)"

    def json_set(self, expr: str, path: list[str], value_sql: str, bind: Bind, nested: bool = False) -> str:
        base = self._as_object(expr) if nested else expr
        head = bind(json_path(path[:1]))
        if len(path) == 1:
            return f"json_set({base}, {head}, json({value_sql}))"
        child = f"({expr} -> {head})"
        return f"json_set({base}, {head}, json({self.json_set(child, path[1:], value_sql, bind, True)}))"

    def json_remove(self, expr: str, path: list[str], bind: Bind) -> str:
        return f"json_remove({expr}, {bind(json_path(path))})"

    def json_number_plus(self, current_sql: str, amount_placeholder: str) -> str:
        total = (f"(COALESCE(CASE WHEN json_type({current_sql}) IN ('integer', 'real') "
                 f"THEN ({current_sql} ->> '$') END, 0) + {amount_placeholder})")
        # A whole result is stored as an integer (3, not 3.0), as the other stores' JSON reads it back.
        return f"json_quote(CASE WHEN {total} = CAST({total} AS INTEGER) THEN CAST({total} AS INTEGER) ELSE {total} END)"

    @staticmethod
    def _aggregate(select: str) -> str:
        """A JSON array of the JSON values ``select`` yields (column ``v``, in order)."""
        return f"COALESCE((SELECT json_group_array(json(v)) FROM ({select})), '[]')"

    def json_array_append(self, array_sql: str, items_sql: str) -> str:
        return self._aggregate(
            f"SELECT v FROM (SELECT {array_sql} -> a.fullkey AS v, 0 AS s, a.key AS k FROM json_each({array_sql}) a "
            f"UNION ALL SELECT {items_sql} -> b.fullkey, 1, b.key FROM json_each({items_sql}) b) ORDER BY s, k")

    def json_array_union(self, array_sql: str, items_sql: str) -> str:
        fresh = (f"SELECT {items_sql} -> b.fullkey AS v, 1 AS s, b.key AS k FROM json_each({items_sql}) b "
                 f"WHERE NOT EXISTS (SELECT 1 FROM json_each({array_sql}) x WHERE {self._same('x', 'b')}) "
                 f"AND NOT EXISTS (SELECT 1 FROM json_each({items_sql}) e WHERE e.key < b.key "
                 f"AND {self._same('e', 'b')})")
        return self._aggregate(
            f"SELECT v FROM (SELECT {array_sql} -> a.fullkey AS v, 0 AS s, a.key AS k FROM json_each({array_sql}) a "
            f"UNION ALL {fresh}) ORDER BY s, k")

    def json_array_without(self, array_sql: str, items_sql: str) -> str:
        return self._aggregate(
            f"SELECT {array_sql} -> a.fullkey AS v FROM json_each({array_sql}) a "
            f"WHERE NOT EXISTS (SELECT 1 FROM json_each({items_sql}) r WHERE {self._same('r', 'a')}) ORDER BY a.key")

    def json_empty(self, kind: str) -> str:
        return "'{}'" if kind == "object" else "'[]'"

    def json_merge(self, expr: str, bind: Bind, value: dict, removed: list[str]) -> str:
        # Each key replaced whole (json_patch would merge nested objects).
        merged = f"COALESCE({expr}, '{{}}')"
        for key, item in value.items():
            merged = f"json_set({merged}, {bind(json_path([key]))}, {self.json_param(bind, item)})"
        for key in removed:
            merged = f"json_remove({merged}, {bind(json_path([key]))})"
        return merged

    # ------------------------------------------------------------ statements
    def limit_offset(self, bind: Bind, limit: int | None, skip: int) -> str:
        if limit is None and not skip:
            return ""
        out = f" LIMIT {bind(int(limit)) if limit is not None else -1}"
        if skip:
            out += f" OFFSET {bind(int(skip))}"
        return out

    def order_term(self, expr: str, descending: bool, text: bool) -> str:
        # SQLite puts NULLs first ascending and last descending: MongoDB's order.
        return f"{expr} {'DESC' if descending else 'ASC'}"
