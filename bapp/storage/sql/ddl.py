"""Tables, columns and indexes in Parse Server 9's PostgreSQL layout, and
the cache of which columns each table has (so a find on a field no row has
never names a missing column)."""

from __future__ import annotations

from typing import Any

from bapp.storage.sql.columns import column_for, table_columns
from bapp.storage.sql.dialect import Dialect

_DEFAULT = '"objectId" text, "createdAt" timestamp with time zone, "updatedAt" timestamp with time zone, ' \
           '"_rperm" text[], "_wperm" text[]'
# Created at every start, as Parse Server does (no _SCHEMA rows).
BOOTSTRAP = [
    'CREATE TABLE IF NOT EXISTS "_SCHEMA" ("className" varchar(120), "schema" jsonb, "isParseClass" boolean, '
    'PRIMARY KEY ("className"))',
    'CREATE TABLE IF NOT EXISTS "_GlobalConfig" ("objectId" text, "params" jsonb, "masterKeyOnly" jsonb, '
    'PRIMARY KEY ("objectId"))',
    'CREATE TABLE IF NOT EXISTS "_GraphQLConfig" ("objectId" text, "config" jsonb, PRIMARY KEY ("objectId"))',
    'CREATE TABLE IF NOT EXISTS "_Hooks" ("functionName" text, "className" text, "triggerName" text, "url" text)',
    f'CREATE TABLE IF NOT EXISTS "_JobStatus" ({_DEFAULT}, "jobName" text, "source" text, "status" text, '
    '"message" text, "params" jsonb, "finishedAt" timestamp with time zone, PRIMARY KEY ("objectId"))',
    f'CREATE TABLE IF NOT EXISTS "_JobSchedule" ({_DEFAULT}, "jobName" text, "description" text, "params" text, '
    '"startAfter" text, "daysOfWeek" jsonb, "timeOfDay" text, "lastRun" double precision, '
    '"repeatMinutes" double precision, PRIMARY KEY ("objectId"))',
    f'CREATE TABLE IF NOT EXISTS "_PushStatus" ({_DEFAULT}, "pushTime" text, "source" text, "query" text, '
    '"payload" text, "title" text, "expiry" double precision, "expiration_interval" double precision, '
    '"status" text, "numSent" double precision, "numFailed" double precision, "pushHash" text, '
    '"errorMessage" jsonb, "sentPerType" jsonb, "failedPerType" jsonb, "sentPerUTCOffset" jsonb, '
    '"failedPerUTCOffset" jsonb, "count" double precision, PRIMARY KEY ("objectId"))',
    f'CREATE TABLE IF NOT EXISTS "_Audience" ({_DEFAULT}, "name" text, "query" text, '
    '"lastUsed" timestamp with time zone, "timesUsed" double precision, PRIMARY KEY ("objectId"))',
    f'CREATE TABLE IF NOT EXISTS "_Idempotency" ({_DEFAULT}, "reqId" text, "expire" timestamp with time zone, '
    'PRIMARY KEY ("objectId"))',
    'CREATE UNIQUE INDEX IF NOT EXISTS "_Idempotency_unique_reqId" ON "_Idempotency" ("reqId")',
    'CREATE INDEX IF NOT EXISTS "ttl" ON "_Idempotency" ("expire")',
]
# Parse Server's extra _User indexes, made with the table.
USER_INDEXES = [
    'CREATE INDEX IF NOT EXISTS "_email_verify_token" ON "_User" ("_email_verify_token")',
    'CREATE INDEX IF NOT EXISTS "_perishable_token" ON "_User" ("_perishable_token")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "_User_unique_authData_anonymous_id" ON "_User" '
    '((("authData" -> \'anonymous\') ->> \'id\')) WHERE (("authData" -> \'anonymous\') ->> \'id\') IS NOT NULL',
]
COLUMNS = ("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
           "ORDER BY table_name, ordinal_position")
