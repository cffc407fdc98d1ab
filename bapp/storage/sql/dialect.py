"""What differs between SQL databases, behind one interface.

The compiler (``compiler.py``) decides *what* a Parse constraint or update
operator means (which column, which type, how a missing value behaves, when
a constraint can never match); a :class:`Dialect` decides *how* that is
written in one database's SQL. Every method returns an SQL fragment; values
reach the database only through ``bind``, a callback that records a value
and returns its placeholder, so no user text is ever spliced into SQL.
Identifiers come from the validated schema and are always quoted with
:meth:`Dialect.quote`.

Expressions the compiler hands to a dialect are SQL fragments it built
itself (a quoted column, or the result of another dialect method). ``path``
arguments are lists of key names inside a JSON column (dot notation).

Kinds (``kind`` arguments) are Parse field types: ``String Number Boolean
Date Object Array GeoPoint Polygon Pointer File Bytes`` plus ``Perms`` (the
``_rperm``/``_wperm`` lists) and ``Internal`` types of hidden ``_User``
columns, which map to String, Number, Date or Array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Bind = Callable[[Any], str]


class Dialect:
    """The interface; see ``postgres.PostgresDialect`` for an implementation.

    A new database implements every method below; the compiler never writes
    database-specific SQL itself."""

    name = "abstract"
    # The database orders and compares text byte-wise (as MongoDB does) when
    # the compiler appends this to a text expression; "" when it already does.
    binary_collation = ""

    # ------------------------------------------------------------ basics
    def quote(self, ident: str) -> str:
        """An identifier, double-quoted (quotes inside doubled)."""
        return '"' + ident.replace('"', '""') + '"'

    def placeholder(self, index: int) -> str:
        """The placeholder of the ``index``-th bound value (1-based)."""
        raise NotImplementedError

    def finish(self, sql: str, params: list) -> tuple[str, list]:
        """The statement with only the parameters it still uses, renumbered
        (a constraint folded to TRUE/FALSE leaves its values unused)."""
        raise NotImplementedError

    def column_type(self, kind: str) -> str:
        """The column type of a Parse field type (CREATE TABLE / ADD COLUMN)."""
        raise NotImplementedError

    def to_db(self, kind: str, value: Any) -> Any:
        """A REST value (already validated) as the driver value of a column
        of ``kind``."""
        raise NotImplementedError

    def from_db(self, kind: str, raw: Any) -> Any:
        """A driver value of a column of ``kind`` in REST form (File URLs and
        Pointer classes are added by the caller)."""
        raise NotImplementedError

    def typed(self, placeholder: str, kind: str) -> str:
        """A placeholder with the cast a comparison with a column of ``kind``
        needs (e.g. ``$1::double precision``)."""
        raise NotImplementedError

    def geo_equals(self, expr: str, placeholder: str) -> str:
        """A GeoPoint/Polygon column equal to a bound value (both ``to_db``
        encoded, polygons as closed rings)."""
        return f"{expr} = {placeholder}"

    def json_param(self, bind: Bind, value: Any) -> str:
        """A JSON value as a bound parameter usable as a JSON expression."""
        raise NotImplementedError

    # ------------------------------------------------------------ scalar columns
    def in_list(self, expr: str, kind: str, bind: Bind, values: list) -> str:
        """``expr`` equals one of ``values`` (driver values, non-empty)."""
        raise NotImplementedError

    def not_in_list(self, expr: str, kind: str, bind: Bind, values: list) -> str:
        """``expr`` is NULL or equals none of ``values`` (the same for every
        dialect: the negation of ``in_list``, missing values included)."""
        return f"({expr} IS NULL OR NOT ({self.in_list(expr, kind, bind, values)}))"

    def regex(self, expr: str, bind: Bind, pattern: str, options: str) -> str:
        """``expr`` (text) matches a PCRE-style pattern with Parse options."""
        raise NotImplementedError

    def perms_overlap(self, expr: str, bind: Bind, entries: list[str]) -> str:
        """A ``_rperm``/``_wperm`` list shares an entry with ``entries``."""
        raise NotImplementedError

    # ------------------------------------------------------------ JSON values
    def json_at(self, expr: str, path: list[str], bind: Bind) -> str:
        """The JSON value at ``path`` inside JSON ``expr`` (NULL when absent)."""
        raise NotImplementedError

    def json_text_at(self, expr: str, path: list[str], bind: Bind) -> str:
        """The same as text (strings unquoted)."""
        raise NotImplementedError

    def json_is(self, expr: str, json_type: str) -> str:
        """JSON ``expr`` is of ``json_type``: string number boolean object array null."""
        raise NotImplementedError

    def json_equals(self, expr: str, bind: Bind, value: Any) -> str:
        """JSON ``expr`` equals the JSON ``value``, or is an array holding it
        (MongoDB's equality on arrays)."""
        raise NotImplementedError

    def json_compare(self, expr: str, op: str, bind: Bind, value: Any) -> str:
        """Range comparison (``<``, ``<=``, ``>``, ``>=``) of a JSON number,
        string or Date object with a value of the same JSON type."""
        raise NotImplementedError

    def json_array_has_any(self, expr: str, bind: Bind, values: list) -> str:
        """JSON array ``expr`` holds an element equal to one of ``values``."""
        raise NotImplementedError

    def json_array_has_all(self, expr: str, bind: Bind, values: list) -> str:
        """JSON array ``expr`` holds every one of ``values`` (non-empty)."""
        raise NotImplementedError

    def json_array_within(self, expr: str, bind: Bind, values: list) -> str:
        """Every element of JSON array ``expr`` is one of ``values``."""
        raise NotImplementedError

    def json_array_any_regex(self, expr: str, bind: Bind, pattern: str, options: str) -> str:
        """Some string element of JSON array ``expr`` matches the pattern."""
        raise NotImplementedError

    def json_array_any_text(self, expr: str) -> str:
        """The string elements of JSON array ``expr`` joined into one text
        (for ``$text`` on an array field)."""
        raise NotImplementedError

    # ------------------------------------------------------------ text search and geo
    def text_match(self, expr: str, bind: Bind, term: str, language: str | None) -> str:
        raise NotImplementedError

    def text_score(self, expr: str, bind: Bind, term: str, language: str | None) -> str:
        raise NotImplementedError

    def sphere_distance(self, expr: str, bind: Bind, lat: float, lng: float) -> str:
        """Great-circle distance in radians between GeoPoint column ``expr`` and a point."""
        raise NotImplementedError

    def point_in_box(self, expr: str, bind: Bind, south_west: tuple, north_east: tuple) -> str:
        """(lat, lng) corners."""
        raise NotImplementedError

    def point_in_polygon(self, expr: str, bind: Bind, points: list[tuple]) -> str:
        """(lat, lng) vertices."""
        raise NotImplementedError

    def polygon_has_point(self, expr: str, bind: Bind, lat: float, lng: float) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ updates
    def json_set(self, expr: str, path: list[str], value_sql: str, bind: Bind) -> str:
        """``expr`` with ``path`` set to the JSON ``value_sql``; missing
        (or non-object) intermediate levels become objects."""
        raise NotImplementedError

    def json_remove(self, expr: str, path: list[str], bind: Bind) -> str:
        raise NotImplementedError

    def json_number_plus(self, current_sql: str, amount_placeholder: str) -> str:
        """A JSON number: the JSON ``current_sql`` (0 unless a number) + amount."""
        raise NotImplementedError

    def json_array_append(self, array_sql: str, items_sql: str) -> str:
        raise NotImplementedError

    def json_array_union(self, array_sql: str, items_sql: str) -> str:
        """Appends each item not already present (order kept)."""
        raise NotImplementedError

    def json_array_without(self, array_sql: str, items_sql: str) -> str:
        raise NotImplementedError

    def json_empty(self, kind: str) -> str:
        """An empty JSON object (``object``) or array (``array``) literal."""
        raise NotImplementedError

    def json_merge(self, expr: str, bind: Bind, value: dict, removed: list[str]) -> str:
        """JSON object ``expr`` with ``value``'s keys set and ``removed`` keys dropped."""
        raise NotImplementedError

    # ------------------------------------------------------------ statements
    def limit_offset(self, bind: Bind, limit: int | None, skip: int) -> str:
        raise NotImplementedError

    def order_term(self, expr: str, descending: bool, text: bool) -> str:
        """One ORDER BY term with MongoDB's order: missing values first when
        ascending, last when descending; text byte-wise."""
        raise NotImplementedError
