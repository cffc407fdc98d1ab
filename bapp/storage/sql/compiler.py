"""The one SQL query compiler: validated Parse ``where`` trees, keys, order
and update operators to SQL, for every SQL store.

How to use it (an adapter)::

    c = Compiler(PostgresDialect(), "Item", fields, columns)
    sql = f'SELECT {c.select_list(keys)} FROM {c.table} WHERE {c.where(where)}'
    sql += c.order_by(order) + c.limit(limit, skip)
    sql, params = c.finish(sql)          # drops values a folded constraint left unused
    rows = await conn.fetch(sql, *params)

One Compiler builds one statement (``columns``: the table's real columns,
so a key without a column is "missing" rather than an SQL error). Its methods return SQL fragments; everything database
specific goes through the :class:`~bapp.storage.sql.dialect.Dialect`.

The rules it keeps:

- Values are always bound parameters; identifiers are quoted from the
  validated schema (``columns.py``); no user text is spliced into SQL.
- The semantics are MongoDB's, which the in-memory store and LiveQuery's
  matcher share: a constraint whose value cannot be of the column's type
  never matches (``$ne``/``$nin`` then match everything), a missing value
  satisfies ``$ne``, ``$nin`` and ``$exists: false``, equality on an array
  means "contains", ordering puts missing values first. A key with no column
  is missing on every row. So a type mismatch never reaches the database as
  a type error.
- Every leaf is written so that ``NOT`` (``$nor``) of it is exact: NULLs are
  folded to FALSE where a negation could see them.
- Updates are one assignment per column: several operators on one Object
  column (dot notation, ``Increment`` at any depth) nest into one expression.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bapp import errors
from bapp.errors import ParseError
from bapp.model import types
from bapp.storage.sql.columns import JSON_KINDS, TEXT_KINDS, Column, column_for
from bapp.storage.sql.dialect import Dialect

TRUE, FALSE = "TRUE", "FALSE"
_NO = object()  # a value that can never be stored in the column at hand
_RANGE = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_EARTH_KM, _EARTH_MILES = 6371.0, 3958.8


def interior(value: Any) -> Any:
    """A REST value nested in a JSON column, in Parse Server's stored form
    (REST JSON; pointers reduced to their three keys, dates normalized)."""
    if isinstance(value, dict):
        kind = value.get("__type")
        if kind in ("Pointer", "Object") and types.is_pointer(value):
            return types.pointer(value["className"], value["objectId"])
        if kind == "Date" and isinstance(value.get("iso"), str):
            return {"__type": "Date", "iso": types.iso(types.parse_iso(value["iso"]))}
        return {k: interior(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interior(v) for v in value]
    if isinstance(value, datetime):
        return {"__type": "Date", "iso": types.iso(value)}
    return value


_GROUP = 64  # terms per parenthesized group of a long AND/OR chain


def scalar(col: Column, value: Any) -> Any:
    """``value`` as the driver-neutral value of scalar column ``col``, or
    ``_NO`` when no row can hold it there."""
    kind = col.kind
    if kind == "String":
        return value if isinstance(value, str) else _NO
    if kind == "Number":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _NO
    if kind == "Boolean":
        return value if isinstance(value, bool) else _NO
    if kind == "Date":
        if isinstance(value, datetime):
            return value
        if isinstance(value, dict) and value.get("__type") == "Date":
            return types.parse_iso(value.get("iso"))
        return _NO
    if kind == "Pointer":
        if types.is_pointer(value) and (not col.target or value["className"] == col.target):
            return value["objectId"]
        return _NO
    if kind == "File":
        if isinstance(value, dict) and value.get("__type") == "File" and isinstance(value.get("name"), str):
            return value["name"]
        return _NO
    return _NO


class Compiler:
    def __init__(self, dialect: Dialect, class_name: str, fields: dict[str, dict],
                 columns: set[str] | None = None) -> None:
        self.d = dialect
        self.class_name = class_name
        self.fields = fields
        self.columns = columns  # the table's real columns (None: trust the schema)
        self.params: list[Any] = []
        self.table = dialect.quote(class_name)
        self.near: str | None = None  # distance of a $nearSphere, for ordering
        self.score: str | None = None  # relevance of a $text, for order/keys $score

    # ------------------------------------------------------------ helpers
    def bind(self, value: Any) -> str:
        self.params.append(value)
        return self.d.placeholder(len(self.params))

    def column(self, key: str) -> Column | None:
        col = column_for(self.class_name, self.fields, key)
        if col is not None and self.columns is not None and col.name not in self.columns:
            return None
        return col

    def finish(self, sql: str) -> tuple[str, list]:
        """The complete statement and its parameters."""
        return self.d.finish(sql, self.params)

    def q(self, name: str) -> str:
        return self.d.quote(name)

    def _param(self, col: Column, value: Any) -> str:
        return self.d.typed(self.bind(self.d.to_db(col.kind, value)), col.kind)

    # ------------------------------------------------------------ where
    def where(self, tree: dict) -> str:
        parts = [self._node(key, value) for key, value in tree.items()]
        parts = [p for p in parts if p != TRUE]
        if FALSE in parts:
            return FALSE
        return " AND ".join(parts) if parts else TRUE

    def _node(self, key: str, value: Any) -> str:
        if key == "$and":
            return self._join([self.where(sub) for sub in value], " AND ", TRUE)
        if key == "$or":
            return self._join([self.where(sub) for sub in value], " OR ", FALSE)
        if key == "$nor":
            inner = self._join([self.where(sub) for sub in value], " OR ", FALSE)
            return negate(inner)
        if key.startswith("$"):
            raise ParseError(errors.INVALID_QUERY, f"bad constraint: {key}")
        return self._field(key, value)

    @staticmethod
    def _join(parts: list[str], sep: str, neutral: str) -> str:
        absorbing = FALSE if neutral == TRUE else TRUE
        if absorbing in parts:
            return absorbing
        parts = [p for p in parts if p != neutral]
        if not parts:
            return neutral
        # A long flat chain parses as a tree as deep as it is long (SQLite
        # refuses past 1000): group it so a 10,000-term $or stays shallow.
        while len(parts) > _GROUP:
            parts = ["(" + sep.join(parts[i:i + _GROUP]) + ")" for i in range(0, len(parts), _GROUP)]
        return parts[0] if len(parts) == 1 else "(" + sep.join(parts) + ")"

    def _field(self, key: str, value: Any) -> str:
        root, *path = key.split(".")
        col = self.column(root)
        if isinstance(value, dict) and "__type" not in value and any(k.startswith("$") for k in value):
            ops = value
        else:
            ops = {"$eq": value}
        if col is None or (path and not col.is_json):
            return self._missing(ops)
        if path:
            return self._join([self._json_op(col, path, op, arg, ops) for op, arg in ops.items()], " AND ", TRUE)
        if col.kind == "Perms":
            return self._join([self._perms_op(col, op, arg) for op, arg in ops.items()], " AND ", TRUE)
        if col.is_json:
            return self._join([self._array_op(col, op, arg, ops) for op, arg in ops.items()], " AND ", TRUE)
        return self._join([self._scalar_op(col, op, arg, ops) for op, arg in ops.items()], " AND ", TRUE)

    @staticmethod
    def _missing(ops: dict) -> str:
        """A key no row has: only 'absent' constraints hold."""
        out = []
        for op, arg in ops.items():
            if op in ("$ne", "$nin", "$options", "$containedBy") or op.startswith("$maxDistance"):
                out.append(TRUE if op != "$ne" or arg is not None else FALSE)
            elif op == "$exists":
                out.append(FALSE if arg else TRUE)
            elif op in ("$eq", "$lte", "$gte"):
                out.append(TRUE if arg is None else FALSE)
            elif op == "$in":
                out.append(TRUE if None in arg else FALSE)
            else:
                out.append(FALSE)
        return Compiler._join(out, " AND ", TRUE)

    # -------------------------------------------- scalar columns
    def _scalar_op(self, col: Column, op: str, arg: Any, ops: dict) -> str:
        expr = self.q(col.name)
        if op == "$eq":
            if arg is None:
                return f"{expr} IS NULL"
            if col.kind in ("GeoPoint", "Polygon") and isinstance(arg, dict) and arg.get("__type") == col.kind:
                return self.d.geo_equals(expr, self._param(col, arg))
            value = scalar(col, arg)
            return FALSE if value is _NO else f"{expr} = {self._param(col, value)}"
        if op == "$ne":
            if arg is None:
                return f"{expr} IS NOT NULL"
            value = scalar(col, arg)
            return TRUE if value is _NO else f"({expr} IS NULL OR {expr} <> {self._param(col, value)})"
        if op in _RANGE:
            if arg is None:
                return f"{expr} IS NULL" if op in ("$lte", "$gte") else FALSE
            value = scalar(col, arg)
            if value is _NO:
                return FALSE
            return f"{expr} {_RANGE[op]} {self._param(col, value)}"
        if op in ("$in", "$nin"):
            return self._scalar_in(col, expr, arg, op == "$nin")
        if op == "$exists":
            return f"{expr} IS NOT NULL" if arg else f"{expr} IS NULL"
        if op == "$regex":
            if col.kind != "String":
                return FALSE
            return self.d.regex(expr, self.bind, arg, ops.get("$options") or "")
        if op == "$all":
            if not arg:
                return FALSE
            if all(isinstance(v, dict) and "$regex" in v for v in arg):
                return self._join([self._scalar_op(col, "$regex", v["$regex"], v) for v in arg], " AND ", TRUE)
            return self._join([self._scalar_op(col, "$eq", v, ops) for v in arg], " AND ", TRUE)
        if op == "$containedBy":
            return TRUE  # not an array: nothing outside the list
        if op == "$text":
            return self._text(col, expr, arg) if col.kind == "String" else FALSE
        if op in ("$options",) or op.startswith("$maxDistance"):
            return TRUE
        if col.kind == "GeoPoint":
            return self._geo(expr, op, arg, ops)
        if col.kind == "Polygon" and op == "$geoIntersects":
            point = arg["$point"]
            return self.d.polygon_has_point(expr, self.bind, point["latitude"], point["longitude"])
        return FALSE

    def _scalar_in(self, col: Column, expr: str, arg: list, negated: bool) -> str:
        has_null = any(v is None for v in arg)
        values = [scalar(col, v) for v in arg if v is not None]
        values = list(dict.fromkeys(self.d.to_db(col.kind, v) for v in values if v is not _NO))
        if not negated:
            parts = [f"{expr} IS NULL"] if has_null else []
            if values:
                parts.append(self.d.in_list(expr, col.kind, self.bind, values))
            return self._join(parts, " OR ", FALSE)
        if not values:
            return f"{expr} IS NOT NULL" if has_null else TRUE
        out = self.d.not_in_list(expr, col.kind, self.bind, values)
        return f"({expr} IS NOT NULL AND {out})" if has_null else out

    def _text(self, col: Column, expr: str, arg: dict) -> str:
        search = arg["$search"]
        term, language = search["$term"], search.get("$language")
        self.score = self.d.text_score(expr, self.bind, term, language)
        return self.d.text_match(expr, self.bind, term, language)

    def _geo(self, expr: str, op: str, arg: Any, ops: dict) -> str:
        if op == "$nearSphere":
            distance = self.d.sphere_distance(expr, self.bind, arg["latitude"], arg["longitude"])
            self.near = distance
            radius = max_distance(ops)
            if radius is None:
                return f"{expr} IS NOT NULL"
            return f"({expr} IS NOT NULL AND {distance} <= {self.bind(float(radius))})"
        if op == "$within":
            sw, ne = arg["$box"]
            return self.d.point_in_box(expr, self.bind, (sw["latitude"], sw["longitude"]),
                                       (ne["latitude"], ne["longitude"]))
        if op == "$geoWithin":
            if "$centerSphere" in arg:
                center, radius = arg["$centerSphere"]
                distance = self.d.sphere_distance(expr, self.bind, center["latitude"], center["longitude"])
                return f"({expr} IS NOT NULL AND {distance} <= {self.bind(float(radius))})"
            poly = arg["$polygon"]
            if isinstance(poly, dict):
                points = [(p[0], p[1]) for p in types.check_polygon(poly)]
            else:
                points = [(p["latitude"], p["longitude"]) for p in poly]
            return self.d.point_in_polygon(expr, self.bind, points)
        return FALSE

    # -------------------------------------------- _rperm / _wperm
    def _perms_op(self, col: Column, op: str, arg: Any) -> str:
        expr = self.q(col.name)
        if op in ("$in", "$eq", "$all"):
            items = arg if isinstance(arg, list) else [arg]
            entries = [v for v in items if isinstance(v, str)]
            parts = [f"{expr} IS NULL"] if None in items else []
            if entries:
                parts.append(self.d.perms_overlap(expr, self.bind, entries))
            return self._join(parts, " OR ", FALSE)
        if op in ("$nin", "$ne"):
            return negate(self._perms_op(col, "$in", arg))
        if op == "$exists":
            return f"{expr} IS NOT NULL" if arg else f"{expr} IS NULL"
        return FALSE

    # -------------------------------------------- JSON columns (Array, Object, Bytes)
    def _array_op(self, col: Column, op: str, arg: Any, ops: dict) -> str:
        """A top-level JSON column; for an Array field, element semantics."""
        return self._json_value_op(self.q(col.name), op, arg, ops, col.kind == "Array")

    def _json_op(self, col: Column, path: list[str], op: str, arg: Any, ops: dict) -> str:
        expr = self.d.json_at(self.q(col.name), path, self.bind)
        return self._json_value_op(expr, op, arg, ops, None)

    def _json_value_op(self, expr: str, op: str, arg: Any, ops: dict, is_array: bool | None) -> str:
        """``is_array``: True for an Array column, None when the value's JSON
        type is only known at run time (a path inside an Object)."""
        d = self.d
        if op == "$eq":
            if arg is None:
                return f"({expr} IS NULL OR {d.json_is(expr, 'null')})"
            return f"COALESCE({d.json_equals(expr, self.bind, interior(arg))}, FALSE)"
        if op == "$ne":
            return negate(self._json_value_op(expr, "$eq", arg, ops, is_array))
        if op in ("$in", "$nin"):
            values = [interior(v) for v in arg if v is not None]
            parts = [f"({expr} IS NULL OR {d.json_is(expr, 'null')})"] if None in arg else []
            if values:
                parts.append(f"COALESCE({d.json_array_has_any(expr, self.bind, values)}, FALSE)")
            found = self._join(parts, " OR ", FALSE)
            return negate(found) if op == "$nin" else found
        if op == "$exists":
            return f"{expr} IS NOT NULL" if arg else f"{expr} IS NULL"
        if op in _RANGE:
            value = interior(arg)
            if not _json_comparable(value) or is_array:
                return FALSE
            return f"COALESCE({d.json_compare(expr, _RANGE[op], self.bind, value)}, FALSE)"
        if op == "$regex":
            options = ops.get("$options") or ""
            if is_array:
                return f"COALESCE({d.json_array_any_regex(expr, self.bind, arg, options)}, FALSE)"
            text = d.json_text_at(expr, [], self.bind)
            return f"COALESCE({d.json_is(expr, 'string')} AND {d.regex(text, self.bind, arg, options)}, FALSE)"
        if op == "$all":
            if not arg:
                return FALSE
            guard = d.json_is(expr, "array")
            if all(isinstance(v, dict) and "$regex" in v for v in arg):
                parts = [d.json_array_any_regex(expr, self.bind, v["$regex"], v.get("$options") or "") for v in arg]
                return f"COALESCE({guard} AND " + " AND ".join(parts) + ", FALSE)"
            return f"COALESCE({guard} AND {d.json_array_has_all(expr, self.bind, [interior(v) for v in arg])}, FALSE)"
        if op == "$containedBy":
            within = d.json_array_within(expr, self.bind, [interior(v) for v in arg])
            return f"({expr} IS NULL OR NOT {d.json_is(expr, 'array')} OR COALESCE({within}, FALSE))"
        if op == "$text" and is_array:
            return self._text(Column("", "String"), d.json_array_any_text(expr), arg)
        if op == "$options" or op.startswith("$maxDistance"):
            return TRUE
        return FALSE

    # ------------------------------------------------------------ order, keys, paging
    def order_by(self, order: list[str]) -> str:
        terms = []
        for key in order:
            desc = key.startswith("-")
            name = key[1:] if desc else key
            if name == "$score":
                if self.score:
                    terms.append(f"{self.score} DESC")
                continue
            root, *path = name.split(".")
            col = self.column(root)
            if col is None or (path and not col.is_json) or col.kind == "Perms":
                continue
            if path:
                expr, text = self.d.json_at(self.q(col.name), path, self.bind), False
            else:
                expr, text = self.q(col.name), col.kind in TEXT_KINDS
            terms.append(self.d.order_term(expr, desc, text))
        if not terms and self.near:
            terms.append(f"{self.near} ASC")
        return " ORDER BY " + ", ".join(terms) if terms else ""

    def limit(self, limit: int | None, skip: int) -> str:
        return self.d.limit_offset(self.bind, limit, skip)

    def select_list(self, keys: list[str] | None, all_columns: list[str], with_score: bool = False) -> str:
        """The columns a find reads: all, or those ``keys`` need (plus the
        system columns every result carries)."""
        if keys is None:
            names = all_columns
        else:
            wanted = {"objectId", "createdAt", "updatedAt", "_rperm", "_wperm"}
            wanted |= {k.split(".", 1)[0] for k in keys}
            if self.class_name == "_User":
                wanted |= {c for c in all_columns if c.startswith("_")}
            names = [c for c in all_columns if c in wanted]
        out = ", ".join(self.q(n) for n in names)
        if self.score and with_score:
            out += f", {self.score} AS score"
        return out

    # ------------------------------------------------------------ writes
    def insert_values(self, obj: dict) -> tuple[list[str], list[str]]:
        """Column names and value placeholders of a new object."""
        names: list[str] = []
        values: list[str] = []
        for key, value in obj.items():
            for name, sql in self._assignments_for_set(key, value):
                names.append(self.q(name))
                values.append(sql)
        return names, values

    def _assignments_for_set(self, key: str, value: Any) -> list[tuple[str, str]]:
        if key == "ACL":
            if value is None:
                return [("_rperm", "NULL"), ("_wperm", "NULL")]
            rperm, wperm = acl_to_perms(value)
            perms = Column("_rperm", "Perms")
            return [("_rperm", self._param(perms, rperm)), ("_wperm", self._param(perms, wperm))]
        if key == "authData" and isinstance(value, dict):
            value = {p: v for p, v in value.items() if v is not None}
        col = self.column(key)
        if col is None:
            return []
        if value is None:
            return [(col.name, "NULL")]
        return [(col.name, self._param(col, self.encode(col, value)))]

    def encode(self, col: Column, value: Any) -> Any:
        """A REST value as the column's neutral value (before ``to_db``)."""
        if col.is_json or col.kind == "Perms":
            return interior(value)
        if col.kind in ("GeoPoint", "Polygon"):
            return value
        out = scalar(col, value)
        if out is _NO:
            raise ParseError(errors.INCORRECT_TYPE, f"schema mismatch for {self.class_name}.{col.name}")
        return out

    def update_set(self, update: dict) -> list[str]:
        """``"col" = expr`` assignments applying ``update`` (sets and ``__op``
        operators, dot notation into Object columns) in one statement."""
        exprs: dict[str, str] = {}
        for key, value in update.items():
            op = value.get("__op") if isinstance(value, dict) else None
            root, *path = key.split(".")
            if key == "authData" and isinstance(value, dict) and not op:
                col = self.column("authData")
                if col is not None:
                    current = exprs.get(col.name, self.q(col.name))
                    removed = [p for p, v in value.items() if v is None]
                    kept = {p: interior(v) for p, v in value.items() if v is not None}
                    exprs[col.name] = self.d.json_merge(current, self.bind, kept, removed)
                continue
            if not path and (op is None or op == "Delete") and root == "ACL":
                for name, sql in self._assignments_for_set("ACL", None if op else value):
                    exprs[name] = sql
                continue
            col = self.column(root)
            if col is None:
                if op not in ("Delete", None) and not path:
                    raise ParseError(errors.INCORRECT_TYPE, f"schema mismatch for {self.class_name}.{root}")
                continue
            if path:
                if not col.is_json:
                    raise ParseError(errors.INVALID_KEY_NAME, f"Invalid field name: {key}")
                current = exprs.get(col.name, f"COALESCE({self.q(col.name)}, {self.d.json_empty('object')})")
                exprs[col.name] = self._json_path_update(current, path, op, value)
            else:
                current = exprs.get(col.name, self.q(col.name))
                exprs[col.name] = self._column_update(col, current, op, value)
        return [f"{self.q(name)} = {sql}" for name, sql in exprs.items()]

    def _column_update(self, col: Column, current: str, op: str | None, value: Any) -> str:
        d = self.d
        if op is None:
            return "NULL" if value is None else self._param(col, self.encode(col, value))
        if op == "Delete":
            return "NULL"
        if op == "Increment":
            if col.kind != "Number":
                raise ParseError(errors.INVALID_JSON, "Cannot increment a field that is not a number")
            amount = self.d.typed(self.bind(float(value["amount"])), "Number")
            return f"COALESCE({current}, 0) + {amount}"
        if op in ("Add", "AddUnique", "Remove"):
            if col.kind != "Array":
                raise ParseError(errors.INVALID_JSON, f"{op} requires an array field")
            items = d.json_param(self.bind, interior(value["objects"]))
            base = f"COALESCE({current}, {d.json_empty('array')})"
            return self._array_update(op, base, items)
        raise ParseError(errors.COMMAND_UNAVAILABLE, f"The {op} operator is not supported yet.")

    def _array_update(self, op: str, base: str, items: str) -> str:
        if op == "Add":
            return self.d.json_array_append(base, items)
        if op == "AddUnique":
            return self.d.json_array_union(base, items)
        return self.d.json_array_without(base, items)

    def _json_path_update(self, current: str, path: list[str], op: str | None, value: Any) -> str:
        d = self.d
        if op is None:
            return d.json_set(current, path, d.json_param(self.bind, interior(value)), self.bind)
        if op == "Delete":
            return d.json_remove(current, path, self.bind)
        at = d.json_at(current, path, self.bind)
        if op == "Increment":
            amount = self.d.typed(self.bind(float(value["amount"])), "Number")
            return d.json_set(current, path, d.json_number_plus(at, amount), self.bind)
        if op in ("Add", "AddUnique", "Remove"):
            items = d.json_param(self.bind, interior(value["objects"]))
            base = f"(CASE WHEN {d.json_is(at, 'array')} THEN {at} ELSE {d.json_empty('array')} END)"
            return d.json_set(current, path, self._array_update(op, base, items), self.bind)
        raise ParseError(errors.COMMAND_UNAVAILABLE, f"The {op} operator is not supported yet.")