TABLE_COLUMNS = ("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                 "AND table_name = $1 ORDER BY ordinal_position")
INDEX_COLUMNS = """
SELECT i.relname, x.indisprimary, a.attname, (x.indoption[k.ord - 1] & 1) = 1 AS descending
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
WHERE t.relname = $1
ORDER BY i.relname, k.ord
"""
_SKIPPED_INDEX_KINDS = ("text", "2dsphere", "2d", "hashed")


def join_table(field_name: str, owner_class: str) -> str:
    return f"_Join:{field_name}:{owner_class}"


async def bootstrap(conn: Any) -> None:
    async with conn.transaction():
        # One server at a time creates the shared tables.
        await conn.execute("SELECT pg_advisory_xact_lock(7413170)")
        for sql in BOOTSTRAP:
            await conn.execute(sql)


class TableCache:
    """Columns of every table of the current schema, kept in step with the DDL
    this process runs (and reloaded from the database when asked)."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.columns: dict[str, set[str]] = {}
        self.ordered: dict[str, list[str]] = {}
        self.unique: dict[str, list[str]] = {}

    async def load(self, conn: Any) -> None:
        rows = await conn.fetch(COLUMNS)
        ordered: dict[str, list[str]] = {}
        for row in rows:
            ordered.setdefault(row["table_name"], []).append(row["column_name"])
        self.ordered = ordered
        self.columns = {name: set(cols) for name, cols in ordered.items()}

    async def refresh(self, conn: Any, table: str) -> None:
        """Re-reads one table's columns (another server may have made it)."""
        rows = await conn.fetch(TABLE_COLUMNS, table)
        if rows:
            self.ordered[table] = [r["column_name"] for r in rows]
            self.columns[table] = set(self.ordered[table])
        else:
            self.ordered.pop(table, None)
            self.columns.pop(table, None)

    def stale(self, class_name: str, fields: dict[str, dict]) -> bool:
        """The table, or a column the schema declares, is unknown here."""
        have = self.columns.get(class_name)
        if have is None:
            return True
        for key, spec in fields.items():
            if key not in have and spec.get("type") not in ("Relation", "ACL") and key != "password":
                return True
        return False

    def unique_fields(self, constraint: str | None) -> list[str]:
        """The fields of a unique index, from its name (Parse Server's names:
        ``<Class>_unique_<fields>``, ``_User_unique_authData_<provider>_id``)."""
        if not constraint:
            return []
        if constraint in self.unique:
            return self.unique[constraint]
        if "_unique_authData_" in constraint:
            return ["authData"]
        _, _, rest = constraint.partition("_unique_")
        return [rest] if rest else []

    # ------------------------------------------------------------ DDL to run
    def missing(self, class_name: str, fields: dict[str, dict], keys: Any, relations: bool = False) -> list[str]:
        """Statements creating the table and the columns ``keys`` need (and,
        with ``relations``, the join tables of the relation fields)."""
        q = self.d.quote
        out: list[str] = []
        have = self.columns.get(class_name)
        if have is None:
            cols = ", ".join(f"{q(c.name)} {self.d.column_type(c.kind)}" for c in table_columns(class_name, fields))
            out.append(f'CREATE TABLE IF NOT EXISTS {q(class_name)} ({cols}, PRIMARY KEY ("objectId"))')
            if class_name == "_User":
                out += USER_INDEXES
            have = {c.name for c in table_columns(class_name, fields)}
        for key in keys:
            col = column_for(class_name, fields, key.split(".", 1)[0])
            if col is not None and col.name not in have:
                out.append(f"ALTER TABLE {q(class_name)} ADD COLUMN IF NOT EXISTS {q(col.name)} "
                           f"{self.d.column_type(col.kind)}")
                have = have | {col.name}
        if relations:
            for name, spec in fields.items():
                if spec.get("type") == "Relation":
                    out += self.missing_join(join_table(name, class_name))
        return out

    def missing_join(self, table: str) -> list[str]:
        if table in self.columns:
            return []
        return [f'CREATE TABLE IF NOT EXISTS {self.d.quote(table)} ("relatedId" varchar(120), '
                f'"owningId" varchar(120), PRIMARY KEY ("relatedId", "owningId"))']

    def drop(self, class_name: str, relation_fields: list[str]) -> list[str]:
        q = self.d.quote
        out = [f"DROP TABLE IF EXISTS {q(class_name)}"]
        out += [f"DROP TABLE IF EXISTS {q(join_table(name, class_name))}" for name in relation_fields]
        return out

    def drop_field(self, class_name: str, fields: dict[str, dict], name: str) -> list[str]:
        q = self.d.quote
        if fields.get(name, {}).get("type") == "Relation":
            return [f"DROP TABLE IF EXISTS {q(join_table(name, class_name))}"]
        if class_name not in self.columns:
            return []
        return [f"ALTER TABLE {q(class_name)} DROP COLUMN IF EXISTS {q(name)}"]

    def index_sql(self, class_name: str, fields: dict[str, dict], spec: dict, name: str | None,
                  unique: bool, case_insensitive: bool) -> str | None:
        """Parse Server's index naming: ``<Class>_unique_<sorted fields>`` for a
        unique index, the given name (or ``parse_default_<sorted fields>``)
        otherwise; case-insensitive ones on ``lower(f) varchar_pattern_ops``."""
        q = self.d.quote
        cols, terms = [], []
        for key, direction in spec.items():
            if key.startswith("_p_") and fields.get(key[3:], {}).get("type") == "Pointer":
                key = key[3:]  # a MongoDB-layout pointer key
            col = column_for(class_name, fields, key)
            if col is None or direction in _SKIPPED_INDEX_KINDS:
                return None
            cols.append(col.name)
            terms.append(q(col.name) + (" DESC" if direction == -1 else ""))
        if not cols:
            return None
        joined = "_".join(sorted(cols))
        if unique:
            index = f"{class_name}_unique_{joined}"
            self.unique[index] = cols
            return f"CREATE UNIQUE INDEX IF NOT EXISTS {q(index)} ON {q(class_name)} ({', '.join(q(c) for c in cols)})"
        index = name or f"parse_default_{joined}"
        if case_insensitive:
            terms = [f"lower({q(c)}) varchar_pattern_ops" for c in cols]
        return f"CREATE INDEX IF NOT EXISTS {q(index)} ON {q(class_name)} ({', '.join(terms)})"
