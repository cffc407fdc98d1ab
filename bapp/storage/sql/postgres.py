"""The PostgreSQL dialect: Parse Server 9's column types and value encodings,
and PostgreSQL's own operators (jsonb, arrays, ``point``/``polygon``, full
text search). No extension is needed: sphere distances are computed with
the haversine formula in SQL, so PostGIS is not required."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from asyncpg.types import Box, Point, Polygon

from bapp.model import types
from bapp.storage.sql.dialect import Bind, Dialect

_COLUMN_TYPES = {
    "String": "text", "Number": "double precision", "Boolean": "boolean", "Date": "timestamp with time zone",
    "Object": "jsonb", "Array": "jsonb", "Bytes": "jsonb", "Pointer": "text", "File": "text",
    "GeoPoint": "point", "Polygon": "polygon", "Perms": "text[]",
}
_CASTS = {
    "String": "text", "Number": "double precision", "Boolean": "boolean", "Date": "timestamptz",
    "Object": "jsonb", "Array": "jsonb", "Bytes": "jsonb", "Pointer": "text", "File": "text",
    "GeoPoint": "point", "Polygon": "polygon", "Perms": "text[]",
}
# $text languages (MongoDB's names and codes) to PostgreSQL's text search configurations.
_LANGUAGES = {
    "none": "simple", "simple": "simple",
    **{name: name for name in ("danish", "dutch", "english", "finnish", "french", "german", "hungarian", "italian",
                               "norwegian", "portuguese", "romanian", "russian", "spanish", "swedish", "turkish")},
    "da": "danish", "nl": "dutch", "en": "english", "fi": "finnish", "fr": "french", "de": "german",
    "hu": "hungarian", "it": "italian", "nb": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "es": "spanish", "sv": "swedish", "tr": "turkish",
}
_SEARCH_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")
# The compiler's placeholders; no other "$<digits>" can occur in its SQL.
_PLACEHOLDER = re.compile(r"\$(\d+)")


def pcre_to_postgres(pattern: str, options: str) -> str:
    """A PCRE pattern with Parse's options as a PostgreSQL ARE: ``\\Q...\\E``
    quoting becomes escapes, options become an embedded-options prefix with
    PCRE's newline rules (``.`` stops at newlines unless ``s``; ``^``/``$``
    match at lines only with ``m``)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("\\Q", i):
            end = pattern.find("\\E", i + 2)
            literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
            out.append("".join("\\" + c if not c.isalnum() and c != "_" else c for c in literal))
            i = len(pattern) if end < 0 else end + 2
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i:i + 2])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    multiline, dotall = "m" in options, "s" in options
    flags = {(False, False): "p", (True, False): "n", (False, True): "s", (True, True): "w"}[(multiline, dotall)]
    if "i" in options:
        flags += "i"
    if "x" in options:
        flags += "x"
    return f"(?{flags})" + "".join(out)


def ts_query(term: str) -> str:
    """MongoDB's ``$search`` as a tsquery: any word, every quoted phrase,
    no ``-word``. Only word characters reach the query text."""
    words, phrases, excluded = [], [], []
    for negative, phrase, word in _SEARCH_TOKEN.findall(term):
        if phrase:
            tokens = _WORD.findall(phrase)
            if tokens:
                target = excluded if negative else phrases
                target.append(" <-> ".join(f"'{t}'" for t in tokens))
        elif word.startswith("-"):
            excluded += [f"'{t}'" for t in _WORD.findall(word[1:])]
        else:
            words += [f"'{t}'" for t in _WORD.findall(word)]
    parts = [f"({p})" for p in phrases]
    if words and not phrases:
        parts.append("(" + " | ".join(words) + ")")
    parts += [f"!({e})" for e in excluded]
    return " & ".join(parts) if words or phrases else ""


def _number(value: float) -> Any:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


