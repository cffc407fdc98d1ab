"""Shared helpers for the bundled-app tests (``tests/test_app_*.py``).

- ``app_server("ecommerce")``: an in-process server running one app (its
  schema file, roles and cloud code), as an ``AppClient`` (the conftest
  REST client plus sign-up/login/admin helpers and cloud-function calls).
- ``spawn_app("ecommerce")``: the same as a ``python -m bapp serve --app``
  subprocess, for examples and anything that must see the real command.
- ``LiveClient``: a small LiveQuery websocket client (connect, subscribe,
  wait for an event, prove that none comes).
- ``db_latency(engine)``: makes every storage call yield to the event loop
  around the operation, as a networked database does. The in-memory store
  answers without ever suspending, so without this, concurrent requests
  never interleave inside a handler and a read-modify-write race could not
  show up in a concurrency test.

    async with app_server("ecommerce") as api:
        admin = await api.admin("boss")                  # user in role admin, logged in
        alice = await api.signup("alice")                # {"objectId", "sessionToken", ...}
        status, body = await api.call("placeOrder", {...}, token=alice["sessionToken"])
        async with LiveClient(api.ws_url) as live:
            await live.connect(session_token=alice["sessionToken"])
            await live.subscribe("Order", {"status": "shipped"})
            event = await live.next_event()

Every helper talks to the server over HTTP/websocket the way a client
would; only ``admin()`` on an in-process server takes the start-up path
(``bapp.apps.ensure_admin``) that ``--admin-username`` uses."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from conftest import APP_ID, MASTER_KEY, Client, Reply, make_settings, start_server
from server_process import ServerProcess

from bapp import apps

ROOT = Path(__file__).resolve().parent.parent
EVENT_TIMEOUT = 5.0


class AppClient(Client):
    """The conftest REST client with app-level conveniences."""

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    async def login(self, username: str, password: str = "pw") -> dict:
        reply = await self.post("/login", {"username": username, "password": password})
        assert reply.status == 200, reply.body
        return reply.body

    async def admin(self, username: str = "admin", password: str = "pw", role: str = "admin") -> dict:
        """A user in ``role`` (created if missing), logged in: the user
        object with ``sessionToken``."""
        if self.server is not None:
            await apps.ensure_admin(self.engine, username, password, role)
        else:
            await asyncio.to_thread(apps.create_admin_over_rest, self.url, APP_ID, MASTER_KEY, username,
                                    password, role)
        return await self.login(username, password)

    async def add_to_role(self, user_id: str, role: str) -> None:
        """Adds a user to an existing role (master key)."""
        status, found = await self.get("/roles", params={"where": {"name": role}}, master=True)
        assert status == 200 and found["results"], f"no role {role}: {found}"
        body = {"users": {"__op": "AddRelation", "objects": [pointer("_User", user_id)]}}
        status, out = await self.put(f"/roles/{found['results'][0]['objectId']}", body, master=True)
        assert status == 200, out

    async def call(self, name: str, params: dict | None = None, **kw: Any) -> Reply:
        """``POST /functions/<name>``."""
        return await self.post(f"/functions/{name}", params or {}, **kw)

    async def create(self, class_name: str, body: dict, **kw: Any) -> dict:
        """Creates an object and insists on 201; returns the response body."""
        reply = await self.post(f"/classes/{class_name}", body, **kw)
        assert reply.status == 201, reply.body
        return reply.body

    async def fetch(self, class_name: str, object_id: str, **kw: Any) -> dict:
        """An object read with the master key unless told otherwise."""
        kw.setdefault("master", True)
        reply = await self.get(f"/classes/{class_name}/{object_id}", **kw)
        assert reply.status == 200, reply.body
        return reply.body


def pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def error(reply: Reply) -> tuple[int, int, str]:
    """(HTTP status, Parse code, message) of an error reply."""
    body = reply.body if isinstance(reply.body, dict) else {}
    return reply.status, body.get("code"), body.get("error")


@contextlib.asynccontextmanager
async def app_server(app: str, **overrides: Any) -> AsyncIterator[AppClient]:
    """An in-process server on a loopback port running ``app`` (in memory,
    or on MongoDB when BAPP_TEST_DATABASE_URI is set)."""
    settings = make_settings(app=app, **overrides)
    server, session = await start_server(settings)
    client = AppClient(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        yield client
    finally:
        await session.close()
        await server.close()


@contextlib.asynccontextmanager
async def remote_client(url: str) -> AsyncIterator[AppClient]:
    """An ``AppClient`` for a server in another process (``spawn_app``);
    ``engine`` is not available on it."""
    async with aiohttp.ClientSession() as session:
        yield AppClient(session, url, None)  # type: ignore[arg-type]


_STORAGE_CALLS = ("find", "count", "create", "update", "delete")


@contextlib.contextmanager
def db_latency(engine: Any, max_delay: float = 0.002) -> Iterator[None]:
    """Storage calls of ``engine`` wait a random moment (up to ``max_delay``
    seconds) before and after the operation itself, which stays one atomic
    call, so concurrent requests interleave between their reads and writes."""
    storage = engine.storage

    def slow(call: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(random.uniform(0, max_delay))
            result = await call(*args, **kwargs)
            await asyncio.sleep(random.uniform(0, max_delay))
            return result
        return wrapper

    for name in _STORAGE_CALLS:
        setattr(storage, name, slow(getattr(storage, name)))
    try:
        yield
    finally:
        for name in _STORAGE_CALLS:
            delattr(storage, name)


# ------------------------------------------------------------------ subprocess

class AppProcess(ServerProcess):
    """``python -m bapp serve --app NAME`` on a free loopback port."""

    def __init__(self, app: str, *, admin: tuple[str, str] | None = None, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.app = app
        self.admin = admin
        self.app_id = APP_ID
        self.master_key = MASTER_KEY
        args = ["--app", app, "--app-id", APP_ID, "--master-key", MASTER_KEY]
        if admin:
            args += ["--admin-username", admin[0], "--admin-password", admin[1]]
        super().__init__(args + (extra_args or []), label=app, env=env)

    def example_env(self) -> dict[str, str]:
        """The variables the examples read to find the server (and its admin),
        with the SDK the compat tests installed on node's path."""
        env = dict(os.environ)
        env.update({"BAPP_URL": self.url, "BAPP_APP_ID": self.app_id, "BAPP_MASTER_KEY": self.master_key,
                    "NODE_NO_WARNINGS": "1", "NODE_PATH": str(ROOT / "tests" / "compat" / "node_modules")})
        if self.admin:
            env.update({"BAPP_ADMIN_USERNAME": self.admin[0], "BAPP_ADMIN_PASSWORD": self.admin[1]})
        return env

    def run_example(self, command: list[str], timeout: float = 120) -> str:
        """Runs a walkthrough against this server; its output, or a test
        failure carrying the example's and the server's output."""
        try:
            done = subprocess.run(command, cwd=ROOT, env=self.example_env(), capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{' '.join(command)} did not finish in {timeout}s\n{exc.stdout}\n{exc.stderr}\n"
                        f"--- server log ---\n{self.output()}")
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} exited with {done.returncode}\n{done.stdout}\n{done.stderr}\n"
                        f"--- server log ---\n{self.output()}", pytrace=False)
        return done.stdout


