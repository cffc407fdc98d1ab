"""The routes Parse Dashboard needs: /serverInfo, /config deletes and array
ops, /scriptlog, the hooks API (webhooks), /push_audiences, /cloud_code/jobs."""

from __future__ import annotations

import asyncio
import logging
import textwrap

import orjson
import pytest
from aiohttp import web
from conftest import make_settings, start_server

from bapp.core import logbuffer

CLOUD = '''
from bapp import cloud


@cloud.define("hello")
def hello(req):
    return "Hello " + req.params.get("name", "world")


@cloud.define("boom")
def boom(req):
    raise cloud.Error(141, "it broke")


@cloud.job("cleanup")
def cleanup(req):
    return "done"
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path))


class Receiver:
    """A webhook endpoint on its own loopback port, recording what it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict, dict]] = []
        self.answers: dict[str, object] = {}
        self.delay = 0.0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.calls.append((dict(request.headers), body))
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers.get(request.path, {"success": None})
        if isinstance(answer, bytes):
            return web.Response(body=answer, content_type="text/plain")
        return web.json_response(answer)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def receiver():
    found = Receiver()
    await found.start()
    try:
        yield found
    finally:
        await found.runner.cleanup()


# ------------------------------------------------------------------ serverInfo and config

async def test_server_info_reports_the_parse_protocol_and_features(api):
    body = (await api.get("/serverInfo", master=True)).body
    assert body["parseServerVersion"] == "9.10.0"
    assert body["bappVersion"]
    assert body["features"]["hooks"] == {"create": True, "read": True, "update": True, "delete": True}
    assert all(body["features"]["logs"].values())
    assert body["features"]["push"]["pushAudiences"] is True
    assert body["features"]["push"]["immediatePush"] is False


async def test_config_delete_also_drops_master_key_only(api):
    await api.put("/config", {"params": {"k": 1}, "masterKeyOnly": {"k": True}}, master=True)
    assert (await api.get("/config")).body == {"params": {}}
    # What Parse Dashboard sends to delete a parameter.
    reply = await api.put("/config", {"params": {"k": {"__op": "Delete"}}, "masterKeyOnly": {"k": {"__op": "Delete"}}},
                          master=True)
    assert reply.body == {"result": True}
    assert (await api.get("/config", master=True)).body == {"params": {}, "masterKeyOnly": {}}
    await api.put("/config", {"params": {"k": 2}}, master=True)
    assert (await api.get("/config")).body == {"params": {"k": 2}}
    # A delete sent alone clears the flag too.
    await api.put("/config", {"params": {"s": 1}, "masterKeyOnly": {"s": True}}, master=True)
    await api.put("/config", {"params": {"s": {"__op": "Delete"}}}, master=True)
    await api.put("/config", {"params": {"s": 3}}, master=True)
    assert (await api.get("/config")).body == {"params": {"k": 2, "s": 3}}


async def test_config_rewrite_resets_the_flag_as_parse_server(api):
    await api.put("/config", {"params": {"k": 1}, "masterKeyOnly": {"k": True}}, master=True)
    await api.put("/config", {"params": {"k": 5}}, master=True)
    assert (await api.get("/config", master=True)).body == {"params": {"k": 5}, "masterKeyOnly": {"k": False}}


async def test_config_array_operations(api):
    await api.put("/config", {"params": {"tags": ["a"]}}, master=True)
    await api.put("/config", {"params": {"tags": {"__op": "AddUnique", "objects": ["a", "b"]}}}, master=True)
    await api.put("/config", {"params": {"tags": {"__op": "Remove", "objects": ["a"]}}}, master=True)
    assert (await api.get("/config")).body == {"params": {"tags": ["b"]}}
    reply = await api.put("/config", {"params": {"tags": {"__op": "AddRelation", "objects": []}}}, master=True)
    assert (reply.status, reply.body["code"]) == (400, 107)
    reply = await api.put("/config", {"params": {"n": {"__op": "Increment", "amount": "x"}}}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 107, "error": "Increment amount must be a number"})


# ------------------------------------------------------------------ logs

async def test_scriptlog_answers_recent_records(api):
    logger = logging.getLogger("bapp.cloud")
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert (await api.post("/functions/hello", {"name": "ann"})).body == {"result": "Hello ann"}
        assert (await api.post("/functions/boom", {})).status == 400
    finally:
        logger.setLevel(old)
    assert (await api.get("/scriptlog")).status == 403
    rows = (await api.get("/scriptlog", master=True)).body
    assert [r["level"] for r in rows[:2]] == ["error", "info"]
    assert rows[0]["message"].startswith("Failed running cloud function boom for user None with:")
    assert '"message":"it broke"' in rows[0]["message"]
    assert rows[1]["message"].startswith("Ran cloud function hello for user None with:\n  Input: {\"name\":\"ann\"}")
    assert rows[0]["timestamp"].endswith("Z")
    errors_only = (await api.get("/scriptlog", params={"level": "error"}, master=True)).body
    assert errors_only and {r["level"] for r in errors_only} == {"error"}
    ascending = (await api.get("/scriptlog", params={"order": "asc", "size": "1"}, master=True)).body
    assert len(ascending) == 1
    later = (await api.get("/scriptlog", params={"from": "2999-01-01T00:00:00Z"}, master=True)).body
    assert later == []
    assert (await api.get("/scriptlog", params={"until": "2000-01-01"}, master=True)).body == []


def test_log_buffer_is_bounded_and_pages():
    buffer = logbuffer.LogBuffer(capacity=5)
    logger = logging.getLogger("bapp.test-buffer")
    logger.setLevel(logging.INFO)
    logger.addHandler(buffer)
    try:
        for i in range(8):
            logger.info("line %d", i)
        logger.info("x" * 2000)
    finally:
        logger.removeHandler(buffer)
    assert len(buffer.entries) == 5
    rows = buffer.query({"size": "3"})
    assert rows[0]["message"].endswith(logbuffer.TRUNCATION_MARKER) and len(rows[0]["message"]) < 1100
    assert [r["message"] for r in rows[1:]] == ["line 7", "line 6"]
    assert [r["message"] for r in buffer.query({"order": "asc", "n": 2})] == ["line 4", "line 5"]
    assert len(buffer.query({"size": "-1000000"})) == 5
    assert len(buffer.query({"size": "zz"})) == 5  # Number('zz') || 10


# ------------------------------------------------------------------ hooks

async def test_hooks_crud_with_parse_errors(api, receiver):
    url = receiver.url("/f")
    assert (await api.get("/hooks/functions")).status == 403
    reply = await api.post("/hooks/functions", {"functionName": "remote", "url": url}, master=True)
    assert (reply.status, reply.body) == (200, {"functionName": "remote", "url": url})
    reply = await api.post("/hooks/functions", {"functionName": "remote", "url": url}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 143, "error": "function name: remote already exists"})
    assert (await api.get("/hooks/functions", master=True)).body == [{"functionName": "remote", "url": url}]
    assert (await api.get("/hooks/functions/remote", master=True)).body == {"functionName": "remote", "url": url}
    reply = await api.get("/hooks/functions/nope", master=True)
    assert (reply.status, reply.body) == (400, {"code": 143, "error": "no function named: nope is defined"})
    reply = await api.put("/hooks/functions/nope", {"url": url}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 143, "error": "no function named: nope is defined"})
    reply = await api.put("/hooks/functions/remote", {}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 143, "error": "invalid hook declaration"})
    reply = await api.post("/hooks/functions", {"url": url}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 143, "error": "invalid hook declaration"})
    reply = await api.post("/hooks/functions", {"functionName": "x", "url": "file:///etc/passwd"}, master=True)
    assert (reply.status, reply.body["code"]) == (400, 143)

    trigger = {"className": "Item", "triggerName": "beforeSave", "url": receiver.url("/t")}
    assert (await api.post("/hooks/triggers", trigger, master=True)).body == trigger
    reply = await api.post("/hooks/triggers", trigger, master=True)
    assert reply.body == {"code": 143, "error": "class Item already has trigger beforeSave"}
    reply = await api.post("/hooks/triggers", {**trigger, "triggerName": "beforeNothing"}, master=True)
    assert reply.body == {"code": 143, "error": "invalid hook declaration"}
    assert (await api.get("/hooks/triggers", master=True)).body == [trigger]
    assert (await api.get("/hooks/triggers/Item/beforeSave", master=True)).body == trigger
    reply = await api.get("/hooks/triggers/Item/afterSave", master=True)
    assert reply.body == {"code": 143, "error": "class Item does not exist"}
    moved = receiver.url("/t2")
    assert (await api.put("/hooks/triggers/Item/beforeSave", {"url": moved}, master=True)).body == \
        {**trigger, "url": moved}

    assert (await api.put("/hooks/triggers/Item/beforeSave", {"__op": "Delete"}, master=True)).body == {}
    assert (await api.put("/hooks/functions/remote", {"__op": "Delete"}, master=True)).body == {}
    assert (await api.get("/hooks/functions", master=True)).body == []
    assert (await api.get("/hooks/triggers", master=True)).body == []
    assert (await api.post("/functions/remote", {})).body["code"] == 141
    # Stored as Parse Server stores them, closed to clients.
    assert (await api.get("/classes/_Hooks")).status in (400, 403)


async def test_webhook_function_is_called_with_the_key(settings, receiver):
    settings.webhook_key = "hook-secret"
    server, session = await start_server(settings)
    from conftest import Client
    api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        receiver.answers["/f"] = {"success": {"sum": 3}}
        await api.post("/hooks/functions", {"functionName": "add", "url": receiver.url("/f")}, master=True)
        reply = await api.post("/functions/add", {"a": 1, "b": 2})
        assert (reply.status, reply.body) == (200, {"result": {"sum": 3}})
        headers, body = receiver.calls[-1]
        assert headers["X-Parse-Webhook-Key"] == "hook-secret"
        assert body["functionName"] == "add" and body["params"] == {"a": 1, "b": 2} and body["master"] is False
        assert "headers" not in body  # the caller's credentials never leave the server
        receiver.answers["/f"] = {"error": "nope"}
        reply = await api.post("/functions/add", {})
        assert (reply.status, reply.body) == (400, {"code": 141, "error": "nope"})
        receiver.answers["/f"] = b"<html>"
        reply = await api.post("/functions/add", {})
        assert reply.body == {"code": 141, "error": "Malformed response"}
        # A webhook may shadow a cloud-code function of the same name, as in Parse Server.
        receiver.answers["/h"] = {"success": "from the hook"}
        await api.post("/hooks/functions", {"functionName": "hello", "url": receiver.url("/h")}, master=True)
        assert (await api.post("/functions/hello", {})).body == {"result": "from the hook"}
        await api.put("/hooks/functions/hello", {"__op": "Delete"}, master=True)
        assert (await api.post("/functions/hello", {})).body == {"result": "Hello world"}
        # With a key, the server may call itself (the receiver can check the key).
        own = f"http://127.0.0.1:{server.port}/parse/health"
        await api.post("/hooks/functions", {"functionName": "self", "url": own}, master=True)
        assert (await api.post("/functions/self", {})).body == {}
    finally:
        await session.close()
        await server.close()


async def test_webhook_triggers_change_and_refuse_saves(api, receiver):
    receiver.answers["/before"] = {"success": {"name": "renamed", "createdAt": "x"}}
    await api.post("/hooks/triggers", {"className": "Item", "triggerName": "beforeSave",
                                       "url": receiver.url("/before")}, master=True)
    await api.post("/hooks/triggers", {"className": "Item", "triggerName": "afterSave",
                                       "url": receiver.url("/after")}, master=True)
    reply = await api.post("/classes/Item", {"name": "x"}, master=True)
    assert reply.status == 201
    stored = (await api.get(f"/classes/Item/{reply.body['objectId']}", master=True)).body
    assert stored["name"] == "renamed"
    for _ in range(50):
        if len(receiver.calls) >= 2:
            break
        await asyncio.sleep(0.02)
    before, after = receiver.calls[0][1], receiver.calls[1][1]
    assert before["triggerName"] == "beforeSave" and before["object"]["className"] == "Item"
    assert after["triggerName"] == "afterSave" and after["object"]["name"] == "renamed"
    assert "X-Parse-Webhook-Key" not in receiver.calls[0][0]
    receiver.answers["/before"] = {"error": {"code": 142, "message": "no way"}}
    reply = await api.post("/classes/Item", {"name": "y"}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 141, "error": "no way"})
    assert (await api.get("/classes/Item", params={"count": 1, "limit": 0}, master=True)).body["count"] == 1


async def test_webhook_calls_are_bounded_in_time(settings, receiver):
    settings.webhook_timeout = 1
    server, session = await start_server(settings)
    from conftest import Client
    api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        receiver.delay = 3
        await api.post("/hooks/functions", {"functionName": "slow", "url": receiver.url("/s")}, master=True)
        started = asyncio.get_running_loop().time()
        reply = await api.post("/functions/slow", {})
        assert (reply.status, reply.body) == (400, {"code": 141, "error": "Webhook request timed out"})
        assert asyncio.get_running_loop().time() - started < 2.5
    finally:
        await session.close()
        await server.close()


async def test_webhooks_cannot_reach_the_server_itself_without_a_key(api):
    port = api.server.port
    for url in (f"http://127.0.0.1:{port}/parse/classes/_User", f"http://localhost:{port}/parse/schemas",
                f"http://[::1]:{port}/parse/config", f"http://0.0.0.0:{port}/parse/config"):
        name = "f" + str(abs(hash(url)) % 10_000)
        assert (await api.post("/hooks/functions", {"functionName": name, "url": url}, master=True)).status == 200
        reply = await api.post(f"/functions/{name}", {})
        assert (reply.status, reply.body) == \
            (400, {"code": 141, "error": "Webhook refused: it would call this server without a webhook key"}), url


async def test_webhooks_survive_a_restart(settings, receiver):
    if settings.in_memory:
        pytest.skip("the in-memory store does not outlive its server")
    server, session = await start_server(settings)
    from conftest import Client
    api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    await api.post("/hooks/functions", {"functionName": "kept", "url": receiver.url("/k")}, master=True)
    await session.close()
    await server.close()
    settings.port = 1337
    server, session = await start_server(settings)
    api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        receiver.answers["/k"] = {"success": 1}
        assert (await api.post("/functions/kept", {})).body == {"result": 1}
    finally:
        await session.close()
        await server.close()


# ------------------------------------------------------------------ push audiences and job schedules

async def test_push_audiences(api):
    assert (await api.get("/push_audiences")).status == 403
    query = {"deviceType": {"$in": ["ios"]}}
    reply = await api.post("/push_audiences", {"name": "iOS", "query": orjson.dumps(query).decode()}, master=True)
    assert reply.status == 201
    audience_id = reply.body["objectId"]
    found = (await api.get("/push_audiences", master=True)).body["results"]
    assert [(a["name"], a["query"]) for a in found] == [("iOS", query)]
    assert (await api.get(f"/push_audiences/{audience_id}", master=True)).body["query"] == query
    assert (await api.put(f"/push_audiences/{audience_id}", {"name": "Apple"}, master=True)).status == 200
    assert (await api.delete(f"/push_audiences/{audience_id}", master=True)).body == {}
    assert (await api.get("/push_audiences", master=True)).body == {"results": []}


async def test_job_schedules(api):
    assert (await api.get("/cloud_code/jobs/data", master=True)).body == {"in_use": [], "jobs": ["cleanup"]}
    reply = await api.post("/cloud_code/jobs", {"job_schedule": {"jobName": "missing"}}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 1, "error": "Cannot Schedule a job that is not deployed"})
    reply = await api.post("/cloud_code/jobs", {"job_schedule": {"jobName": "cleanup", "description": "d"}},
                           master=True)
    assert reply.status == 201
    schedule_id = reply.body["objectId"]
    rows = (await api.get("/cloud_code/jobs", master=True)).body
    assert [(r["jobName"], r["description"]) for r in rows] == [("cleanup", "d")] and rows[0]["startAfter"]
    assert (await api.get("/cloud_code/jobs/data", master=True)).body["in_use"] == ["cleanup"]
    reply = await api.put(f"/cloud_code/jobs/{schedule_id}", {"job_schedule": {"description": "e"}}, master=True)
    assert reply.status == 200
    assert (await api.delete(f"/cloud_code/jobs/{schedule_id}", master=True)).body == {}
    assert (await api.get("/cloud_code/jobs")).status == 403


async def test_cloud_code_listing(api):
    body = (await api.get("/cloud_code/functions", master=True)).body
    assert body["functions"] == [{"name": "boom", "webhook": False}, {"name": "hello", "webhook": False}]
    assert body["jobs"] == ["cleanup"]
    assert (await api.get("/cloud_code/functions")).status == 403
