"""Objects over REST: create, get, update, delete and every Parse type."""

import re
from datetime import datetime

import pytest

from tests.conftest import SQL_STORES, sql_row

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

ALL_TYPES = {
    "s": "text",
    "n": 3.5,
    "i": 7,
    "b": True,
    "d": {"__type": "Date", "iso": "2024-01-02T03:04:05.678Z"},
    "bytes": {"__type": "Bytes", "base64": "aGVsbG8="},
    "loc": {"__type": "GeoPoint", "latitude": 52.52, "longitude": 13.405},
    "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [1, 0]]},
    "obj": {"a": {"b": [1, "x", {"__type": "Date", "iso": "2024-01-02T03:04:05.678Z"}]}},
    "arr": [1, "two", {"three": 3}],
    "file": {"__type": "File", "name": "abc_photo.png"},
    "nothing": None,
}


async def test_create_returns_201_location_and_id(api):
    reply = await api.post("/classes/Thing", {"name": "a"}, master=True)
    assert reply.status == 201
    assert set(reply.body) == {"objectId", "createdAt"}
    assert re.fullmatch(r"[A-Za-z0-9]{10}", reply.body["objectId"])
    assert ISO.match(reply.body["createdAt"])
    assert reply.headers["Location"] == f"{api.url}/classes/Thing/{reply.body['objectId']}"


async def test_every_type_round_trips(api, bapp_store):
    created = (await api.post("/classes/Typed", ALL_TYPES, master=True)).body
    status, got = await api.get(f"/classes/Typed/{created['objectId']}")
    assert status == 200
    assert got["s"] == "text" and got["n"] == 3.5 and got["i"] == 7 and got["b"] is True
    assert got["d"] == {"__type": "Date", "iso": "2024-01-02T03:04:05.678Z"}
    assert got["bytes"] == {"__type": "Bytes", "base64": "aGVsbG8="}
    assert got["loc"] == {"__type": "GeoPoint", "latitude": 52.52, "longitude": 13.405}
    assert got["area"]["__type"] == "Polygon"
    assert got["area"]["coordinates"][0] == [0, 0] and got["area"]["coordinates"][-1] == [0, 0]
    assert got["obj"] == {"a": {"b": [1, "x", {"__type": "Date", "iso": "2024-01-02T03:04:05.678Z"}]}}
    assert got["arr"] == [1, "two", {"three": 3}]
    assert got["file"] == {"__type": "File", "name": "abc_photo.png",
                           "url": f"{api.engine.settings.mount_url()}/files/test-app/abc_photo.png"}
    if bapp_store in SQL_STORES:
        assert "nothing" not in got  # a SQL column cannot tell a stored null from a missing value
    else:
        assert got["nothing"] is None
    assert got["createdAt"] == created["createdAt"] == got["updatedAt"]
    assert "ACL" not in got


async def test_schema_records_inferred_types(api):
    await api.post("/classes/Typed", ALL_TYPES, master=True)
    schema = api.engine.schemas.classes["Typed"]
    assert {k: v["type"] for k, v in schema.fields.items() if k in ALL_TYPES} == {
        "s": "String", "n": "Number", "i": "Number", "b": "Boolean", "d": "Date", "bytes": "Bytes",
        "loc": "GeoPoint", "area": "Polygon", "obj": "Object", "arr": "Array", "file": "File",
    }
    assert "nothing" not in schema.fields  # null does not fix a type


async def test_pointer_round_trip_and_storage_layout(api, bapp_store):
    target = (await api.post("/classes/Target", {"x": 1}, master=True)).body
    ptr = {"__type": "Pointer", "className": "Target", "objectId": target["objectId"]}
    created = (await api.post("/classes/Holder", {"t": ptr, "list": [ptr]}, master=True)).body
    got = (await api.get(f"/classes/Holder/{created['objectId']}")).body
    assert got["t"] == ptr and got["list"] == [ptr]
    if bapp_store in SQL_STORES:
        row = await sql_row(api, "Holder", created["objectId"])
        assert row["t"] == target["objectId"] and row["list"] == [ptr]
        assert isinstance(row["createdAt"], datetime) and row["createdAt"] == row["updatedAt"]
        return
    doc = await api.engine.storage._col("Holder").find_one({"_id": created["objectId"]})
    assert doc["_p_t"] == f"Target${target['objectId']}"
    assert doc["list"] == [ptr]
    assert "_created_at" in doc and "_updated_at" in doc and "t" not in doc


