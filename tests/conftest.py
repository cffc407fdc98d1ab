"""Shared fixtures: a real bapp server on a loopback port, per test, and a
small HTTP client that speaks to it the way a REST client would.

Storage-touching tests (those using ``api`` or ``settings``, and every test
of a module that builds servers with ``make_settings``/``start_server``)
run once per store of ``tests/stores.py`` (in-memory, PostgreSQL, ...):
the ``bapp_store`` fixture prepares a clean database and ``make_settings``
points the server at it. ``BAPP_TEST_DATABASE_URI`` selects an external
MongoDB (instead of the in-memory store) or PostgreSQL server."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from bapp.config import Settings
from bapp.http.app import DISPATCHER_KEY
from bapp.model import types
from bapp.server import build_app

try:
    from stores import STORES, PostgresStore, stores_for
except ImportError:  # imported as tests.conftest
    from tests.stores import STORES, PostgresStore, stores_for

APP_ID = "test-app"
MASTER_KEY = "test-master-key"


# Every server of the run keeps its data (embedded database, uploaded files)
# in a directory of its own under one temporary directory, never in the checkout.
_DATA_ROOT = tempfile.TemporaryDirectory(prefix="bapp-tests-")


# The database URI of the running test's store (an environment variable, so
# that `conftest` and `tests.conftest` imports see the same value).
_STORE_URI = "BAPP_TEST_STORE_URI"
_STORAGE_FIXTURES = ("api", "settings")


def _touches_storage(metafunc: pytest.Metafunc) -> bool:
    if any(name in metafunc.fixturenames for name in _STORAGE_FIXTURES):
        return True
    module = metafunc.module
    if getattr(module, "SINGLE_STORE", False):
        return False  # the module picks its store itself
    return hasattr(module, "make_settings") or hasattr(module, "start_server") or getattr(module, "STORAGE", False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if _touches_storage(metafunc):
        metafunc.parametrize("bapp_store", stores_for(metafunc.module.__name__), indirect=True)


@pytest.fixture(autouse=True)
def bapp_store(request: pytest.FixtureRequest):
    """The store this test runs on (pure unit tests: the in-memory one)."""
    name = getattr(request, "param", "memory")
    uri = STORES[name].prepare(request) if name != "memory" or hasattr(request, "param") else None
    if uri:
        os.environ[_STORE_URI] = uri
    try:
        yield name
    finally:
        os.environ.pop(_STORE_URI, None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    PostgresStore.stop()


def make_settings(**overrides: Any) -> Settings:
    settings = Settings(app_id=APP_ID, master_key=MASTER_KEY)
    settings.data_dir = tempfile.mkdtemp(dir=_DATA_ROOT.name)
    uri = os.environ.get("BAPP_TEST_DATABASE_URI")
    if uri:
        settings.database_uri = uri
        settings.database_name = "bapp_test_" + uuid.uuid4().hex[:12]
    elif os.environ.get("BAPP_TEST_STORE") == "sqlite":
        settings.database_uri = None  # the embedded default, in this server's own data directory
        # Throwaway data need not be flushed at every commit; the durability
        # tests run `bapp serve` with the default (full).
        settings.sqlite_synchronous = "normal"
    else:
        settings.database_uri = "memory://"


    uri = os.environ.get(_STORE_URI)
    if uri:
        settings.database_uri = uri
        if uri.startswith("mongodb"):
            settings.database_name = "bapp_test_" + uuid.uuid4().hex[:12]
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


SQL_STORES = ("postgres", "sqlite")


def is_sql(api: Any) -> bool:
    """The test's server runs on one of the SQL stores."""
    return type(api.engine.storage).__module__.startswith("bapp.storage.sql")


def _sqlite_arg(value: Any) -> Any:
    if isinstance(value, datetime):
        return types.iso(value)
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return value


def _sqlite_value(kind: str | None, raw: Any) -> Any:
    """A SQLite value as PostgreSQL's driver would give it (dates, JSON, booleans)."""
    if raw is None or kind is None:
        return raw
    if kind == "Date":
        return types.parse_iso(raw)
    if kind in ("Object", "Array", "Bytes", "Perms"):
        return orjson.loads(raw)
    if kind == "Boolean":
        return bool(raw)
    return raw


