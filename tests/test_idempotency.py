"""idempotencyOptions: a repeated X-Parse-Request-Id on a covered path
answers 159 and writes nothing (Parse Server's promiseEnsureIdempotency)."""

from __future__ import annotations

import asyncio
import json
import textwrap
from datetime import UTC, datetime

import pytest
from conftest import make_settings

from bapp.config import ConfigError, Settings, apply_parse_config
from bapp.core.idempotency import Idempotency

DUPLICATE = (400, {"code": 159, "error": "Duplicate request"})

CLOUD = '''
from bapp import cloud

@cloud.define("once")
async def once(req):
    await cloud.create("Ran", {"by": "once"}, master=True)
    return "done"

@cloud.job("tick")
async def tick(req):
    return "ok"
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path), allow_client_class_creation=True,
                         idempotency_paths=["classes/Item", "users", "functions/.*", "jobs/tick", "installations"],
                         idempotency_ttl=120)


def rid(value: str) -> dict:
    return {"X-Parse-Request-Id": value}


async def count(api, class_name: str) -> int:
    reply = await api.get(f"/classes/{class_name}", {"count": 1, "limit": 0}, master=True)
    assert reply.status == 200, reply.body
    return reply.body["count"]


async def test_repeated_create_is_refused_and_writes_nothing(api):
    first = await api.post("/classes/Item", {"n": 1}, headers=rid("abc"))
    assert first.status == 201
    assert tuple(await api.post("/classes/Item", {"n": 2}, headers=rid("abc"))) == DUPLICATE
    assert await count(api, "Item") == 1
    # another request id is another request
    assert (await api.post("/classes/Item", {"n": 3}, headers=rid("abd"))).status == 201
    assert await count(api, "Item") == 2


async def test_repeated_update_is_refused(api):
    created = await api.post("/classes/Item", {"n": 1})
    path = f"/classes/Item/{created.body['objectId']}"
    assert (await api.put(path, {"n": {"__op": "Increment", "amount": 1}}, headers=rid("u1"))).status == 200
    assert tuple(await api.put(path, {"n": {"__op": "Increment", "amount": 1}}, headers=rid("u1"))) == DUPLICATE
    assert (await api.get(path)).body["n"] == 2


async def test_the_record_is_stored_with_its_expiry(api):
    before = datetime.now(UTC).replace(tzinfo=None)
    assert (await api.post("/classes/Item", {}, headers=rid("rec-1"))).status == 201
    rows = (await api.get("/classes/_Idempotency", {"where": {"reqId": "rec-1"}}, master=True)).body["results"]
    assert len(rows) == 1
    expire = datetime.fromisoformat(rows[0]["expire"]["iso"].rstrip("Z"))
    assert 119 <= (expire - before).total_seconds() <= 125
    # clients cannot see it
    reply = await api.get("/classes/_Idempotency")
    assert (reply.status, reply.body["code"]) == (400, 119)


async def test_uncovered_paths_and_requests_without_id_run_every_time(api):
    for _ in range(2):
        assert (await api.post("/classes/Other", {}, headers=rid("same"))).status == 201
        assert (await api.post("/classes/Item", {})).status == 201
    assert await count(api, "Other") == 2
    # a GET is never deduplicated, even on a covered path
    for _ in range(2):
        assert (await api.get("/classes/Item", headers=rid("get-1"))).status == 200


async def test_prefix_match_is_anchored_at_the_start(api):
    # "classes/Item" covers classes/ItemX too (a regex from the start, as Parse Server)
    assert (await api.post("/classes/ItemX", {}, headers=rid("p1"))).status == 201
    assert tuple(await api.post("/classes/ItemX", {}, headers=rid("p1"))) == DUPLICATE


async def test_concurrent_duplicates_run_once(api):
    replies = await asyncio.gather(*(api.post("/classes/Item", {"n": i}, headers=rid("race")) for i in range(12)))
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [400] * 11
    assert all(r.body == DUPLICATE[1] for r in replies if r.status == 400)
    assert await count(api, "Item") == 1


async def test_sign_up_function_job_and_installation(api):
    assert (await api.post("/users", {"username": "ann", "password": "pw"}, headers=rid("s1"))).status == 201
    assert tuple(await api.post("/users", {"username": "bob", "password": "pw"}, headers=rid("s1"))) == DUPLICATE
    assert await count(api, "_User") == 1

    assert tuple(await api.post("/functions/once", {}, headers=rid("f1"))) == (200, {"result": "done"})
    assert tuple(await api.post("/functions/once", {}, headers=rid("f1"))) == DUPLICATE
    assert await count(api, "Ran") == 1

    assert (await api.post("/jobs/tick", {}, master=True, headers=rid("j1"))).status == 200
    assert tuple(await api.post("/jobs/tick", {}, master=True, headers=rid("j1"))) == DUPLICATE

    inst = {"deviceType": "ios", "installationId": "3f6c1a4e-0000-4000-8000-000000000001"}
    assert (await api.post("/installations", inst, headers=rid("i1"))).status == 201
    assert tuple(await api.post("/installations", inst, headers=rid("i1"))) == DUPLICATE


async def test_master_key_requests_are_deduplicated_too(api):
    assert (await api.post("/classes/Item", {}, master=True, headers=rid("m1"))).status == 201
    assert tuple(await api.post("/classes/Item", {}, master=True, headers=rid("m1"))) == DUPLICATE


async def test_batch_sub_requests_are_not_deduplicated(api):
    body = {"requests": [{"method": "POST", "path": "/parse/classes/Item", "body": {}}] * 2}
    for _ in range(2):
        reply = await api.post("/batch", body, headers=rid("b1"))
        assert reply.status == 200 and all("success" in r for r in reply.body)
    assert await count(api, "Item") == 4


async def test_the_js_sdk_envelope(api):
    # the JS SDK sends text/plain bodies with _method and the id as a header
    raw = json.dumps({"_method": "POST", "_ApplicationId": "test-app", "n": 1})
    headers = {**rid("env-1"), "Content-Type": "text/plain"}
    first = await api.request("POST", "/classes/Item", raw=raw, headers=headers, app_id=None)
    assert first.status == 201
    again = await api.request("POST", "/classes/Item", raw=raw, headers=headers, app_id=None)
    assert tuple(again) == DUPLICATE


async def test_an_expired_record_lets_the_request_run_again(api):
    api.engine.idempotency.ttl = 1
    assert (await api.post("/classes/Item", {}, headers=rid("exp"))).status == 201
    assert tuple(await api.post("/classes/Item", {}, headers=rid("exp"))) == DUPLICATE
    await asyncio.sleep(1.2)
    assert (await api.post("/classes/Item", {}, headers=rid("exp"))).status == 201
    assert await count(api, "Item") == 2
    rows = (await api.get("/classes/_Idempotency", {"where": {"reqId": "exp"}}, master=True)).body["results"]
    assert len(rows) == 1


async def test_off_by_default():
    from conftest import Client, start_server

    settings = make_settings(allow_client_class_creation=True)
    server, session = await start_server(settings)
    try:
        api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
        for _ in range(2):
            assert (await api.post("/classes/Item", {}, headers=rid("x"))).status == 201
    finally:
        await session.close()
        await server.close()


def test_covered_routes_unit():
    idem = Idempotency.__new__(Idempotency)
    from bapp.core.idempotency import compile_paths

    idem.patterns = compile_paths(["classes/.*", "^functions/a$"])
    assert idem.covers("POST", "/classes/A")
    assert idem.covers("PUT", "/classes/A/x1")
    assert not idem.covers("DELETE", "/classes/A/x1")
    assert not idem.covers("GET", "/classes/A")
    assert idem.covers("POST", "/functions/a")
    assert not idem.covers("POST", "/functions/ab")
    assert not idem.covers("POST", "/batch")


@pytest.mark.parametrize("value, message", [
    ({"ttl": 0}, "idempotency TTL value must be greater than 0 seconds"),
    ({"ttl": "x"}, "idempotency TTL value must be a number"),
    ({"paths": "classes/.*"}, "idempotency paths must be of an array of strings"),
    ({"paths": ["("]}, "is not a valid regular expression"),
])
def test_config_is_checked(tmp_path, value, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "idempotencyOptions": value}))
    with pytest.raises(ConfigError, match=message.replace("(", "\\(")):
        apply_parse_config(Settings(), path)


def test_config_is_mapped(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "idempotencyOptions": {"paths": ["classes/.*"]}}))
    settings = Settings()
    apply_parse_config(settings, path)
    assert (settings.idempotency_paths, settings.idempotency_ttl) == (["classes/.*"], 300)
