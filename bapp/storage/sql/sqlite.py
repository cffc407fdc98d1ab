"""The embedded store: SQLite in one file, through the SQL query compiler.

The layout is the PostgreSQL store's (a table per class, a column per field,
``_SCHEMA`` holding Parse's schema documents, ``_Join:<field>:<Class>``
tables, ``_rperm``/``_wperm``, the hidden ``_User`` columns), in SQLite's
types (``sqlite_dialect.py``). Every statement runs off the event loop
(``sqlite_db.py``): writes one at a time in the writer thread, which also
changes tables as schemas grow, reads in reader threads."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC
from typing import Any

import orjson

from bapp import errors
from bapp.errors import ParseError
from bapp.model import types
from bapp.storage.base import DuplicateValue, Fields, FindOptions
from bapp.storage.sql import sqlite_aggregate
from bapp.storage.sql.columns import Column, column_for, table_columns
from bapp.storage.sql.compiler import Compiler, acl_to_perms, perms_to_acl
from bapp.storage.sql.sqlite_db import SqliteDatabase
from bapp.storage.sql.sqlite_dialect import FUNCTIONS, SqliteDialect, dumps

SCHEMA_TABLE = "_SCHEMA"
CONFIG_TABLE = "_GlobalConfig"
_INDEX_SEP = ":"  # SQLite index names are per database: "<Class>:<name>"
_UNIQUE_FAILED = re.compile(r"UNIQUE constraint failed: (.*)")
_SCHEMA_DB_TYPES = {
    "string": "String", "number": "Number", "boolean": "Boolean", "date": "Date", "object": "Object",
    "array": "Array", "geopoint": "GeoPoint", "file": "File", "bytes": "Bytes", "polygon": "Polygon", "map": "Object",
}


def join_table(field_name: str, owner_class: str) -> str:
    return f"_Join:{field_name}:{owner_class}"


def fields_of_doc(doc: dict) -> Fields:
    """The field types a ``_SCHEMA`` document declares (enough for columns)."""
    out: Fields = {}
    for key, value in doc.items():
        if key.startswith("_") or not isinstance(value, str):
            continue
        if value.startswith("*"):
            out[key] = {"type": "Pointer", "targetClass": value[1:]}
        elif value.startswith("relation<"):
            out[key] = {"type": "Relation", "targetClass": value[len("relation<"):-1]}
        elif value in _SCHEMA_DB_TYPES:
            out[key] = {"type": _SCHEMA_DB_TYPES[value]}
    return out


class SqliteAdapter:
    """Storage in one SQLite file (the default store)."""

    def __init__(self, path: str | os.PathLike[str], file_url: Callable[[str], str] | None = None,
                 readers: int = 4, synchronous: str = "full") -> None:
        self.db = SqliteDatabase(path, readers=readers, functions=FUNCTIONS, synchronous=synchronous,
                                 prepare=self._fresh)
        self.dialect = SqliteDialect()
        self.file_url = file_url or (lambda name: name)
        # Each table's columns, in order, cached per database thread and
        # reloaded whenever that connection sees another schema version (a
        # table changed by this process's writer or by another process on the
        # same file, e.g. `bapp serve --workers`). Statements are built inside
        # the jobs, on the connection that runs them, so they never use a
        # stale cache.
        self._local = threading.local()

    @property
    def _columns(self) -> dict[str, list[str]]:
        return self._local.__dict__.setdefault("columns", {})

    def _fresh(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        if getattr(self._local, "version", None) == version:
            return
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
        self._local.columns = {name: [r[1] for r in conn.execute(f"PRAGMA table_info({self.q(name)})")]
                               for name in tables}
        self._local.version = version

    @property
    def path(self) -> str:
        return str(self.db.path)

    async def connect(self) -> None:
        await self.db.open()
        await self.db.write(self._bootstrap)

    async def close(self) -> None:
        await self.db.close()

    def transaction(self):
        """``async with adapter.transaction():`` every write of this task
        inside commits or rolls back together."""
        return self.db.transaction()

    async def backup(self, target: str | os.PathLike[str]) -> int:
        return await self.db.backup(target)

    # ------------------------------------------------------------ tables (writer thread)
    def q(self, name: str) -> str:
        return self.dialect.quote(name)

    def _bootstrap(self, conn: sqlite3.Connection) -> None:
        conn.execute(f'CREATE TABLE IF NOT EXISTS {self.q(SCHEMA_TABLE)} ("className" TEXT PRIMARY KEY, '
                     '"schema" TEXT NOT NULL, "isParseClass" INTEGER NOT NULL DEFAULT 1)')
        conn.execute(f'CREATE TABLE IF NOT EXISTS {self.q(CONFIG_TABLE)} ("objectId" TEXT PRIMARY KEY, '
                     '"params" TEXT, "masterKeyOnly" TEXT)')

    def _ensure_table(self, conn: sqlite3.Connection, class_name: str, fields: Fields) -> list[str]:
        """The class table with a column for every field (created or widened)."""
        wanted = table_columns(class_name, fields)
        have = self._columns.get(class_name)
        if have is None:
            defs = ", ".join(self._column_def(col) for col in wanted)
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self.q(class_name)} ({defs})")
            have = self._columns[class_name] = [col.name for col in wanted]
            return have
        missing = [col for col in wanted if col.name not in have]
        for col in missing:
            conn.execute(f"ALTER TABLE {self.q(class_name)} ADD COLUMN {self._column_def(col)}")
            have.append(col.name)
        return have

    def _column_def(self, col: Column) -> str:
        extra = " PRIMARY KEY" if col.name == "objectId" else ""
        return f"{self.q(col.name)} {self.dialect.column_type(col.kind)}{extra}"

    def _ensure_join(self, conn: sqlite3.Connection, table: str) -> None:
        if table in self._columns:
            return
        conn.execute(f'CREATE TABLE IF NOT EXISTS {self.q(table)} ("relatedId" TEXT NOT NULL, '
                     '"owningId" TEXT NOT NULL, PRIMARY KEY ("relatedId", "owningId"))')
        conn.execute(f'CREATE INDEX IF NOT EXISTS {self.q(table + _INDEX_SEP + "owningId")} '
                     f'ON {self.q(table)} ("owningId")')
        self._columns[table] = ["relatedId", "owningId"]

    def _finish(self, sql: str, params: list) -> tuple[str, list]:
        return self.dialect.finish(sql, params)

    def _compiler(self, class_name: str, fields: Fields) -> Compiler:
        return Compiler(self.dialect, class_name, fields, set(self._columns.get(class_name, ())))

    # ------------------------------------------------------------ schema documents
    async def load_schemas(self) -> list[dict]:
        rows = await self.db.read(lambda c: c.execute(f'SELECT "schema" FROM {self.q(SCHEMA_TABLE)}').fetchall())
        return [orjson.loads(raw) for (raw,) in rows]

    async def save_schema(self, class_name: str, doc: dict) -> None:
        body = {"_id": class_name, **{k: v for k, v in doc.items() if k != "_id"}}

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(f'INSERT INTO {self.q(SCHEMA_TABLE)} ("className", "schema") VALUES (?1, ?2) '
                         'ON CONFLICT ("className") DO UPDATE SET "schema" = excluded."schema"',
                         (class_name, dumps(body)))
            fields = fields_of_doc(body)
            self._ensure_table(conn, class_name, fields)
            for name, spec in fields.items():
                if spec["type"] == "Relation":
                    self._ensure_join(conn, join_table(name, class_name))

        await self.db.write(job)

    async def delete_schema(self, class_name: str) -> None:
        await self.db.write(lambda c: c.execute(f'DELETE FROM {self.q(SCHEMA_TABLE)} WHERE "className" = ?1',
                                                (class_name,)))

    async def drop_class(self, class_name: str, relation_fields: list[str]) -> None:
        def job(conn: sqlite3.Connection) -> None:
            for table in [class_name, *(join_table(name, class_name) for name in relation_fields)]:
                conn.execute(f"DROP TABLE IF EXISTS {self.q(table)}")
                self._columns.pop(table, None)
            conn.execute(f'DELETE FROM {self.q(SCHEMA_TABLE)} WHERE "className" = ?1', (class_name,))

        await self.db.write(job)

    async def delete_field(self, class_name: str, fields: Fields, name: str) -> None:
        spec = fields.get(name, {})

        def job(conn: sqlite3.Connection) -> None:
            if spec.get("type") == "Relation":
                table = join_table(name, class_name)
                conn.execute(f"DROP TABLE IF EXISTS {self.q(table)}")
                self._columns.pop(table, None)
                return
            have = self._columns.get(class_name) or []
            if name not in have:
                return
            for index, columns in self._index_columns(conn, class_name).items():
                if name in (column for column, _ in columns):
                    conn.execute(f"DROP INDEX IF EXISTS {self.q(index)}")
            conn.execute(f"ALTER TABLE {self.q(class_name)} DROP COLUMN {self.q(name)}")
            have.remove(name)

        await self.db.write(job)

    # ------------------------------------------------------------ objects: writes
    def as_read(self, fields: Fields, obj: dict) -> dict:
        c = Compiler(self.dialect, "", fields)
        names, raw = [], []
        for key, value in obj.items():
            if key in ("ACL",):
                names += ["_rperm", "_wperm"]
                perms = [None, None] if value is None else [dumps(p) for p in acl_to_perms(value)]
                raw += perms
                continue
            col = c.column(key)
            if col is None or value is None:
                continue
            names.append(col.name)
            raw.append(self.dialect.to_db(col.kind, c.encode(col, value)))
        return self._decode("", fields, names, raw)

    async def create(self, class_name: str, fields: Fields, obj: dict) -> None:
        def job(conn: sqlite3.Connection) -> None:
            self._ensure_table(conn, class_name, fields)
            c = self._compiler(class_name, fields)
            names, values = c.insert_values(obj)
            conn.execute(*self._finish(f"INSERT INTO {c.table} ({', '.join(names)}) VALUES ({', '.join(values)})",
                                       c.params))

        await self._write(job)

    async def update(self, class_name: str, fields: Fields, where: dict, update: dict) -> dict | None:
        def job(conn: sqlite3.Connection) -> dict | None:
            if class_name not in self._columns:
                return None
            self._ensure_table(conn, class_name, fields)
            c = self._compiler(class_name, fields)
            sets = c.update_set(update)
            cond = c.where(where)
            if not sets:
                sets = ['"objectId" = "objectId"']
            cursor = conn.execute(*self._finish(f"UPDATE {c.table} SET {', '.join(sets)} WHERE rowid = "
                                                f"(SELECT rowid FROM {c.table} WHERE {cond} LIMIT 1) RETURNING *",
                                                c.params))
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description]
            cursor.fetchall()
            return None if row is None else self._decode(class_name, fields, names, row)

        return await self._write(job)

    async def update_many(self, class_name: str, fields: Fields, where: dict, update: dict) -> int:
        def job(conn: sqlite3.Connection) -> int:
            if class_name not in self._columns:
                return 0
            self._ensure_table(conn, class_name, fields)
            c = self._compiler(class_name, fields)
            sets = c.update_set(update)
            cond = c.where(where)
            if not sets:
                return 0
            return conn.execute(*self._finish(f"UPDATE {c.table} SET {', '.join(sets)} WHERE {cond}",
                                              c.params)).rowcount

        return await self._write(job)

    async def delete(self, class_name: str, fields: Fields, where: dict) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            if class_name not in self._columns:
                return False
            c = self._compiler(class_name, fields)
            cond = c.where(where)
            sql = f"DELETE FROM {c.table} WHERE rowid = (SELECT rowid FROM {c.table} WHERE {cond} LIMIT 1)"
            return conn.execute(*self._finish(sql, c.params)).rowcount == 1

        return await self._write(job)

    async def delete_many(self, class_name: str, fields: Fields, where: dict) -> int:
        def job(conn: sqlite3.Connection) -> int:
            if class_name not in self._columns:
                return 0
            c = self._compiler(class_name, fields)
            return conn.execute(*self._finish(f"DELETE FROM {c.table} WHERE {c.where(where)}", c.params)).rowcount

        return await self._write(job)

    async def _write(self, job: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            return await self.db.write(job)
        except sqlite3.IntegrityError as exc:
            raise _duplicate(exc) from None
        except sqlite3.Error as exc:
            raise _database_error(exc) from None

    # ------------------------------------------------------------ objects: reads
    def _select(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> tuple[str, list]:
        c = self._compiler(class_name, fields)
        cond = c.where(where)
        order = c.order_by(options.order)
        paging = c.limit(options.limit, options.skip or 0)
        with_score = "$score" in options.order or "$score" in (options.keys or [])
        columns = c.select_list(options.keys, self._columns[class_name], with_score=with_score)
        return self._finish(f"SELECT {columns} FROM {c.table} WHERE {cond}{order}{paging}", c.params)

    async def find(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> list[dict]:
        def job(conn: sqlite3.Connection) -> tuple[list[str], list]:
            if class_name not in self._columns:
                return [], []
            cursor = conn.execute(*self._select(class_name, fields, where, options))
            return [d[0] for d in cursor.description], cursor.fetchall()

        names, rows = await self._read(job)
        return [self._decode(class_name, fields, names, row) for row in rows]

    async def count(self, class_name: str, fields: Fields, where: dict) -> int:
        def job(conn: sqlite3.Connection) -> int:
            if class_name not in self._columns:
                return 0
            c = self._compiler(class_name, fields)
            return conn.execute(*self._finish(f"SELECT count(*) FROM {c.table} WHERE {c.where(where)}",
                                              c.params)).fetchone()[0]

        return await self._read(job)

    async def explain(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> dict:
        def job(conn: sqlite3.Connection) -> list[str]:
            if class_name not in self._columns:
                return []
            sql, params = self._select(class_name, fields, where, options)
            return [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]

        steps = await self._read(job)
        return {"queryPlanner": {"namespace": class_name, "winningPlan": {"steps": steps}}, "store": "sqlite"}

    async def distinct(self, class_name: str, fields: Fields, where: dict, key: str) -> list:
        root = key.split(".", 1)[0]
        rows = await self.find(class_name, fields, where, FindOptions(keys=[root]))
        seen: dict[bytes, Any] = {}
        for row in rows:
            value: Any = row
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    seen.setdefault(orjson.dumps(item, option=orjson.OPT_SORT_KEYS), item)
        return list(seen.values())

    async def aggregate(self, class_name: str, fields: Fields, pipeline: list[dict]) -> list[dict]:
        rows = await self.find(class_name, fields, {}, FindOptions())
        return await sqlite_aggregate.run(fields, rows, pipeline, self.file_url)

    async def _read(self, job: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            return await self.db.read(job)
        except sqlite3.Error as exc:
            raise _database_error(exc) from None

    def _decode(self, class_name: str, fields: Fields, names: list[str], row: Any) -> dict:
        out: dict[str, Any] = {}
        rperm = wperm = None
        has_perms = False
        from_db = self.dialect.from_db
        for name, raw in zip(names, row, strict=True):
            if name in ("_rperm", "_wperm"):
                if raw is not None:
                    has_perms = True
                    if name == "_rperm":
                        rperm = orjson.loads(raw)
                    else:
                        wperm = orjson.loads(raw)
                continue
            if raw is None:
                continue
            if name == "score":
                out["score"] = raw
                continue
            col = column_for(class_name, fields, name)
            if col is None:
                continue
            if name in ("createdAt", "updatedAt"):
                out[name] = raw  # top-level timestamps are plain ISO strings in REST
            elif col.kind == "Pointer":
                out[name] = types.pointer(col.target or "", raw)
            elif col.kind == "File":
                out[name] = {"__type": "File", "name": raw, "url": self.file_url(raw)}
            elif name.startswith("_") and col.kind == "Date":
                # Hidden dates keep the engine's form: naive UTC datetimes (as the other stores return them).
                out[name] = types.parse_iso(raw).astimezone(UTC).replace(tzinfo=None)
            else:
                value = from_db(col.kind, raw)
                if col.is_json and '"File"' in raw:
                    value = self._with_file_urls(value)
                out[name] = value
        if has_perms:
            out["ACL"] = perms_to_acl(rperm, wperm)
        for name, spec in fields.items():
            if spec.get("type") == "Relation":
                out[name] = {"__type": "Relation", "className": spec.get("targetClass")}
        return out

    def _with_file_urls(self, value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("__type") == "File" and isinstance(value.get("name"), str):
                return {"__type": "File", "name": value["name"], "url": self.file_url(value["name"])}
            return {k: self._with_file_urls(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._with_file_urls(v) for v in value]
        return value

    # ------------------------------------------------------------ indexes
    async def ensure_index(self, class_name: str, fields: Fields, spec: dict, name: str | None = None,
                           unique: bool = False, case_insensitive: bool = False) -> None:
        # Text and geo queries are decided by registered functions; SQLite has
        # no such index types, so those index declarations have nothing to build.
        if any(v in ("text", "2d", "2dsphere") for v in spec.values()):
            return
        name = name or "_".join(f"{k}_{v}" for k, v in spec.items())

        def job(conn: sqlite3.Connection) -> None:
            have = self._ensure_table(conn, class_name, fields)
            terms = []
            for key, direction in spec.items():
                root, *path = column_key(key, fields).split(".")
                if root not in have:
                    return
                expr = self.q(root)
                if path:
                    expr = f"json_extract({expr}, '{_literal_path(path)}')"
                collate = " COLLATE NOCASE" if case_insensitive else ""
                terms.append(f"{expr}{collate} {'DESC' if direction == -1 else 'ASC'}")
            kind = "UNIQUE INDEX" if unique else "INDEX"
            conn.execute(f"CREATE {kind} IF NOT EXISTS {self.q(class_name + _INDEX_SEP + name)} "
                         f"ON {self.q(class_name)} ({', '.join(terms)})")

        try:
            await self.db.write(job)
        except sqlite3.IntegrityError:
            raise ParseError(errors.DUPLICATE_VALUE, "Cannot create a unique index: the class holds duplicate "
                                                     "values for it") from None

    async def drop_index(self, class_name: str, name: str) -> None:
        await self.db.write(lambda c: c.execute(f"DROP INDEX IF EXISTS {self.q(class_name + _INDEX_SEP + name)}"))

    async def indexes(self, class_name: str) -> dict[str, dict]:
        def job(conn: sqlite3.Connection) -> tuple[dict, dict] | None:
            if class_name not in self._columns:
                return None
            row = conn.execute(f'SELECT "schema" FROM {self.q(SCHEMA_TABLE)} WHERE "className" = ?1',
                               (class_name,)).fetchone()
            return (fields_of_doc(orjson.loads(row[0])) if row else {}), self._index_columns(conn, class_name)

        answer = await self.db.read(job)
        if answer is None:
            return {}
        fields, found = answer
        out = {"_id_": {"_id": 1}}
        prefix = class_name + _INDEX_SEP
        for index, columns in found.items():
            if index.startswith(prefix):
                # Keys as Parse's index specs write them (pointers as _p_<field>).
                out[index[len(prefix):]] = {
                    ("_p_" + name if fields.get(name, {}).get("type") == "Pointer" else name): direction
                    for name, direction in columns}
        return out

    def _index_columns(self, conn: sqlite3.Connection, table: str) -> dict[str, list[tuple[str, int]]]:
        out = {}
        for row in conn.execute(f"PRAGMA index_list({self.q(table)})").fetchall():
            index = row[1]
            out[index] = [(r[2] or "<expression>", -1 if r[3] else 1)
                          for r in conn.execute(f"PRAGMA index_xinfo({self.q(index)})") if r[5]]
        return out

    # ------------------------------------------------------------ relations
    async def add_relation(self, field_name: str, owner_class: str, owning_id: str, related_id: str) -> None:
        table = join_table(field_name, owner_class)

        def job(conn: sqlite3.Connection) -> None:
            self._ensure_join(conn, table)
            conn.execute(f'INSERT OR IGNORE INTO {self.q(table)} ("relatedId", "owningId") VALUES (?1, ?2)',
                         (related_id, owning_id))

        await self.db.write(job)

    async def remove_relation(self, field_name: str, owner_class: str, owning_id: str, related_id: str) -> None:
        table = join_table(field_name, owner_class)

        def job(conn: sqlite3.Connection) -> None:
            if table in self._columns:
                conn.execute(f'DELETE FROM {self.q(table)} WHERE "relatedId" = ?1 AND "owningId" = ?2',
                             (related_id, owning_id))

        await self.db.write(job)

    async def related_ids(self, field_name: str, owner_class: str, owning_ids: list[str]) -> list[str]:
        return await self._join_lookup(join_table(field_name, owner_class), "relatedId", "owningId", owning_ids)

    async def owning_ids(self, field_name: str, owner_class: str, related_ids: list[str]) -> list[str]:
        return await self._join_lookup(join_table(field_name, owner_class), "owningId", "relatedId", related_ids)

    async def relation_pairs(self, field_name: str, owner_class: str, owning_ids: list[str]) -> list[tuple[str, str]]:
        """(owningId, relatedId) of many owners in one query (GraphQL reads
        the relation fields of a whole page of objects at once)."""
        table = join_table(field_name, owner_class)
        if not owning_ids:
            return []
        sql = (f'SELECT "owningId", "relatedId" FROM {self.q(table)} '
               'WHERE "owningId" IN (SELECT value FROM json_each(?1))')

        def job(conn: sqlite3.Connection) -> list:
            return conn.execute(sql, (dumps(list(owning_ids)),)).fetchall() if table in self._columns else []

        return [(r[0], r[1]) for r in await self.db.read(job)]

    async def _join_lookup(self, table: str, want: str, by: str, ids: list[str]) -> list[str]:
        if not ids:
            return []
        sql = (f'SELECT DISTINCT {self.q(want)} FROM {self.q(table)} '
               f'WHERE {self.q(by)} IN (SELECT value FROM json_each(?1))')

        def job(conn: sqlite3.Connection) -> list:
            return conn.execute(sql, (dumps(list(ids)),)).fetchall() if table in self._columns else []

        return [r[0] for r in await self.db.read(job)]

    # ------------------------------------------------------------ config
    async def get_config(self) -> dict:
        row = await self.db.read(lambda c: c.execute(
            f'SELECT "params", "masterKeyOnly" FROM {self.q(CONFIG_TABLE)} WHERE "objectId" = \'1\'').fetchone())
        if row is None:
            return {}
        return {"params": orjson.loads(row[0] or "{}"), "masterKeyOnly": orjson.loads(row[1] or "{}")}

    async def update_config(self, params: dict, master_key_only: dict) -> None:
        def job(conn: sqlite3.Connection) -> None:
            row = conn.execute(f'SELECT "params", "masterKeyOnly" FROM {self.q(CONFIG_TABLE)} '
                               'WHERE "objectId" = \'1\'').fetchone()
            current = orjson.loads(row[0] or "{}") if row else {}
            only = orjson.loads(row[1] or "{}") if row else {}
            for key, value in params.items():
                if isinstance(value, dict) and value.get("__op") == "Delete":
                    current.pop(key, None)
                    only.pop(key, None)
                else:
                    current[key] = value
            for key, value in master_key_only.items():
                only[key] = bool(value)
            conn.execute(f'INSERT INTO {self.q(CONFIG_TABLE)} ("objectId", "params", "masterKeyOnly") '
                         "VALUES ('1', ?1, ?2) ON CONFLICT (\"objectId\") DO UPDATE SET "
                         '"params" = excluded."params", "masterKeyOnly" = excluded."masterKeyOnly"',
                         (dumps(current), dumps(only)))

        await self.db.write(job)


_MONGO_KEYS = {"_id": "objectId", "_created_at": "createdAt", "_updated_at": "updatedAt"}


def column_key(key: str, fields: Fields) -> str:
    """An index key as a column (path): index specs may use MongoDB's names
    (``_p_<pointer>``, ``_created_at``), as Parse Server's do."""
    if key.startswith("_p_") and fields.get(key[3:], {}).get("type") == "Pointer":
        return key[3:]
    return _MONGO_KEYS.get(key, key)


def _literal_path(path: list[str]) -> str:
    """A JSON path as an SQL literal's content (index expressions cannot bind
    parameters); field names are validated, quotes are dropped anyway."""
    return "$" + "".join("." + key.replace("'", "").replace('"', "") for key in path)


def _duplicate(exc: sqlite3.IntegrityError) -> Exception:
    found = _UNIQUE_FAILED.search(str(exc))
    if not found:
        return ParseError(errors.INVALID_JSON, "The object could not be stored.")
    names = []
    for part in found.group(1).split(","):
        part = part.strip()
        if part.startswith("index "):
            part = part[len("index "):].strip("'").rsplit(_INDEX_SEP, 1)[-1]
            part = part.removesuffix("_1").removeprefix("case_insensitive_")
        names.append(part.split(".", 1)[-1])
    return DuplicateValue(names)


def _database_error(exc: sqlite3.Error) -> ParseError:
    # Never echo database internals to the client.
    return ParseError(errors.INVALID_QUERY, "Invalid query.")