@contextlib.contextmanager
def spawn_app(app: str, **kwargs: Any) -> Iterator[AppProcess]:
    """A ready ``AppProcess``, stopped on exit."""
    proc = AppProcess(app, **kwargs)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


# ------------------------------------------------------------------ LiveQuery

class LiveClient:
    """A LiveQuery client over one websocket.

    ``next_event()`` returns the next create/enter/update/leave/delete frame
    (``op`` and ``object``...), skipping nothing else silently: an error frame
    raises. ``no_event(within)`` proves that nothing arrives for a while
    (use it after the write that must NOT be announced)."""

    def __init__(self, ws_url: str, app_id: str = APP_ID) -> None:
        self.ws_url = ws_url
        self.app_id = app_id
        self.ws: Any = None
        self.client_id: str | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> LiveClient:
        self.ws = await websockets.connect(self.ws_url)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = EVENT_TIMEOUT) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def connect(self, session_token: str | None = None, **fields: Any) -> dict:
        message = {"op": "connect", "applicationId": self.app_id, **fields}
        if session_token:
            message["sessionToken"] = session_token
        await self.send(message)
        reply = await self.recv()
        assert reply["op"] == "connected", reply
        self.client_id = reply["clientId"]
        return reply

    async def subscribe(self, class_name: str, where: dict | None = None, *, session_token: str | None = None,
                        keys: list[str] | None = None) -> int:
        """Subscribes; returns the request id once the server confirmed."""
        request_id = next(self._ids)
        query: dict[str, Any] = {"className": class_name, "where": where or {}}
        if keys is not None:
            query["keys"] = keys
        message: dict[str, Any] = {"op": "subscribe", "requestId": request_id, "query": query}
        if session_token:
            message["sessionToken"] = session_token
        await self.send(message)
        reply = await self.recv()
        assert reply == {"op": "subscribed", "clientId": self.client_id, "requestId": request_id}, reply
        return request_id

    async def next_event(self, timeout: float = EVENT_TIMEOUT) -> dict:
        frame = await self.recv(timeout)
        if frame.get("op") == "error":
            raise AssertionError(f"LiveQuery error frame: {frame}")
        return frame

    async def no_event(self, within: float = 0.5) -> None:
        try:
            frame = await self.recv(within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected LiveQuery frame: {frame}")
