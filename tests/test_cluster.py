"""Two instances on one database, joined by a real Redis: LiveQuery events
cross instances exactly once, and every cache a change depends on (roles,
sessions, users, schemas) is invalidated on the other instance right after
the write's response (well within a second here, on a loaded test machine,
against a 5 s cache lifetime; ``bench/cluster.py`` measures the delay).

The instances run in this process, each with its own adapter (its own
connection pool) on the test's database; on the in-memory store they share
one store object. ``test_cluster_workers.py`` runs ``bapp serve --workers``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import Client, make_settings, start_server
from redis_support import start_redis
from test_livequery import LiveSocket

from bapp.core.engine import Engine
from bapp.server import build_app, build_storage
from bapp.storage.mongo.memory import MemoryAdapter

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def redis_module_server():
    server = start_redis()
    yield server
    server.cleanup()


@pytest.fixture
def redis_server(redis_module_server):
    if redis_module_server.process is None:  # a test stopped it and failed before restarting
        redis_module_server.start()
    redis_module_server.flush()
    return redis_module_server


class Instances:
    def __init__(self) -> None:
        self.clients: list[Client] = []
        self._closers: list[Any] = []

    async def start(self, count: int, redis_url: str | None, **overrides: Any) -> list[Client]:
        shared_memory = None
        for _ in range(count):
            settings = make_settings(redis_url=redis_url, **overrides)
            storage = build_storage(settings)
            if isinstance(storage, MemoryAdapter):
                shared_memory = shared_memory or storage
                storage = shared_memory
            engine = Engine(settings, storage)
            server, session = await start_server(settings, lambda s, e=engine: build_app(s, e))
            client = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
            self.clients.append(client)
            self._closers.append((session, server))
        return self.clients

    async def close(self) -> None:
        for session, server in self._closers:
            await session.close()
            await server.close()


@pytest.fixture
async def pair(redis_server):
    group = Instances()
    a, b = await group.start(2, redis_server.url)
    yield a, b
    await group.close()


async def eventually(check, timeout: float = 2.0) -> float:
    """Seconds until ``check()`` (async) is true; fails after ``timeout``."""
    start = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


# ------------------------------------------------------------------ LiveQuery

async def test_subscriber_on_a_hears_a_write_through_b_exactly_once(pair):
    a, b = pair
    await a.post("/classes/Item", {"n": 0}, master=True)
    sock = await LiveSocket.connected(a)
    await sock.subscribe("Item", {"n": {"$gt": 0}})
    created = await b.post("/classes/Item", {"n": 1, "ACL": {"*": {"read": True}}}, master=True)
    assert created.status == 201
    event = await sock.recv()
    assert event["op"] == "create" and event["object"]["objectId"] == created.body["objectId"]
    assert event["object"]["n"] == 1
    # A write through A itself reaches A's subscriber once too (not again via the bus).
    own = await a.post("/classes/Item", {"n": 2, "ACL": {"*": {"read": True}}}, master=True)
    event = await sock.recv()
    assert event["object"]["objectId"] == own.body["objectId"]
    await asyncio.sleep(0.2)  # anything duplicated would have arrived by now
    await sock.nothing_pending()
    await sock.close()


async def test_events_over_the_bus_keep_acl_checks(pair):
    a, b = pair
    await a.post("/classes/Item", {"n": 0}, master=True)
    sock = await LiveSocket.connected(a)
    await sock.subscribe("Item", {})
    await b.post("/classes/Item", {"n": 5, "ACL": {}}, master=True)  # nobody may read it
    visible = await b.post("/classes/Item", {"n": 6, "ACL": {"*": {"read": True}}}, master=True)
    event = await sock.recv()
    assert event["object"]["objectId"] == visible.body["objectId"]
    await sock.close()


# ------------------------------------------------------------------ caches

async def test_user_removed_from_a_role_through_b_is_refused_by_a_right_after(pair):
    a, b = pair
    user = await a.signup("alice")
    role = await a.post("/roles", {"name": "staff", "ACL": {"*": {"read": True}},
                                   "users": {"__op": "AddRelation",
                                             "objects": [{"__type": "Pointer", "className": "_User",
                                                          "objectId": user["objectId"]}]}}, master=True)
    assert role.status == 201
    doc = await a.post("/classes/Doc", {"t": "x", "ACL": {"role:staff": {"read": True}}}, master=True)
    path = f"/classes/Doc/{doc.body['objectId']}"
    assert (await a.get(path, token=user["sessionToken"])).status == 200  # A caches alice's roles
    removed = await b.put(f"/roles/{role.body['objectId']}", {"users": {
        "__op": "RemoveRelation",
        "objects": [{"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}]}}, master=True)
    assert removed.status == 200

    async def refused() -> bool:
        reply = await a.get(path, token=user["sessionToken"])
        return reply.status == 404 and reply.body["code"] == 101

    assert await eventually(refused, timeout=1.0) < 1.0


async def test_session_logged_out_on_b_is_refused_by_a(pair):
    a, b = pair
    user = await a.signup("bob")
    token = user["sessionToken"]
    assert (await a.get("/users/me", token=token)).status == 200  # cached on A
    assert (await b.post("/logout", {}, token=token)).status == 200

    async def refused() -> bool:
        reply = await a.get("/users/me", token=token)
        return reply.status == 400 and reply.body["code"] == 209

    assert await eventually(refused, timeout=1.0) < 1.0


async def test_deleted_user_is_refused_by_the_other_instance(pair):
    a, b = pair
    user = await a.signup("carol")
    token = user["sessionToken"]
    assert (await a.get("/users/me", token=token)).status == 200
    assert (await b.delete(f"/users/{user['objectId']}", master=True)).status == 200

    async def refused() -> bool:
        return (await a.get("/users/me", token=token)).status == 400

    await eventually(refused, timeout=1.0)


async def test_schema_change_through_b_holds_on_a(pair):
    a, b = pair
    assert (await a.post("/classes/Secret", {"v": 1}, master=True)).status == 201
    assert (await a.get("/classes/Secret")).status == 200  # A has the class schema cached
    changed = await b.put("/schemas/Secret", {"classLevelPermissions": {
        "find": {}, "get": {}, "count": {}, "create": {}, "update": {}, "delete": {}, "addField": {}}}, master=True)
    assert changed.status == 200

    async def refused() -> bool:
        reply = await a.get("/classes/Secret")
        return reply.status == 400 and reply.body["code"] == 119

    assert await eventually(refused, timeout=1.0) < 1.0


async def test_increments_spread_over_instances_add_up(pair):
    a, b = pair
    counter = await a.post("/classes/Counter", {"n": 0}, master=True)
    path = f"/classes/Counter/{counter.body['objectId']}"
    body = {"n": {"__op": "Increment", "amount": 1}}
    replies = await asyncio.gather(*[(a if i % 2 else b).put(path, body, master=True) for i in range(400)])
    assert {r.status for r in replies} == {200}
    assert (await b.get(path, master=True)).body["n"] == 400


# ------------------------------------------------------------------ Redis goes away

async def test_redis_restart_loses_no_rest_request_and_coherence_resumes(redis_server):
    group = Instances()
    a, b = await group.start(2, redis_server.url)
    try:
        user = await a.signup("dave")
        token = user["sessionToken"]
        redis_server.stop()
        statuses = []
        for i in range(20):
            statuses.append((await b.post("/classes/Note", {"i": i}, master=True)).status)
            statuses.append((await a.get("/users/me", token=token)).status)
        assert set(statuses) <= {200, 201}
        assert a.engine.auth.session_ttl <= 1.0  # short-lived caches while the bus is down
        # A logout during the outage is refused by A within the fallback TTL.
        assert (await b.post("/logout", {}, token=token)).status == 200

        async def refused() -> bool:
            return (await a.get("/users/me", token=token)).status == 400

        assert await eventually(refused, timeout=1.5) <= 1.5
        redis_server.start()
        other = await a.signup("erin")

        async def back() -> bool:
            return all(_bus(c).connected for c in (a, b))

        await eventually(back, timeout=10.0)
        assert a.engine.auth.session_ttl == 5.0
        assert (await a.get("/users/me", token=other["sessionToken"])).status == 200
        assert (await b.post("/logout", {}, token=other["sessionToken"])).status == 200

        async def refused_again() -> bool:
            return (await a.get("/users/me", token=other["sessionToken"])).status == 400

        assert await eventually(refused_again, timeout=1.0) < 1.0
    finally:
        if redis_server.process is None:
            redis_server.start()
        await group.close()


def _bus(client: Client):
    from bapp.cluster import BUS_KEY

    return client.server.app[BUS_KEY]


# ------------------------------------------------------------------ rate limits

async def test_rate_limit_holds_across_instances_and_survives_a_redis_outage(redis_server):
    from bapp import config_options

    rules = config_options.rate_limits([{"requestPath": "/classes/*", "requestTimeWindow": 60_000,
                                         "requestCount": 3, "includeInternalRequests": True}])
    group = Instances()
    a, b = await group.start(2, redis_server.url, rate_limits=rules, allow_client_class_creation=True)
    try:
        statuses = [(await (a if i % 2 else b).get("/classes/Thing")).status for i in range(3)]
        assert statuses == [200, 200, 200]
        limited = await a.get("/classes/Thing")
        assert (limited.status, limited.body) == (429, {"code": 100, "error": "Too many requests."})
        assert (await b.get("/classes/Thing")).status == 429  # the count is shared
        redis_server.stop()
        # Redis gone: counted per instance meanwhile, never a 5xx.
        outage = [(await a.get("/classes/Other")).status for _ in range(5)]
        assert outage == [200, 200, 200, 429, 429]
    finally:
        if redis_server.process is None:
            redis_server.start()
        await group.close()


async def test_webhook_registered_through_b_is_called_by_a(pair):
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"success": {"echo": body["params"]}})

    app = web.Application()
    app.router.add_post("/hook", hook)
    target = TestServer(app, host="127.0.0.1")
    await target.start_server()
    try:
        a, b = pair
        url = f"http://127.0.0.1:{target.port}/hook"
        created = await b.post("/hooks/functions", {"functionName": "remote", "url": url}, master=True)
        assert created.status == 200, created.body

        async def called() -> bool:
            reply = await a.post("/functions/remote", {"x": 1})
            return reply.status == 200 and reply.body == {"result": {"echo": {"x": 1}}}

        await eventually(called, timeout=1.0)
        # Parse Server deletes a hook with a Delete op on PUT
        assert (await b.put("/hooks/functions/remote", {"__op": "Delete"}, master=True)).status == 200

        async def gone() -> bool:
            return (await a.post("/functions/remote", {"x": 1})).status == 400

        await eventually(gone, timeout=1.0)
    finally:
        await target.close()


async def test_a_rules_own_redis_url_shares_its_count_without_a_bus(redis_server):
    from bapp import config_options

    rules = config_options.rate_limits([{"requestPath": "/functions/*", "requestTimeWindow": 60_000,
                                         "requestCount": 1, "includeInternalRequests": True,
                                         "redisUrl": redis_server.url}])
    group = Instances()
    a, b = await group.start(2, None, rate_limits=rules)
    try:
        assert (await a.post("/functions/none", {})).status == 400  # counted (an unknown function)
        limited = await b.post("/functions/none", {})
        assert (limited.status, limited.body) == (429, {"code": 100, "error": "Too many requests."})
    finally:
        await group.close()


def test_rate_limit_redis_url_must_be_a_string():
    from bapp import config_options

    with pytest.raises(ValueError, match="rateLimit.redisUrl must be a string"):
        config_options.rate_limits([{"requestPath": "*", "requestTimeWindow": 1, "requestCount": 1, "redisUrl": 5}])