class PostgresDialect(Dialect):
    name = "postgres"
    binary_collation = ' COLLATE "C"'

    def placeholder(self, index: int) -> str:
        return f"${index}"

    def finish(self, sql: str, params: list) -> tuple[str, list]:
        used = sorted({int(n) for n in _PLACEHOLDER.findall(sql)})
        if len(used) == len(params):
            return sql, params
        number = {old: new for new, old in enumerate(used, 1)}
        return _PLACEHOLDER.sub(lambda m: f"${number[int(m.group(1))]}", sql), [params[i - 1] for i in used]

    def column_type(self, kind: str) -> str:
        return _COLUMN_TYPES.get(kind, "text")

    def typed(self, placeholder: str, kind: str) -> str:
        return f"{placeholder}::{_CASTS.get(kind, 'text')}"

    def to_db(self, kind: str, value: Any) -> Any:
        if kind == "Date" and isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        if kind == "GeoPoint" and isinstance(value, dict):
            lat, lng = types.check_geopoint(value)
            return Point(lng, lat)
        if kind == "Polygon" and isinstance(value, dict):
            ring = [(lng, lat) for lat, lng in types.check_polygon(value)]
            if ring[0] != ring[-1]:
                ring.append(ring[0])
            return Polygon(*ring)
        return value

    def from_db(self, kind: str, raw: Any) -> Any:
        if kind == "Number" and isinstance(raw, float):
            return _number(raw)
        if kind == "Date" and isinstance(raw, datetime):
            return types.date_json(raw)
        if kind == "GeoPoint":
            return {"__type": "GeoPoint", "latitude": _number(raw.y), "longitude": _number(raw.x)}
        if kind == "Polygon":
            return {"__type": "Polygon", "coordinates": [[_number(p.y), _number(p.x)] for p in raw.points]}
        return raw

    def json_param(self, bind: Bind, value: Any) -> str:
        return f"{bind(value)}::jsonb"

    # ------------------------------------------------------------ scalar columns
    def in_list(self, expr: str, kind: str, bind: Bind, values: list) -> str:
        return f"{expr} = ANY({bind(values)}::{_CASTS.get(kind, 'text')}[])"

    def regex(self, expr: str, bind: Bind, pattern: str, options: str) -> str:
        return f"{expr} ~ {bind(pcre_to_postgres(pattern, options))}::text"

    def perms_overlap(self, expr: str, bind: Bind, entries: list[str]) -> str:
        return f"{expr} && {bind(entries)}::text[]"

    # ------------------------------------------------------------ JSON
    def json_at(self, expr: str, path: list[str], bind: Bind) -> str:
        if not path:
            return expr
        return f"({expr} #> {bind(path)}::text[])"

    def json_text_at(self, expr: str, path: list[str], bind: Bind) -> str:
        if not path:
            return f"({expr} #>> '{{}}')"
        return f"({expr} #>> {bind(path)}::text[])"

    def json_is(self, expr: str, json_type: str) -> str:
        return f"jsonb_typeof({expr}) = '{json_type}'"

    def _elements(self, expr: str) -> str:
        """The elements of an array, or the value itself (as MongoDB compares)."""
        return f"jsonb_array_elements(CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr} ELSE jsonb_build_array({expr}) END)"

    def json_equals(self, expr: str, bind: Bind, value: Any) -> str:
        p = self.json_param(bind, value)
        if isinstance(value, (dict, list)):
            return f"({expr} = {p} OR EXISTS (SELECT 1 FROM {self._elements(expr)} x WHERE x = {p}))"
        return f"({expr} = {p} OR (jsonb_typeof({expr}) = 'array' AND {expr} @> jsonb_build_array({p})))"

    def json_compare(self, expr: str, op: str, bind: Bind, value: Any) -> str:
        if isinstance(value, dict):
            return (f"(CASE WHEN jsonb_typeof({expr}) = 'object' AND {expr} ->> '__type' = 'Date' "
                    f"THEN ({expr} ->> 'iso') COLLATE \"C\" {op} {bind(value['iso'])}::text END)")
        if isinstance(value, str):
            return (f"(CASE WHEN jsonb_typeof({expr}) = 'string' "
                    f"THEN ({expr} #>> '{{}}') COLLATE \"C\" {op} {bind(value)}::text END)")
        return f"(CASE WHEN jsonb_typeof({expr}) = 'number' THEN {expr} {op} {self.json_param(bind, value)} END)"

    def json_array_has_any(self, expr: str, bind: Bind, values: list) -> str:
        p = self.json_param(bind, values)
        return f"EXISTS (SELECT 1 FROM {self._elements(expr)} x WHERE x IN (SELECT jsonb_array_elements({p})))"

    def json_array_has_all(self, expr: str, bind: Bind, values: list) -> str:
        p = self.json_param(bind, values)
        return (f"(CASE WHEN jsonb_typeof({expr}) = 'array' THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements({p}) v "
                f"WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements({expr}) x WHERE x = v)) END)")

    def json_array_within(self, expr: str, bind: Bind, values: list) -> str:
        p = self.json_param(bind, values)
        return (f"(CASE WHEN jsonb_typeof({expr}) = 'array' THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements({expr}) x "
                f"WHERE x NOT IN (SELECT jsonb_array_elements({p}))) END)")

    def json_array_any_regex(self, expr: str, bind: Bind, pattern: str, options: str) -> str:
        p = bind(pcre_to_postgres(pattern, options))
        return (f"(CASE WHEN jsonb_typeof({expr}) = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({expr}) x "
                f"WHERE jsonb_typeof(x) = 'string' AND (x #>> '{{}}') ~ {p}::text) END)")

    def json_array_any_text(self, expr: str) -> str:
        return (f"(SELECT string_agg(x, ' ') FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof({expr}) = 'array' "
                f"THEN {expr} ELSE '[]'::jsonb END) x)")

    # ------------------------------------------------------------ text search and geo
    def _ts(self, expr: str, bind: Bind, term: str, language: str | None) -> tuple[str, str]:
        config = bind(_LANGUAGES.get((language or "english").lower(), "simple")) + "::regconfig"
        vector = f"to_tsvector({config}, COALESCE({expr}, ''))"
        return vector, f"to_tsquery({config}, {bind(ts_query(term))}::text)"

    def text_match(self, expr: str, bind: Bind, term: str, language: str | None) -> str:
        vector, query = self._ts(expr, bind, term, language)
        return f"{vector} @@ {query}"

    def text_score(self, expr: str, bind: Bind, term: str, language: str | None) -> str:
        vector, query = self._ts(expr, bind, term, language)
        return f"ts_rank({vector}, {query})"

    def sphere_distance(self, expr: str, bind: Bind, lat: float, lng: float) -> str:
        la, lo = bind(float(lat)) + "::double precision", bind(float(lng)) + "::double precision"
        inner = (f"power(sin(radians({expr}[1] - {la}) / 2), 2) + cos(radians({la})) * cos(radians({expr}[1])) "
                 f"* power(sin(radians({expr}[0] - {lo}) / 2), 2)")
        return f"(2 * asin(LEAST(1.0, sqrt({inner}))))"

    def point_in_box(self, expr: str, bind: Bind, south_west: tuple, north_east: tuple) -> str:
        box = bind(Box(Point(north_east[1], north_east[0]), Point(south_west[1], south_west[0])))
        return f"{expr} <@ {box}::box"

    def geo_equals(self, expr: str, placeholder: str) -> str:
        return f"{expr} ~= {placeholder}"  # point and polygon have "same as", no "="

    def point_in_polygon(self, expr: str, bind: Bind, points: list[tuple]) -> str:
        ring = [(lng, lat) for lat, lng in points]
        return f"{expr} <@ {bind(Polygon(*ring))}::polygon"

    def polygon_has_point(self, expr: str, bind: Bind, lat: float, lng: float) -> str:
        return f"{expr} @> {bind(Point(lng, lat))}::point"

    # ------------------------------------------------------------ updates
    def _as_object(self, expr: str) -> str:
        return f"(CASE WHEN jsonb_typeof({expr}) = 'object' THEN {expr} ELSE '{{}}'::jsonb END)"

    def json_set(self, expr: str, path: list[str], value_sql: str, bind: Bind, nested: bool = False) -> str:
        # The column itself is an object (the compiler coalesces it); deeper
        # levels that are missing or not objects become objects.
        base = self._as_object(expr) if nested else expr
        head = bind([path[0]]) + "::text[]"
        if len(path) == 1:
            return f"jsonb_set({base}, {head}, {value_sql}, true)"
        child = f"({expr} -> {bind(path[0])}::text)"
        return f"jsonb_set({base}, {head}, {self.json_set(child, path[1:], value_sql, bind, True)}, true)"

    def json_remove(self, expr: str, path: list[str], bind: Bind) -> str:
        return f"({expr} #- {bind(path)}::text[])"

    def json_number_plus(self, current_sql: str, amount_placeholder: str) -> str:
        return (f"to_jsonb(COALESCE(CASE WHEN jsonb_typeof({current_sql}) = 'number' THEN ({current_sql})::numeric END, 0)"
                f" + ({amount_placeholder})::numeric)")

    def json_array_append(self, array_sql: str, items_sql: str) -> str:
        return f"({array_sql} || {items_sql})"

    def json_array_union(self, array_sql: str, items_sql: str) -> str:
        fresh = (f"(SELECT jsonb_agg(v ORDER BY o) FROM (SELECT v, min(o) AS o FROM jsonb_array_elements({items_sql}) "
                 f"WITH ORDINALITY t(v, o) WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements({array_sql}) x "
                 f"WHERE x = t.v) GROUP BY v) u)")
        return f"({array_sql} || COALESCE({fresh}, '[]'::jsonb))"

    def json_array_without(self, array_sql: str, items_sql: str) -> str:
        return (f"COALESCE((SELECT jsonb_agg(x ORDER BY o) FROM jsonb_array_elements({array_sql}) WITH ORDINALITY t(x, o) "
                f"WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements({items_sql}) r WHERE r = t.x)), '[]'::jsonb)")

    def json_empty(self, kind: str) -> str:
        return "'{}'::jsonb" if kind == "object" else "'[]'::jsonb"

    def json_merge(self, expr: str, bind: Bind, value: dict, removed: list[str]) -> str:
        merged = f"(COALESCE({expr}, '{{}}'::jsonb) || {self.json_param(bind, value)})"
        if removed:
            merged = f"({merged} - {bind(removed)}::text[])"
        return merged

    # ------------------------------------------------------------ statements
    def limit_offset(self, bind: Bind, limit: int | None, skip: int) -> str:
        out = f" LIMIT {bind(int(limit))}::bigint" if limit is not None else ""
        if skip:
            out += f" OFFSET {bind(int(skip))}::bigint"
        return out

    def order_term(self, expr: str, descending: bool, text: bool) -> str:
        collate = self.binary_collation if text else ""
        return f"{expr}{collate} {'DESC NULLS LAST' if descending else 'ASC NULLS FIRST'}"