def negate(condition: str) -> str:
    if condition == TRUE:
        return FALSE
    if condition == FALSE:
        return TRUE
    return f"NOT COALESCE({condition}, FALSE)"


def _json_comparable(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, str)):
        return True
    return isinstance(value, dict) and value.get("__type") == "Date" and isinstance(value.get("iso"), str)


def max_distance(ops: dict) -> float | None:
    """A $nearSphere's radius in radians (None: unbounded)."""
    if "$maxDistance" in ops or "$maxDistanceInRadians" in ops:
        return ops.get("$maxDistance", ops.get("$maxDistanceInRadians"))
    if "$maxDistanceInMiles" in ops:
        return ops["$maxDistanceInMiles"] / _EARTH_MILES
    if "$maxDistanceInKilometers" in ops:
        return ops["$maxDistanceInKilometers"] / _EARTH_KM
    return None


def acl_to_perms(acl: dict) -> tuple[list[str], list[str]]:
    rperm = [who for who, p in acl.items() if isinstance(p, dict) and p.get("read") is True]
    wperm = [who for who, p in acl.items() if isinstance(p, dict) and p.get("write") is True]
    return rperm, wperm


def perms_to_acl(rperm: list | None, wperm: list | None) -> dict:
    acl: dict[str, dict] = {}
    for who in rperm or []:
        acl.setdefault(who, {})["read"] = True
    for who in wperm or []:
        acl.setdefault(who, {})["write"] = True
    return acl


__all__ = ["Compiler", "JSON_KINDS", "acl_to_perms", "interior", "max_distance", "negate", "perms_to_acl", "scalar"]