async def test_acl_storage_layout(api, bapp_store):
    acl = {"*": {"read": True}, "u1": {"read": True, "write": True}}
    created = (await api.post("/classes/Secret", {"ACL": acl}, master=True)).body
    if bapp_store in SQL_STORES:
        row = await sql_row(api, "Secret", created["objectId"])
        assert sorted(row["_rperm"]) == ["*", "u1"] and row["_wperm"] == ["u1"]
        return
    doc = await api.engine.storage._col("Secret").find_one({"_id": created["objectId"]})
    assert sorted(doc["_rperm"]) == ["*", "u1"] and doc["_wperm"] == ["u1"]
    assert doc["_acl"] == {"*": {"r": True}, "u1": {"r": True, "w": True}}
    got = (await api.get(f"/classes/Secret/{created['objectId']}", master=True)).body
    assert got["ACL"] == acl


async def test_update_echoes_only_op_results(api):
    created = (await api.post("/classes/Thing", {"n": 1, "tags": ["a"], "other": 1}, master=True)).body
    oid = created["objectId"]
    reply = await api.put(f"/classes/Thing/{oid}", {
        "n": {"__op": "Increment", "amount": 2},
        "tags": {"__op": "AddUnique", "objects": ["a", "b"]},
        "other": {"__op": "Delete"},
        "plain": "x",
    }, master=True)
    assert reply.status == 200
    assert set(reply.body) == {"n", "tags", "updatedAt"}
    assert reply.body["n"] == 3 and reply.body["tags"] == ["a", "b"]
    got = (await api.get(f"/classes/Thing/{oid}")).body
    assert "other" not in got and got["plain"] == "x"
    assert got["updatedAt"] == reply.body["updatedAt"] >= got["createdAt"]


async def test_create_with_ops_echoes_values(api):
    reply = await api.post("/classes/Thing", {"n": {"__op": "Increment", "amount": 5},
                                              "a": {"__op": "Add", "objects": [1, 1]}}, master=True)
    assert reply.status == 201
    assert reply.body["n"] == 5 and reply.body["a"] == [1, 1]


async def test_delete_then_get_is_101(api):
    oid = (await api.post("/classes/Thing", {"n": 1}, master=True)).body["objectId"]
    reply = await api.delete(f"/classes/Thing/{oid}")
    assert (reply.status, reply.body) == (200, {})
    reply = await api.get(f"/classes/Thing/{oid}")
    assert (reply.status, reply.body) == (404, {"code": 101, "error": "Object not found."})
    reply = await api.delete(f"/classes/Thing/{oid}")
    assert (reply.status, reply.body["code"]) == (404, 101)


async def test_get_keys_exclude_and_bad_param(api):
    oid = (await api.post("/classes/Thing", {"a": 1, "b": 2, "c": 3}, master=True)).body["objectId"]
    got = (await api.get(f"/classes/Thing/{oid}", params={"keys": "a"})).body
    assert set(got) == {"a", "objectId", "createdAt", "updatedAt"}
    got = (await api.get(f"/classes/Thing/{oid}", params={"excludeKeys": "a,b"})).body
    assert "a" not in got and "b" not in got and got["c"] == 3
    reply = await api.get(f"/classes/Thing/{oid}", params={"where": {}})
    assert reply.status == 400 and reply.body == {"code": 102, "error": "Improper encode of parameter"}


