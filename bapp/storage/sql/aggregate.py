"""Aggregation pipelines in SQL: the stages Parse Server's PostgreSQL adapter
supports (``$match``, ``$group`` with ``$sum``/``$avg``/``$min``/``$max``/
``$count``, ``$project``, ``$sort``, ``$limit``, ``$skip``, ``$count``),
each stage a subquery of the one before, the whole pipeline one statement.
Other stages answer 102, as Parse Server's adapter refuses what it lacks."""

from __future__ import annotations

import re
from typing import Any

from bapp import errors
from bapp.errors import ParseError
from bapp.storage.sql.codec import RowDecoder
from bapp.storage.sql.compiler import Compiler

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ACCUMULATORS = {"$sum": "sum", "$avg": "avg", "$min": "min", "$max": "max"}


def _refused(what: str) -> ParseError:
    return ParseError(errors.INVALID_QUERY, f"{what} is not supported by the PostgreSQL store.")


def _name(key: Any) -> str:
    if not isinstance(key, str) or not _NAME.match(key):
        raise ParseError(errors.INVALID_QUERY, f"Invalid aggregate field name: {key}")
    return key


class Pipeline:
    def __init__(self, adapter: Any, class_name: str, fields: dict[str, dict]) -> None:
        self.adapter = adapter
        self.d = adapter.d
        self.c: Compiler = adapter._compiler(class_name, fields)
        self.class_name = class_name
        self.fields = fields
        self.grouped = False  # after $group/$count the rows are no longer objects
        self.out_fields: dict[str, dict] = {}

    def ref(self, value: Any) -> str:
        """A ``"$field"`` reference as an SQL expression over the previous stage."""
        if not isinstance(value, str) or not value.startswith("$"):
            raise _refused(f"The expression {value!r}")
        root, *path = value[1:].split(".")
        if self.grouped:
            root = "objectId" if root == "_id" else _name(root)
            if root not in self.out_fields:
                return "NULL"
            expr = "s." + self.d.quote(root)
        else:
            col = self.c.column(root)
            if col is None:
                return "NULL"
            expr = "s." + self.d.quote(col.name)
            if path and col.is_json:
                return self.d.json_at(expr, path, self.c.bind)
        if path:
            raise _refused(f"The reference {value!r}")
        return expr

    def group(self, source: str, body: Any) -> str:
        if not isinstance(body, dict):
            raise ParseError(errors.INVALID_QUERY, "Invalid aggregate $group.")
        key = body.get("_id", body.get("objectId"))
        if key is None:
            key_sql = "NULL"
        elif isinstance(key, dict):
            pairs = ", ".join(f"{self.c.bind(_name(k))}::text, {self.ref(v)}" for k, v in key.items())
            key_sql = f"jsonb_build_object({pairs})"
        else:
            key_sql = self.ref(key)
        columns = [f'{key_sql} AS "objectId"']
        out: dict[str, dict] = {"objectId": {"type": "Any"}}
        for name, spec in body.items():
            if name in ("_id", "objectId"):
                continue
            if not isinstance(spec, dict) or len(spec) != 1:
                raise ParseError(errors.INVALID_QUERY, f"Invalid accumulator for {name}.")
            op, arg = next(iter(spec.items()))
            if op == "$count" or (op == "$sum" and isinstance(arg, (int, float)) and not isinstance(arg, bool)):
                amount = 1 if op == "$count" else arg
                expr = f"sum({self.c.bind(float(amount))}::double precision)"
            elif op in _ACCUMULATORS:
                expr = f"{_ACCUMULATORS[op]}({self.ref(arg)})"
            else:
                raise _refused(f"The accumulator {op}")
            columns.append(f"{expr} AS {self.d.quote(_name(name))}")
            out[name] = {"type": "Number"}
        group_by = " GROUP BY 1" if key is not None else ""
        self.grouped, self.out_fields = True, out
        return f"SELECT {', '.join(columns)} FROM ({source}) s{group_by}"

    def sort(self, source: str, body: Any) -> str:
        if not isinstance(body, dict) or not body:
            raise ParseError(errors.INVALID_QUERY, "Invalid aggregate $sort.")
        terms = []
        for key, direction in body.items():
            expr = self.ref("$" + key)
            terms.append(self.d.order_term(expr, direction == -1, False))
        return f"SELECT * FROM ({source}) s ORDER BY {', '.join(terms)}"

    def project(self, source: str, body: Any) -> str:
        if not isinstance(body, dict) or self.grouped:
            raise _refused("This $project")
        keep = {"objectId", "createdAt", "updatedAt"}
        for key, value in body.items():
            if value in (1, True):
                keep.add("objectId" if key == "_id" else key.split(".", 1)[0])
            elif value not in (0, False) or key not in ("_id", "objectId"):
                raise _refused("A computed or excluding $project")
            else:
                keep.discard("objectId")
        names = [n for n in self.adapter.tables.ordered[self.class_name] if n in keep]
        return f"SELECT {', '.join(self.d.quote(n) for n in names) or 'NULL AS x'} FROM ({source}) s"

    def match(self, source: str, body: Any) -> str:
        if not isinstance(body, dict):
            raise ParseError(errors.INVALID_QUERY, "Invalid aggregate $match.")
        if self.grouped:
            c = Compiler(self.d, "", {k: v for k, v in self.out_fields.items() if k != "objectId"}, None)
            c.params = self.c.params
            return f"SELECT * FROM ({source}) s WHERE {c.where(body)}"
        return f"SELECT * FROM ({source}) s WHERE {self.c.where(body)}"

    def build(self, stages: list[tuple[str, Any]]) -> str:
        where = []
        while stages and stages[0][0] == "$match" and isinstance(stages[0][1], dict):
            where.append(self.c.where(stages.pop(0)[1]))
        source = f"SELECT * FROM {self.c.table} WHERE {' AND '.join(where) or 'TRUE'}"
        for name, body in stages:
            if name == "$group":
                source = self.group(source, body)
            elif name == "$sort":
                source = self.sort(source, body)
            elif name in ("$limit", "$skip"):
                if not isinstance(body, int) or isinstance(body, bool) or body < 0:
                    raise ParseError(errors.INVALID_QUERY, f"Invalid aggregate {name}.")
                word = "LIMIT" if name == "$limit" else "OFFSET"
                source = f"SELECT * FROM ({source}) s {word} {self.c.bind(body)}::bigint"
            elif name == "$count":
                source = f"SELECT count(*) AS {self.d.quote(_name(body))} FROM ({source}) s"
                self.grouped, self.out_fields = True, {body: {"type": "Number"}}
            elif name == "$project":
                source = self.project(source, body)
            elif name == "$match":
                source = self.match(source, body)
            else:
                raise _refused(f"The {name} stage")
        return source


async def run_pipeline(adapter: Any, class_name: str, fields: dict[str, dict], pipeline: list[dict]) -> list[dict]:
    plan = Pipeline(adapter, class_name, fields)
    try:
        sql = plan.build([(name, body) for stage in pipeline for name, body in stage.items()])
    except (TypeError, KeyError, AttributeError, ValueError):
        raise ParseError(errors.INVALID_QUERY, "Invalid aggregate pipeline.") from None
    rows = await adapter._run("fetch", *plan.c.finish(sql))
    if not plan.grouped:
        decoder = RowDecoder(adapter.d, class_name, fields, adapter.file_url)
        return [decoder.row(r.items()) for r in rows]
    decoder = RowDecoder(adapter.d, "", {}, adapter.file_url)
    out = []
    for row in rows:
        decoded = decoder.row(row.items())
        out.append({"objectId": None, **decoded} if "objectId" in row.keys() else decoded)
    return out
