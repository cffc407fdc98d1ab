"""The stores the storage-touching tests run on.

Each store is one entry of ``STORES``: a name and a class whose
``prepare(request)`` returns the database URI a test's server uses (None:
the in-memory store), with a clean database. ``conftest.py`` parametrizes
every storage-touching test over ``STORES``.

PostgreSQL: a throwaway server from the ``pgserver`` package, started on
first use and stopped at the end of the session (one per pytest process, so
each xdist worker has its own), one database per test module, emptied
before each test. ``BAPP_TEST_DATABASE_URI=postgres://...`` uses an external
server instead (the databases are created there).

SQLite: a file per test in a temporary directory per test module."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from urllib.parse import urlsplit, urlunsplit

import pytest

EXTERNAL = os.environ.get("BAPP_TEST_DATABASE_URI", "")


def is_postgres(uri: str) -> bool:
    return urlsplit(uri).scheme in ("postgres", "postgresql")


class MemoryStore:
    name = "memory"

    @classmethod
    def prepare(cls, request: pytest.FixtureRequest) -> str | None:
        if EXTERNAL and not is_postgres(EXTERNAL):
            return EXTERNAL  # MongoDB: make_settings gives every test its own database
        return None


def _with_database(uri: str, database: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def _sql(uri: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(uri)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


class PostgresStore:
    name = "postgres"
    _server = None
    _base_uri: str | None = None
    _databases: set[str] = set()

    @classmethod
    def base_uri(cls) -> str:
        if cls._base_uri is None:
            if EXTERNAL and is_postgres(EXTERNAL):
                cls._base_uri = EXTERNAL
            else:
                import pgserver

                cls._server = pgserver.get_server(tempfile.mkdtemp(prefix="bapp-pg-"), cleanup_mode="stop")
                cls._base_uri = cls._server.get_uri()
        return cls._base_uri

    @classmethod
    def stop(cls) -> None:
        if cls._server is not None:
            cls._server.cleanup()
            cls._server = None
            cls._base_uri = None

    @classmethod
    def prepare(cls, request: pytest.FixtureRequest) -> str:
        base = cls.base_uri()
        worker = os.environ.get("PYTEST_XDIST_WORKER", "w")
        module = re.sub(r"[^a-z0-9_]", "_", request.module.__name__.rsplit(".", 1)[-1].lower())
        database = f"bapp_{worker}_{module}"[:63]
        uri = _with_database(base, database)
        if database not in cls._databases:
            asyncio.run(_sql(base, f'DROP DATABASE IF EXISTS "{database}"', f'CREATE DATABASE "{database}"'))
            cls._databases.add(database)
        else:
            asyncio.run(_sql(uri, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))
        return uri


class SqliteStore:
    """The embedded default: a temporary data directory per test module, a
    fresh database file in it for every test."""

    name = "sqlite"
    _root = tempfile.TemporaryDirectory(prefix="bapp-sqlite-tests-")
    _count = 0

    @classmethod
    def prepare(cls, request: pytest.FixtureRequest) -> str:
        module = re.sub(r"[^A-Za-z0-9_]", "_", request.module.__name__.rsplit(".", 1)[-1])
        folder = os.path.join(cls._root.name, module)
        os.makedirs(folder, exist_ok=True)
        cls._count += 1
        return "sqlite://" + os.path.join(folder, f"test-{cls._count}.db")


_ALL = {store.name: store for store in (MemoryStore, SqliteStore, PostgresStore)}
# BAPP_TEST_STORES=memory,sqlite runs the storage tests on those stores only.
_CHOSEN = [n.strip() for n in os.environ.get("BAPP_TEST_STORES", "").split(",") if n.strip()]
STORES = {name: _ALL[name] for name in _CHOSEN} if _CHOSEN else _ALL

# Test modules that joined the suite after its last complete run on
# PostgreSQL: they run on the in-memory store only until that run is made
# for them (then they leave this list). New modules get every store.
POSTGRES_PENDING = frozenset({
    "test_console", "test_console_browser", "test_dashboard_api",
    "test_parse_dashboard",
})


# Likewise for both SQL stores (modules whose last complete run was on the
# in-memory store only).
SQL_PENDING = frozenset({"test_parity_queries"})


def stores_for(module_name: str) -> list[str]:
    short = module_name.rsplit(".", 1)[-1]
    return [name for name in STORES if not (name == "postgres" and short in POSTGRES_PENDING)
            and not (name != "memory" and short in SQL_PENDING)]
