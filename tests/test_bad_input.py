"""Bad input: each gets the right Parse error, never a 500, never a partial write."""

import pytest


@pytest.fixture
async def thing(api):
    return (await api.post("/classes/Thing", {"n": 1, "obj": {"a": 1}}, master=True)).body["objectId"]


async def count(api, cls="Thing"):
    return (await api.get(f"/classes/{cls}", params={"count": 1, "limit": 0}, master=True)).body["count"]


async def test_malformed_json(api, thing):
    reply = await api.request("POST", "/classes/Thing", raw=b'{"n": ')
    assert (reply.status, reply.body) == (400, {"code": 107, "error": "Invalid JSON"})
    assert await count(api) == 1


@pytest.mark.parametrize("body,code", [
    ({"__proto__": {"x": 1}}, 105),
    ({"constructor": 1}, 105),
    ({"obj": {"constructor": {"prototype": 1}}}, 105),
    ({"obj": {"_bsontype": "Code"}}, 105),
    ({"obj": {"a.b": 1}}, 121),
    ({"obj": {"$set": 1}}, 121),
    ({"$set": {"n": 2}}, 105),
    ({"bad-name": 1}, 105),
    ({"objectId": "abc"}, 105),
    ({"id": "abc"}, 105),
    ({"_private": 1}, 105),
    ({"n": "string"}, 111),
    ({"n": {"__op": "Increment", "amount": "1"}}, 107),
    ({"n": {"__op": "Frobnicate"}}, 108),
    ({"tags": {"__op": "Add", "objects": "x"}}, 107),
    ({"d": {"__type": "Date", "iso": "not a date"}}, 111),
    ({"d": {"__type": "Date"}}, 111),
    ({"p": {"__type": "Pointer", "className": "X"}}, 111),
    ({"g": {"__type": "GeoPoint", "latitude": 91, "longitude": 0}}, 107),
    ({"ACL": "public"}, 123),
    ({"ACL": {"*": {"read": "yes"}}}, 123),
])
async def test_bad_create_bodies(api, thing, body, code):
    reply = await api.post("/classes/Thing", body)
    assert reply.status == 400, reply.body
    assert reply.body["code"] == code, reply.body
    assert await count(api) == 1


async def test_deep_nesting_is_refused(api, thing):
    value = 1
    for _ in range(100):
        value = {"a": value}
    reply = await api.post("/classes/Thing", {"deep": value})
    assert reply.status == 400 and reply.body["code"] == 107


async def test_update_failure_writes_nothing(api, thing):
    reply = await api.put(f"/classes/Thing/{thing}", {"n": {"__op": "Increment", "amount": 1}, "x": {"__op": "Nope"}})
    assert reply.body["code"] == 108
    assert (await api.get(f"/classes/Thing/{thing}")).body["n"] == 1


@pytest.mark.parametrize("name", ["1abc", "a-b", "_Secret", "_Join:x:y", "length"])
async def test_invalid_class_names(api, name):
    reply = await api.post(f"/classes/{name}", {"a": 1}, master=True)
    assert reply.status == 400
    # Parse Server's answer when the class it would add fails its checks; _Join tables are closed (119)
    assert reply.body["code"] in (107, 119), reply.body


async def test_internal_classes_are_closed_to_clients(api):
    for cls in ("_JobStatus", "_PushStatus", "_Hooks", "_GlobalConfig", "_Idempotency", "_Audience", "_Join:users:_Role"):
        reply = await api.post(f"/classes/{cls}", {"a": 1})
        assert reply.status == 400 and reply.body["code"] in (103, 119), (cls, reply.body)
        reply = await api.get(f"/classes/{cls}")
        assert reply.status == 400 and reply.body["code"] in (103, 119), (cls, reply.body)


async def test_oversized_body(api, thing):
    big = b'{"s": "' + b"x" * (21 * 1024 * 1024) + b'"}'
    reply = await api.request("POST", "/classes/Thing", raw=big)
    assert reply.status == 413
    assert reply.body["code"] == 116
    assert await count(api) == 1


async def test_non_object_bodies(api, thing):
    for raw in (b"[1,2]", b'"text"', b"42"):
        reply = await api.request("POST", "/classes/Thing", raw=raw)
        assert reply.status == 400 and reply.body["code"] == 107, (raw, reply.body)


async def test_object_ids_that_are_not_strings(api, thing):
    reply = await api.post("/batch", {"requests": [{"method": "GET", "path": "/parse/classes/Thing/%7B%22$ne%22:1%7D"}]})
    assert reply.body[0]["error"]["code"] == 101


async def test_envelope_non_string_credentials(api):
    import orjson
    for key in ("_SessionToken", "_MasterKey", "_InstallationId"):
        body = {"_ApplicationId": "test-app", key: {"$ne": 1}}
        async with api.session.post(api.url + "/classes/Thing", data=orjson.dumps(body)) as resp:
            assert resp.status == 403, key
            assert await resp.json(content_type=None) == {"error": "unauthorized"}


async def test_bad_session_token_fails_even_public_reads(api, thing):
    reply = await api.get("/classes/Thing", token="r:nope")
    assert (reply.status, reply.body) == (400, {"code": 209, "error": "Invalid session token"})


async def test_master_key_from_elsewhere_is_refused(api, thing):
    api.engine.settings.master_key_ips = ["10.0.0.1"]
    reply = await api.get("/classes/Thing", master=True)
    assert (reply.status, reply.body) == (403, {"error": "unauthorized"})
    # X-Forwarded-For is not trusted
    reply = await api.get("/classes/Thing", master=True, headers={"X-Forwarded-For": "10.0.0.1"})
    assert reply.status == 403


async def test_unknown_route_is_json_404(api):
    reply = await api.get("/nothing/here")
    assert reply.status == 404 and "error" in reply.body
