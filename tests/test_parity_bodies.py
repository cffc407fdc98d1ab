"""Batch sub-requests, where parameters and prohibited body keys answered
with Parse Server 9's codes and messages."""

from __future__ import annotations

import pytest


def bad(message: str) -> tuple[int, dict]:
    return 400, {"code": 107, "error": message}


@pytest.mark.parametrize("item,message", [
    (5, "batch request path must be a string"),
    (None, "batch request path must be a string"),
    ({"method": "GET"}, "batch request path must be a string"),
    ({"method": "GET", "path": 5}, "batch request path must be a string"),
    ({"method": "GET", "path": None}, "batch request path must be a string"),
    ({"path": "/parse/classes/Thing"}, "cannot route undefined /classes/Thing"),
    ({"method": 5, "path": "/parse/classes/Thing"}, "cannot route 5 /classes/Thing"),
    ({"method": None, "path": "/parse/classes/Thing"}, "cannot route null /classes/Thing"),
    ({"method": "POST", "path": "/parse/batch"}, "nested batch requests are not allowed"),
    ({"method": "GET", "path": "/parse/nowhere"}, "cannot route GET /nowhere"),
    ({"method": "PATCH", "path": "/parse/classes/Thing"}, "cannot route PATCH /classes/Thing"),
    ({"method": "GET", "path": "/elsewhere/classes/Thing"}, "cannot route batch path /elsewhere/classes/Thing"),
])
async def test_batch_sub_request_errors(api, item, message):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    good = {"method": "POST", "path": "/parse/classes/Thing", "body": {"a": 2}}
    reply = await api.post("/batch", {"requests": [good, item]})
    assert (reply.status, reply.body) == bad(message)
    # nothing ran: the good sub-request before the bad one wrote nothing
    count = await api.get("/classes/Thing", params={"count": 1, "limit": 0})
    assert count.body["count"] == 1


async def test_batch_requests_must_be_an_array(api):
    for body in ({"requests": {}}, {"requests": "x"}, {}):
        reply = await api.post("/batch", body)
        assert (reply.status, reply.body) == bad("requests must be an array")


async def test_batch_paths_are_normalized_as_parse_server_joins_them(api):
    oid = (await api.post("/classes/Thing", {"a": 1}, master=True)).body["objectId"]
    reply = await api.post("/batch", {"requests": [
        {"method": "GET", "path": f"/parse/classes/Other/../Thing/{oid}"},
        {"method": "get", "path": "/parse//classes/Thing"},
    ]})
    assert reply.status == 200
    assert reply.body[0]["success"]["objectId"] == oid
    assert len(reply.body[1]["success"]["results"]) == 1


@pytest.mark.parametrize("where", ["{bad", '"just a string"', "", "{'a': 1}"])
async def test_where_that_is_no_json_object(api, where):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    reply = await api.request("GET", "/classes/Thing?where=" + where)
    assert (reply.status, reply.body) == bad("where parameter is not valid JSON")
    body = await api.post("/classes/Thing", {"_method": "GET", "where": where})
    assert (body.status, body.body) == bad("where parameter is not valid JSON")


async def test_where_as_a_json_string_in_a_body(api):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    reply = await api.post("/classes/Thing", {"_method": "GET", "where": '{"a": 1}'})
    assert reply.status == 200 and len(reply.body["results"]) == 1
    other = await api.get("/classes/Thing", params={"where": [1]})
    assert (other.status, other.body) == bad("where must be a JSON object")


async def test_aggregate_where_string(api):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    reply = await api.get("/aggregate/Thing", params={"distinct": "a", "where": "{bad"}, master=True)
    assert (reply.status, reply.body) == bad("where parameter is not valid JSON")


@pytest.mark.parametrize("raw,message", [
    ('{"__proto__": {"admin": true}}', "Invalid field name: __proto__."),
    ('{"__class__": "x"}', "Invalid field name: __class__."),
    ('{"_bsontype": "Code", "code": "x"}', 'Prohibited keyword in request data: {"key":"_bsontype","value":"Code"}.'),
    ('{"_bsontype": "ObjectId"}', "Invalid field name: _bsontype."),
    ('{"a": {"_bsontype": "Code"}}', 'Prohibited keyword in request data: {"key":"_bsontype","value":"Code"}.'),
    ('{"a": [{"_bsontype": "MyCode"}]}', 'Prohibited keyword in request data: {"key":"_bsontype","value":"Code"}.'),
    ('{"a": {"_bsontype": "Long"}}', 'Prohibited keyword in request data: {"key":"_bsontype","value":"Long"}.'),
    ('{"constructor": {"x": 1}}', 'Prohibited keyword in request data: {"key":"constructor"}.'),
    ('{"a": {"__proto__": {"x": 1}}}', 'Prohibited keyword in request data: {"key":"__proto__"}.'),
])
async def test_prohibited_keys(api, raw, message):
    reply = await api.request("POST", "/classes/Thing", raw=raw, master=True)
    assert (reply.status, reply.body) == (400, {"code": 105, "error": message})
    oid = (await api.post("/classes/Thing", {"ok": 1}, master=True)).body["objectId"]
    update = await api.request("PUT", f"/classes/Thing/{oid}", raw=raw, master=True)
    assert (update.status, update.body) == (400, {"code": 105, "error": message})
    assert (await api.get(f"/classes/Thing/{oid}", master=True)).body.get("a") is None
