"""PostgreSQL storage in Parse Server 9's layout, on asyncpg.

One pool of connections (size from the settings); every statement is
prepared once per connection (asyncpg's statement cache) and a get, find,
create or update is one round trip. Tables, columns, ``_SCHEMA`` rows, join
tables and index names are Parse Server's (see the module docs of
``compiler.py``, ``columns.py`` and ``schema_rows.py``), so a database
written by Parse Server is served unchanged, and the other way round."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson

from bapp import errors
from bapp.errors import ParseError
from bapp.storage.base import DuplicateValue, Fields, FindOptions
from bapp.storage.sql import ddl, schema_rows
from bapp.storage.sql.codec import RowDecoder
from bapp.storage.sql.columns import column_for
from bapp.storage.sql.compiler import Compiler, acl_to_perms
from bapp.storage.sql.postgres import PostgresDialect

log = logging.getLogger("bapp.storage")
# Statements that run longer are cancelled (a costly regular expression);
# the client gets Parse's timeout error.
STATEMENT_TIMEOUT_MS = 15000
_current_conn: contextvars.ContextVar[Any] = contextvars.ContextVar("bapp_pg_conn", default=None)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


def _count(status: str) -> int:
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


class PostgresAdapter:
    def __init__(self, uri: str, pool_size: int = 10, file_url: Callable[[str], str] | None = None) -> None:
        self.uri = uri
        self.pool_size = pool_size
        self.file_url = file_url or (lambda name: name)
        self.d = PostgresDialect()
        self.pool: asyncpg.Pool | None = None
        self.tables = ddl.TableCache(self.d)
        self._ddl_lock = asyncio.Lock()

    # ------------------------------------------------------------ connection
    async def connect(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.uri, min_size=1, max_size=self.pool_size, statement_cache_size=1024, init=_init_connection,
            server_settings={"statement_timeout": str(STATEMENT_TIMEOUT_MS)})
        async with self.pool.acquire() as conn:
            await ddl.bootstrap(conn)
            await self.tables.load(conn)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    @asynccontextmanager
    async def transaction(self):
        """Every statement of the block on one connection, in one transaction
        (a batch with ``transaction: true``); nested blocks join it."""
        if _current_conn.get() is not None:
            yield
            return
        async with self.pool.acquire() as conn:
            token = _current_conn.set(conn)
            try:
                async with conn.transaction():
                    yield
            except BaseException:
                await self.tables.load(conn)  # tables made inside are gone again
                raise
            finally:
                _current_conn.reset(token)

    async def _run(self, method: str, sql: str, params: list) -> Any:
        conn = _current_conn.get()
        try:
            if conn is not None:
                return await getattr(conn, method)(sql, *params)
            return await getattr(self.pool, method)(sql, *params)
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateValue(self.tables.unique_fields(exc.constraint_name)) from None
        except asyncpg.QueryCanceledError:
            raise ParseError(errors.TIMEOUT, "The query took too long (a costly regular expression?).") from None
        except asyncpg.InvalidRegularExpressionError:
            raise ParseError(errors.INVALID_QUERY, "Invalid regular expression.") from None
        except (asyncpg.DataError, asyncpg.ProgramLimitExceededError, asyncpg.InvalidTextRepresentationError):
            raise ParseError(errors.INVALID_QUERY, "Invalid query.") from None
        except (TypeError, OverflowError, ValueError, orjson.JSONEncodeError):
            raise ParseError(errors.INVALID_JSON, "Invalid value.") from None
        except asyncpg.PostgresError:
            log.error("PostgreSQL refused %s with %r", sql, params)
            raise

    async def _ddl(self, statements: list[str]) -> None:
        """Runs schema statements, then re-reads which columns exist."""
        if not statements:
            return
        async with self._ddl_lock:
            conn = _current_conn.get()
            if conn is not None:
                await self._ddl_on(conn, statements)
                return
            async with self.pool.acquire() as conn:
                await self._ddl_on(conn, statements)

    async def _ddl_on(self, conn: asyncpg.Connection, statements: list[str]) -> None:
        for sql in statements:
            await conn.execute(sql)
        await self.tables.load(conn)

    async def _known(self, class_name: str, fields: Fields) -> bool:
        """Whether the class has a table; a table or column this process has
        not seen (another server made it) is looked up first."""
        if self.tables.stale(class_name, fields):
            conn = _current_conn.get()
            if conn is not None:
                await self.tables.refresh(conn, class_name)
            else:
                async with self.pool.acquire() as conn:
                    await self.tables.refresh(conn, class_name)
        return class_name in self.tables.columns

    def _compiler(self, class_name: str, fields: Fields) -> Compiler:
        return Compiler(self.d, class_name, fields, self.tables.columns.get(class_name))

    async def _ensure(self, class_name: str, fields: Fields, keys: Any) -> None:
        """Creates the table and any missing column the keys need."""
        await self._ddl(self.tables.missing(class_name, fields, keys))

    # ------------------------------------------------------------ schema documents
    async def load_schemas(self) -> list[dict]:
        rows = await self._run("fetch", 'SELECT "className", "schema" FROM "_SCHEMA"', [])
        return [schema_rows.doc_from_row(r["className"], r["schema"]) for r in rows]

    async def save_schema(self, class_name: str, doc: dict) -> None:
        fields = schema_rows.fields_of_doc(doc)
        await self._ddl(self.tables.missing(class_name, fields, list(fields), relations=True))
        row = schema_rows.row_from_doc({**doc, "_id": class_name})
        await self._run("execute", 'INSERT INTO "_SCHEMA" ("className", "schema", "isParseClass") VALUES ($1, $2, true) '
                        'ON CONFLICT ("className") DO UPDATE SET "schema" = EXCLUDED."schema"', [class_name, row])

    async def delete_schema(self, class_name: str) -> None:
        await self._run("execute", 'DELETE FROM "_SCHEMA" WHERE "className" = $1', [class_name])

    async def drop_class(self, class_name: str, relation_fields: list[str]) -> None:
        await self._ddl(self.tables.drop(class_name, relation_fields))
        await self.delete_schema(class_name)

    async def delete_field(self, class_name: str, fields: Fields, name: str) -> None:
        await self._ddl(self.tables.drop_field(class_name, fields, name))

    # ------------------------------------------------------------ objects
    def as_read(self, fields: Fields, obj: dict) -> dict:
        c = Compiler(self.d, "", fields)
        record: list[tuple[str, Any]] = []
        for key, value in obj.items():
            if key == "ACL":
                if isinstance(value, dict):
                    rperm, wperm = acl_to_perms(value)
                    record += [("_rperm", rperm), ("_wperm", wperm)]
                continue
            if key in ("createdAt", "updatedAt"):
                record.append((key, value))
                continue
            col = column_for("", fields, key)
            if col is None or value is None:
                continue
            if key == "authData" and isinstance(value, dict):
                value = {p: v for p, v in value.items() if v is not None}
            try:
                record.append((key, self.d.to_db(col.kind, c.encode(col, value))))
            except ParseError:
                continue
        out = RowDecoder(self.d, "", fields, self.file_url).row(record)
        # A value just written as null is echoed as null (what the client
        # sent); reads later find it missing, as on Parse Server's adapter.
        for key, value in obj.items():
            if value is None and key not in out and not key.startswith("_") and key != "ACL":
                out[key] = None
        return out

    async def create(self, class_name: str, fields: Fields, obj: dict) -> None:
        await self._ensure(class_name, fields, obj)
        c = self._compiler(class_name, fields)
        names, values = c.insert_values(obj)
        sql = f"INSERT INTO {c.table} ({', '.join(names)}) VALUES ({', '.join(values)})"
        await self._run("execute", *c.finish(sql))

    async def update(self, class_name: str, fields: Fields, where: dict, update: dict) -> dict | None:
        await self._ensure(class_name, fields, [k for k, v in update.items() if not _is_delete(v)])
        c = self._compiler(class_name, fields)
        sets = c.update_set(update)
        cond = c.where(where)
        if not sets:
            rows = await self.find(class_name, fields, where, FindOptions(limit=1))
            return rows[0] if rows else None
        sql = f"UPDATE {c.table} SET {', '.join(sets)} WHERE {cond} RETURNING *"
        row = await self._run("fetchrow", *c.finish(sql))
        return RowDecoder(self.d, class_name, fields, self.file_url).row(row.items()) if row else None

    async def update_many(self, class_name: str, fields: Fields, where: dict, update: dict) -> int:
        if not await self._known(class_name, fields):
            return 0
        await self._ensure(class_name, fields, [k for k, v in update.items() if not _is_delete(v)])
        c = self._compiler(class_name, fields)
        sets = c.update_set(update)
        if not sets:
            return 0
        sql = f"UPDATE {c.table} SET {', '.join(sets)} WHERE {c.where(where)}"
        status = await self._run("execute", *c.finish(sql))
        return _count(status)

    async def delete(self, class_name: str, fields: Fields, where: dict) -> bool:
        return await self._delete(class_name, fields, where) > 0

    async def delete_many(self, class_name: str, fields: Fields, where: dict) -> int:
        return await self._delete(class_name, fields, where)

    async def _delete(self, class_name: str, fields: Fields, where: dict) -> int:
        if not await self._known(class_name, fields):
            return 0
        c = self._compiler(class_name, fields)
        status = await self._run("execute", *c.finish(f"DELETE FROM {c.table} WHERE {c.where(where)}"))
        return _count(status)

    def _select(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> tuple[str, list]:
        c = self._compiler(class_name, fields)
        cond = c.where(where)
        order = c.order_by(options.order)
        wants_score = "$score" in options.order or "$score" in (options.keys or [])
        select = c.select_list(options.keys, self.tables.ordered[class_name], wants_score)
        return c.finish(f"SELECT {select} FROM {c.table} WHERE {cond}{order}{c.limit(options.limit, options.skip)}")

    async def find(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> list[dict]:
        if not await self._known(class_name, fields):
            return []
        sql, params = self._select(class_name, fields, where, options)
        rows = await self._run("fetch", sql, params)
        decoder = RowDecoder(self.d, class_name, fields, self.file_url)
        return [decoder.row(r.items()) for r in rows]

    async def count(self, class_name: str, fields: Fields, where: dict) -> int:
        if not await self._known(class_name, fields):
            return 0
        c = self._compiler(class_name, fields)
        return await self._run("fetchval", *c.finish(f"SELECT count(*) FROM {c.table} WHERE {c.where(where)}"))

    async def explain(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> dict:
        if not await self._known(class_name, fields):
            return {"queryPlanner": {"store": "postgres", "plan": None}}
        sql, params = self._select(class_name, fields, where, options)
        plan = await self._run("fetchval", "EXPLAIN (FORMAT JSON) " + sql, params)
        # The same envelope as MongoDB's explain; the plan is PostgreSQL's own.
        return {"queryPlanner": {"store": "postgres", "plan": orjson.loads(plan) if isinstance(plan, str) else plan}}

    async def distinct(self, class_name: str, fields: Fields, where: dict, key: str) -> list:
        if not await self._known(class_name, fields):
            return []
        c = self._compiler(class_name, fields)
        root, *path = key.split(".")
        col = c.column(root)
        if col is None:
            return []
        cond = c.where(where)
        expr = c.q(col.name)
        if path and col.is_json:
            expr = self.d.json_at(expr, path, c.bind)
        elif path:
            return []
        if col.kind == "Array" or path:
            sql = (f"SELECT DISTINCT v FROM {c.table}, jsonb_array_elements(CASE WHEN jsonb_typeof({expr}) = 'array' "
                   f"THEN {expr} ELSE jsonb_build_array({expr}) END) v WHERE {cond} AND {expr} IS NOT NULL")
            rows = await self._run("fetch", *c.finish(sql))
            return [r["v"] for r in rows if r["v"] is not None]
        sql = f"SELECT DISTINCT {expr} AS v FROM {c.table} WHERE {cond} AND {expr} IS NOT NULL"
        rows = await self._run("fetch", *c.finish(sql))
        decoder = RowDecoder(self.d, class_name, fields, self.file_url)
        return [decoder.row([(col.name, r["v"])]).get(col.name) for r in rows]

    async def aggregate(self, class_name: str, fields: Fields, pipeline: list[dict]) -> list[dict]:
        from bapp.storage.sql.aggregate import run_pipeline

        if not await self._known(class_name, fields):
            return []
        return await run_pipeline(self, class_name, fields, pipeline)

    # ------------------------------------------------------------ indexes
    async def ensure_index(self, class_name: str, fields: Fields, spec: dict, name: str | None = None,
                           unique: bool = False, case_insensitive: bool = False) -> None:
        # Index specs may name a pointer as MongoDB does (_p_<field>): its column is the field.
        await self._ensure(class_name, fields, [k[3:] if k.startswith("_p_") and k[3:] in fields else k for k in spec])
        if name and not unique and await self._index_owner(name) not in (None, class_name):
            # Index names are unique per PostgreSQL schema; Parse Server then
            # silently skips the index. bapp builds it under the class's own
            # name for it (a deliberate improvement) and reports it as declared.
            name = f"{class_name}:{name}"
        sql = self.tables.index_sql(class_name, fields, spec, name, unique, case_insensitive)
        if sql is None:
            return
        try:
            await self._ddl([sql])
        except asyncpg.UniqueViolationError:
            raise ParseError(errors.DUPLICATE_VALUE, "A duplicate value for a field with unique values was provided") \
                from None

    async def _index_owner(self, name: str) -> str | None:
        return await self._run("fetchval", "SELECT tablename FROM pg_indexes WHERE schemaname = current_schema() "
                               "AND indexname = $1", [name])

    async def drop_index(self, class_name: str, name: str) -> None:
        for candidate in (name, f"{class_name}:{name}"):
            if await self._index_owner(candidate) == class_name:
                await self._ddl([f"DROP INDEX IF EXISTS {self.d.quote(candidate)}"])
                return

    async def indexes(self, class_name: str) -> dict[str, dict]:
        rows = await self._run("fetch", ddl.INDEX_COLUMNS, [class_name])
        out: dict[str, dict] = {}
        for row in rows:
            if row["indisprimary"]:
                out.setdefault("_id_", {"_id": 1})
            elif row["attname"]:
                name = row["relname"].removeprefix(class_name + ":")
                out.setdefault(name, {})[row["attname"]] = -1 if row["descending"] else 1
        return out

    # ------------------------------------------------------------ relations
    async def add_relation(self, field_name: str, owner_class: str, owning_id: str, related_id: str) -> None:
        table = ddl.join_table(field_name, owner_class)
        await self._ddl(self.tables.missing_join(table))
        await self._run("execute", f'INSERT INTO {self.d.quote(table)} ("relatedId", "owningId") VALUES ($1, $2) '
                        "ON CONFLICT DO NOTHING", [related_id, owning_id])

    async def remove_relation(self, field_name: str, owner_class: str, owning_id: str, related_id: str) -> None:
        table = ddl.join_table(field_name, owner_class)
        if table not in self.tables.columns:
            return
        await self._run("execute", f'DELETE FROM {self.d.quote(table)} WHERE "relatedId" = $1 AND "owningId" = $2',
                        [related_id, owning_id])

    async def related_ids(self, field_name: str, owner_class: str, owning_ids: list[str]) -> list[str]:
        return await self._join_lookup(field_name, owner_class, "relatedId", "owningId", owning_ids)

    async def owning_ids(self, field_name: str, owner_class: str, related_ids: list[str]) -> list[str]:
        return await self._join_lookup(field_name, owner_class, "owningId", "relatedId", related_ids)

    async def relation_pairs(self, field_name: str, owner_class: str, owning_ids: list[str]) -> list[tuple[str, str]]:
        """(owningId, relatedId) of many owners in one query (GraphQL reads
        the relation fields of a whole page of objects at once)."""
        table = ddl.join_table(field_name, owner_class)
        if not owning_ids or not await self._known(table, {}):
            return []
        rows = await self._run("fetch", f'SELECT "owningId", "relatedId" FROM {self.d.quote(table)} '
                               'WHERE "owningId" = ANY($1::text[])', [list(owning_ids)])
        return list(dict.fromkeys((r[0], r[1]) for r in rows))

    async def _join_lookup(self, field_name: str, owner_class: str, want: str, by: str, ids: list[str]) -> list[str]:
        table = ddl.join_table(field_name, owner_class)
        if not ids or not await self._known(table, {}):
            return []
        rows = await self._run("fetch", f'SELECT "{want}" FROM {self.d.quote(table)} WHERE "{by}" = ANY($1::text[])',
                               [list(ids)])
        return list(dict.fromkeys(r[0] for r in rows))

    # ------------------------------------------------------------ config
    async def get_config(self) -> dict:
        row = await self._run("fetchrow", 'SELECT "params", "masterKeyOnly" FROM "_GlobalConfig" WHERE "objectId" = $1',
                              ["1"])
        if row is None:
            return {}
        return {"params": row["params"] or {}, "masterKeyOnly": row["masterKeyOnly"] or {}}

    async def update_config(self, params: dict, master_key_only: dict) -> None:
        removed = [k for k, v in params.items() if isinstance(v, dict) and v.get("__op") == "Delete"]
        kept = {k: v for k, v in params.items() if k not in removed}
        flags = {k: bool(v) for k, v in master_key_only.items() if k not in removed}
        # Parse Server's merge (existing || new), plus deletions, in one statement.
        await self._run("execute", """
            INSERT INTO "_GlobalConfig" ("objectId", "params", "masterKeyOnly") VALUES ('1', $1::jsonb, $2::jsonb)
            ON CONFLICT ("objectId") DO UPDATE SET
              "params" = (COALESCE("_GlobalConfig"."params", '{}'::jsonb) || $1::jsonb) - $3::text[],
              "masterKeyOnly" = (COALESCE("_GlobalConfig"."masterKeyOnly", '{}'::jsonb) || $2::jsonb) - $3::text[]
        """, [kept, flags, removed])


def _is_delete(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__op") == "Delete"