async def test_nested_dot_update(api):
    oid = (await api.post("/classes/Thing", {"stats": {"count": 1, "name": "x"}}, master=True)).body["objectId"]
    reply = await api.put(f"/classes/Thing/{oid}", {"stats.count": {"__op": "Increment", "amount": 4},
                                                   "stats.extra": "y"}, master=True)
    assert reply.body["stats"] == {"count": 5}
    got = (await api.get(f"/classes/Thing/{oid}")).body
    assert got["stats"] == {"count": 5, "name": "x", "extra": "y"}


async def test_client_cannot_create_class_but_master_can(api):
    reply = await api.post("/classes/NewOne", {"a": 1})
    assert reply.status == 400
    assert reply.body == {"code": 119, "error": "Permission denied"}
    assert (await api.get("/classes/NewOne")).body["code"] == 119
    assert (await api.get("/classes/NewOne", master=True)).body == {"results": []}
    assert (await api.post("/classes/NewOne", {"a": 1}, master=True)).status == 201
    assert (await api.post("/classes/NewOne", {"b": 2})).status == 201  # fields may be added


async def test_type_mismatch_is_111(api):
    await api.post("/classes/Thing", {"n": 1}, master=True)
    reply = await api.post("/classes/Thing", {"n": "one"})
    assert reply.status == 400
    assert reply.body == {"code": 111, "error": "schema mismatch for Thing.n; expected Number but got String"}


async def test_second_geopoint_is_refused(api):
    await api.post("/classes/Geo", {"a": {"__type": "GeoPoint", "latitude": 1, "longitude": 1}}, master=True)
    reply = await api.post("/classes/Geo", {"b": {"__type": "GeoPoint", "latitude": 1, "longitude": 1}}, master=True)
    assert reply.body["code"] == 111


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_unknown_app_id_is_403(api, method):
    reply = await api.request(method, "/classes/Thing", {}, app_id="wrong")
    assert (reply.status, reply.body) == (403, {"error": "unauthorized"})
    reply = await api.request(method, "/classes/Thing", {}, app_id=None)
    assert (reply.status, reply.body) == (403, {"error": "unauthorized"})


async def test_js_sdk_envelope(api):
    import orjson
    body = {"_method": "GET", "_ApplicationId": "test-app", "_MasterKey": "test-master-key",
            "_ClientVersion": "js8.6.2", "_InstallationId": "abc", "where": {"n": {"$gte": 1}}, "count": 1, "limit": 0}
    await api.post("/classes/Thing", {"n": 1}, master=True)
    async with api.session.post(api.url + "/classes/Thing", data=orjson.dumps(body),
                                headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 200
        assert await resp.json(content_type=None) == {"results": [], "count": 1}
    body = {"_ApplicationId": "test-app", "n": 5}
    async with api.session.post(api.url + "/classes/Thing", data=orjson.dumps(body),
                                headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 201
    got = await api.get("/classes/Thing", params={"where": {"n": 5}})
    assert len(got.body["results"]) == 1 and "_ApplicationId" not in got.body["results"][0]


async def test_cors_preflight_and_headers(api):
    async with api.session.options(api.url + "/classes/Thing") as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "X-Parse-Session-Token" in resp.headers["Access-Control-Allow-Headers"]
    reply = await api.get("/classes/Thing", app_id="nope")
    assert reply.headers["Access-Control-Allow-Origin"] == "*"


async def test_health_needs_no_app_id(api):
    async with api.session.get(api.url + "/health") as resp:
        assert resp.status == 200 and await resp.json() == {"status": "ok"}


async def test_concurrent_increments_are_atomic(api):
    import asyncio
    oid = (await api.post("/classes/Counter", {"n": 0}, master=True)).body["objectId"]
    replies = await asyncio.gather(*[
        api.put(f"/classes/Counter/{oid}", {"n": {"__op": "Increment", "amount": 1}}) for _ in range(50)])
    assert all(r.status == 200 for r in replies)
    assert sorted(r.body["n"] for r in replies) == list(range(1, 51))
    assert (await api.get(f"/classes/Counter/{oid}")).body["n"] == 50