async def sql_fetch(api: Any, sql: str, *args: Any, class_name: str | None = None) -> list[dict]:
    """Rows of a raw statement on the SQL store (``$1`` placeholders on both)."""
    storage = api.engine.storage
    if hasattr(storage, "pool"):
        return [dict(r) for r in await storage.pool.fetch(sql, *args)]
    statement = re.sub(r"\$(\d+)", r"?\1", sql)

    def job(conn: Any) -> list[dict]:
        cursor = conn.execute(statement, [_sqlite_arg(a) for a in args])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    rows = await storage.db.read(job)
    if class_name is None:
        return rows
    from bapp.storage.sql.columns import column_for

    fields = api.engine.schemas.fields_of(class_name)
    kinds = {name: getattr(column_for(class_name, fields, name), "kind", None) for row in rows[:1] for name in row}
    return [{k: _sqlite_value(kinds[k], v) for k, v in row.items()} for row in rows]


async def sql_execute(api: Any, sql: str, *args: Any) -> None:
    storage = api.engine.storage
    if hasattr(storage, "pool"):
        await storage.pool.execute(sql, *args)
        return
    statement = re.sub(r"\$(\d+)", r"?\1", sql)
    await storage.db.write(lambda conn: conn.execute(statement, [_sqlite_arg(a) for a in args]))


async def sql_row(api: Any, class_name: str, object_id: str) -> dict | None:
    """An object's raw row on a SQL store (its own layout, column by column)."""
    rows = await sql_fetch(api, f'SELECT * FROM "{class_name}" WHERE "objectId" = $1', object_id,
                           class_name=class_name)
    return rows[0] if rows else None


async def sql_tables(api: Any) -> set[str]:
    if hasattr(api.engine.storage, "pool"):
        rows = await sql_fetch(api, "SELECT table_name FROM information_schema.tables "
                                    "WHERE table_schema = current_schema()")
        return {r["table_name"] for r in rows}
    rows = await sql_fetch(api, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r["name"] for r in rows}


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    def __iter__(self):
        return iter((self.status, self.body))


class Client:
    """Thin REST client: ``await api.post("/classes/X", {...}, master=True)``."""

    def __init__(self, session: aiohttp.ClientSession, base: str, server: TestServer) -> None:
        self.session = session
        self.base = base
        self.server = server
        self.url = base

    @property
    def engine(self):
        return self.server.app[DISPATCHER_KEY].engine

    def headers(self, master: bool = False, token: str | None = None, extra: dict | None = None,
                app_id: str | None = APP_ID) -> dict:
        headers = {"Content-Type": "application/json"}
        if app_id is not None:
            headers["X-Parse-Application-Id"] = app_id
        if master:
            headers["X-Parse-Master-Key"] = MASTER_KEY
        if token:
            headers["X-Parse-Session-Token"] = token
        headers.update(extra or {})
        return headers

    async def request(self, method: str, path: str, body: Any = None, *, master: bool = False,
                      token: str | None = None, headers: dict | None = None, params: dict | None = None,
                      raw: bytes | str | None = None, app_id: str | None = APP_ID) -> Reply:
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
        query = None
        if params:
            query = {k: (v if isinstance(v, str) else orjson.dumps(v).decode()) for k, v in params.items()}
        async with self.session.request(method, self.base + path, data=data, params=query,
                                        headers=self.headers(master, token, headers, app_id)) as resp:
            text = await resp.read()
            try:
                parsed = orjson.loads(text) if text else None
            except orjson.JSONDecodeError:
                parsed = text
            return Reply(resp.status, parsed, resp.headers)

    async def get(self, path: str, params: dict | None = None, **kw: Any) -> Reply:
        return await self.request("GET", path, params=params, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", path, body if body is not None else {}, **kw)

    async def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.request("PUT", path, body if body is not None else {}, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.request("DELETE", path, **kw)

    async def signup(self, username: str, password: str = "pw", **fields: Any) -> dict:
        reply = await self.post("/users", {"username": username, "password": password, **fields})
        assert reply.status == 201, reply.body
        return {**reply.body, "username": username}


async def start_server(settings: Settings, app_factory=build_app) -> tuple[TestServer, aiohttp.ClientSession]:
    app = app_factory(settings)
    server = TestServer(app, host="127.0.0.1", port=settings.port if settings.port != 1337 else None)
    await server.start_server()
    settings.port = server.port
    session = aiohttp.ClientSession()
    return server, session


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
async def api(settings: Settings):
    server, session = await start_server(settings)
    client = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        yield client
    finally:
        await session.close()
        await server.close()
