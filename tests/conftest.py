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
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from bapp.config import Settings
from bapp.http.app import DISPATCHER_KEY
from bapp.server import build_app

try:
    from stores import STORES, PostgresStore, stores_for
except ImportError:  # imported as tests.conftest
    from tests.stores import STORES, PostgresStore, stores_for

APP_ID = "test-app"
MASTER_KEY = "test-master-key"


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
    uri = os.environ.get(_STORE_URI)
    if uri:
        settings.database_uri = uri
        if uri.startswith("mongodb"):
            settings.database_name = "bapp_test_" + uuid.uuid4().hex[:12]
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


async def sql_row(api: Any, class_name: str, object_id: str) -> dict | None:
    """An object's raw row on a SQL store (its own layout, column by column)."""
    row = await api.engine.storage.pool.fetchrow(
        f'SELECT * FROM "{class_name}" WHERE "objectId" = $1', object_id)
    return dict(row) if row else None


async def sql_tables(api: Any) -> set[str]:
    rows = await api.engine.storage.pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    return {r["table_name"] for r in rows}


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
