"""LiveQuery over a real websocket: the protocol frames, each event type,
keys/watch, each kind of constraint, bad messages and disconnects.

``LiveSocket`` is the client used by every LiveQuery test module. To prove
that an event was NOT sent, ``nothing_pending`` waits for the hub to finish
matching, then sends a message the server answers with an error: frames to
one client leave in order, so the next frame must be that error."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import aiohttp
import pytest
import websockets

from bapp.core.auth import Auth
from bapp.livequery import LIVEQUERY_KEY

APP_ID = "test-app"
TIMEOUT = 5.0
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def ws_url(api: Any, path: str = "/parse") -> str:
    return api.url.replace("http://", "ws://").split("/parse")[0] + path


def live(api: Any):
    return api.server.app[LIVEQUERY_KEY]


class LiveSocket:
    """A bare LiveQuery protocol client."""

    def __init__(self, api: Any, ws: Any) -> None:
        self.api = api
        self.ws = ws
        self.client_id: str | None = None

    @classmethod
    async def open(cls, api: Any, path: str = "/parse", **options: Any) -> LiveSocket:
        return cls(api, await websockets.connect(ws_url(api, path), **options))

    @classmethod
    async def connected(cls, api: Any, options: dict | None = None, **connect: Any) -> LiveSocket:
        sock = await cls.open(api, **(options or {}))
        reply = await sock.connect(**connect)
        assert reply["op"] == "connected", reply
        return sock

    async def send(self, message: Any) -> None:
        await self.ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    async def recv(self, timeout: float = TIMEOUT) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def connect(self, **fields: Any) -> dict:
        await self.send({"op": "connect", "applicationId": APP_ID, **fields})
        reply = await self.recv()
        if reply["op"] == "connected":
            self.client_id = reply["clientId"]
        return reply

    async def subscribe(self, class_name: str, where: dict | None = None, request_id: int = 1, *,
                        op: str = "subscribe", expect: str = "subscribed", **extra: Any) -> dict:
        query = {"className": class_name, "where": where or {}}
        for name in ("keys", "watch", "fields"):
            if name in extra:
                query[name] = extra.pop(name)
        await self.send({"op": op, "requestId": request_id, "query": query, **extra})
        reply = await self.recv()
        assert reply["op"] == expect, reply
        return reply

    async def event(self) -> dict:
        await drain(self.api)
        return await self.recv()

    async def nothing_pending(self) -> None:
        await drain(self.api)
        await self.send({"op": "unsubscribe", "requestId": 987654321})
        reply = await self.recv()
        assert reply["op"] == "error" and reply["code"] == 2, f"unexpected frame {reply}"

    async def close(self) -> None:
        await self.ws.close()


async def drain(api: Any) -> None:
    await api.engine.hub.drain()


async def make_class(api: Any, class_name: str, **fields: Any) -> None:
    """Creates the class (clients may not create classes) with some fields."""
    status, body = await api.post(f"/classes/{class_name}", {"seed": True, **fields}, master=True)
    assert status == 201, body
    status, _ = await api.delete(f"/classes/{class_name}/{body['objectId']}", master=True)
    assert status == 200


@pytest.fixture
async def sock(api):
    s = await LiveSocket.connected(api, installationId="inst-1")
    yield s
    await s.close()


# ------------------------------------------------------------------ protocol

async def test_connect_answers_connected_with_a_uuid_client_id(api):
    sock = await LiveSocket.open(api)
    reply = await sock.connect(installationId="inst-9", javascriptKey="anything")
    assert set(reply) == {"op", "clientId", "installationId"}
    assert reply["installationId"] == "inst-9"
    assert UUID_RE.match(reply["clientId"])
    await sock.close()


async def test_connect_without_installation_id_omits_it(api):
    sock = await LiveSocket.open(api)
    reply = await sock.connect(sessionToken=None)  # old SDKs send null: accepted
    assert set(reply) == {"op", "clientId"}
    await sock.close()


async def test_endpoint_also_answers_on_the_mount_with_slash_and_at_root(api):
    for path in ("/parse/", "/"):
        sock = await LiveSocket.open(api, path)
        assert (await sock.connect())["op"] == "connected"
        await sock.close()


async def test_plain_get_of_root_is_still_not_found(api):
    async with aiohttp.ClientSession() as session:
        async with session.get(api.url.split("/parse")[0] + "/") as resp:
            assert resp.status == 404


async def test_broken_upgrade_gets_a_parse_style_400(api):
    async with aiohttp.ClientSession() as session:
        for url in (api.url, api.url.split("/parse")[0] + "/"):
            async with session.get(url, headers={"Upgrade": "websocket", "Connection": "Upgrade"}) as resp:
                body = await resp.json()
                assert resp.status == 400 and body["code"] == 107
                assert body["error"].startswith("Invalid websocket upgrade")


async def test_subscribed_frame_shape(api, sock):
    reply = await sock.subscribe("Thing", {"a": 1}, request_id=7)
    assert reply == {"op": "subscribed", "clientId": sock.client_id, "installationId": "inst-1", "requestId": 7}


async def test_the_five_events_with_parse_server_shapes(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {"status": "open"})
    status, created = await api.post("/classes/Item", {"status": "open", "n": 1}, master=True)
    assert status == 201
    oid, created_at = created["objectId"], created["createdAt"]
    head = {"clientId": sock.client_id, "installationId": "inst-1", "requestId": 1}

    ev = await sock.event()
    assert ev == {"op": "create", **head, "object": {"status": "open", "n": 1, "objectId": oid, "createdAt": created_at,
                                                     "updatedAt": created_at, "className": "Item"}}
    assert list(ev)[:4] == ["op", "clientId", "installationId", "requestId"]

    _, upd = await api.put(f"/classes/Item/{oid}", {"n": 2}, master=True)
    ev = await sock.event()
    assert ev["op"] == "update"
    assert ev["object"] == {"status": "open", "n": 2, "objectId": oid, "createdAt": created_at,
                            "updatedAt": upd["updatedAt"], "className": "Item"}
    assert ev["original"] == {"status": "open", "n": 1, "objectId": oid, "createdAt": created_at,
                              "updatedAt": created_at, "className": "Item"}

    _, left = await api.put(f"/classes/Item/{oid}", {"status": "closed"}, master=True)
    ev = await sock.event()
    assert ev["op"] == "leave"
    assert ev["object"]["status"] == "closed" and ev["object"]["updatedAt"] == left["updatedAt"]
    assert ev["original"]["status"] == "open" and ev["original"]["updatedAt"] == upd["updatedAt"]

    await api.put(f"/classes/Item/{oid}", {"n": 3}, master=True)  # outside the query: nothing
    await sock.nothing_pending()

    _, entered = await api.put(f"/classes/Item/{oid}", {"status": "open"}, master=True)
    ev = await sock.event()
    assert ev["op"] == "enter"
    assert ev["object"] == {"status": "open", "n": 3, "objectId": oid, "createdAt": created_at,
                            "updatedAt": entered["updatedAt"], "className": "Item"}
    assert ev["original"]["status"] == "closed"

    await api.delete(f"/classes/Item/{oid}", master=True)
    ev = await sock.event()
    assert ev == {"op": "delete", **head, "object": {"status": "open", "n": 3, "objectId": oid,
                                                     "createdAt": created_at, "updatedAt": entered["updatedAt"],
                                                     "className": "Item"}}
    await sock.nothing_pending()


async def test_unset_field_is_absent_from_object_and_present_in_original(api, sock):
    await make_class(api, "Item")
    _, obj = await api.post("/classes/Item", {"a": 1, "b": 2}, master=True)
    await sock.subscribe("Item", {})
    await api.put(f"/classes/Item/{obj['objectId']}", {"b": {"__op": "Delete"}}, master=True)
    ev = await sock.event()
    assert ev["op"] == "update"
    assert "b" not in ev["object"] and ev["original"]["b"] == 2


async def test_typed_values_use_rest_encoding(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {})
    when = {"__type": "Date", "iso": "2024-01-02T03:04:05.000Z"}
    ptr = {"__type": "Pointer", "className": "Other", "objectId": "abc"}
    geo = {"__type": "GeoPoint", "latitude": 1.5, "longitude": 2.5}
    await api.post("/classes/Item", {"when": when, "ptr": ptr, "geo": geo, "acl_test": True,
                                     "ACL": {"*": {"read": True}}}, master=True)
    obj = (await sock.event())["object"]
    assert obj["when"] == when and obj["ptr"] == ptr and obj["geo"] == geo
    assert obj["ACL"] == {"*": {"read": True}}


async def test_unsubscribe_stops_events(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {}, request_id=3)
    await sock.send({"op": "unsubscribe", "requestId": 3})
    assert await sock.recv() == {"op": "unsubscribed", "clientId": sock.client_id, "installationId": "inst-1",
                                 "requestId": 3}
    await api.post("/classes/Item", {"x": 1}, master=True)
    await sock.nothing_pending()
    assert live(api).stats()["subscriptions"] == 0


async def test_unsubscribe_unknown_request_id_is_code_2(api, sock):
    await sock.send({"op": "unsubscribe", "requestId": 44})
    reply = await sock.recv()
    assert reply["op"] == "error" and reply["code"] == 2 and reply["requestId"] == 44
    assert reply["reconnect"] is False


async def test_two_matching_subscriptions_get_one_frame_each(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {"a": 1}, request_id=1)
    await sock.subscribe("Item", {"a": {"$gt": 0}}, request_id=2)
    await api.post("/classes/Item", {"a": 1}, master=True)
    got = {(await sock.event())["requestId"], (await sock.recv())["requestId"]}
    assert got == {1, 2}
    await sock.nothing_pending()


async def test_same_query_from_two_clients_shares_one_record(api, sock):
    await make_class(api, "Item")
    other = await LiveSocket.connected(api)
    await sock.subscribe("Item", {"a": 1, "b": 2})
    await other.subscribe("Item", {"b": 2, "a": 1})
    assert live(api).stats()["queries"] == 1
    await api.post("/classes/Item", {"a": 1, "b": 2}, master=True)
    assert (await sock.event())["op"] == "create"
    assert (await other.recv())["op"] == "create"
    await other.close()


async def test_reused_request_id_replaces_the_subscription(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {"a": 1}, request_id=1)
    await sock.subscribe("Item", {"a": 2}, request_id=1)
    assert live(api).stats()["subscriptions"] == 1
    await api.post("/classes/Item", {"a": 1}, master=True)
    await sock.nothing_pending()
    await api.post("/classes/Item", {"a": 2}, master=True)
    assert (await sock.event())["object"]["a"] == 2


async def test_update_op_replaces_the_query_and_answers_subscribed(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {"a": 1}, request_id=5)
    reply = await sock.subscribe("Item", {"a": 2}, request_id=5, op="update")
    assert reply["requestId"] == 5
    await api.post("/classes/Item", {"a": 1}, master=True)
    await api.post("/classes/Item", {"a": 2}, master=True)
    assert (await sock.event())["object"]["a"] == 2
    await sock.nothing_pending()


# ------------------------------------------------------------------ keys / watch

@pytest.mark.parametrize("spelling", [{"keys": ["a"]}, {"fields": ["a"]}, {"keys": "a"}])
async def test_keys_reduce_object_and_original(api, sock, spelling):
    await make_class(api, "Item")
    _, obj = await api.post("/classes/Item", {"a": 1, "b": 2, "ACL": {"*": {"read": True}}}, master=True)
    await sock.subscribe("Item", {}, **spelling)
    _, upd = await api.put(f"/classes/Item/{obj['objectId']}", {"a": 5, "b": 6}, master=True)
    ev = await sock.event()
    base = {"objectId": obj["objectId"], "createdAt": obj["createdAt"], "ACL": {"*": {"read": True}},
            "className": "Item"}
    assert ev["object"] == {**base, "a": 5, "updatedAt": upd["updatedAt"]}
    assert ev["original"] == {**base, "a": 1, "updatedAt": obj["createdAt"]}


async def test_watch_sends_update_only_when_a_watched_field_changes(api, sock):
    await make_class(api, "Item")
    _, obj = await api.post("/classes/Item", {"a": 1, "b": 1, "on": True}, master=True)
    oid = obj["objectId"]
    await sock.subscribe("Item", {"on": True}, watch=["a"])
    await api.put(f"/classes/Item/{oid}", {"b": 2}, master=True)
    await sock.nothing_pending()
    await api.put(f"/classes/Item/{oid}", {"a": 2}, master=True)
    ev = await sock.event()
    assert ev["op"] == "update" and ev["object"]["a"] == 2
    # leave and enter are never filtered by watch
    await api.put(f"/classes/Item/{oid}", {"on": False}, master=True)
    assert (await sock.event())["op"] == "leave"
    await api.put(f"/classes/Item/{oid}", {"on": True}, master=True)
    assert (await sock.event())["op"] == "enter"


async def test_watch_suppresses_a_create_without_the_watched_field(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {}, watch=["a"])
    await api.post("/classes/Item", {"b": 1}, master=True)
    await sock.nothing_pending()
    _, obj = await api.post("/classes/Item", {"a": 1}, master=True)
    ev = await sock.event()
    assert ev["op"] == "create" and ev["object"]["objectId"] == obj["objectId"]


# ------------------------------------------------------------------ constraints

GEO_SF = {"__type": "GeoPoint", "latitude": 37.77, "longitude": -122.42}
GEO_NY = {"__type": "GeoPoint", "latitude": 40.71, "longitude": -74.0}
ALICE = {"__type": "Pointer", "className": "_User", "objectId": "alice00001"}
BOB = {"__type": "Pointer", "className": "_User", "objectId": "bob0000001"}

CONSTRAINTS = [
    ("equality", {"s": "x"}, {"s": "x"}, {"s": "y"}),
    ("array contains", {"tags": "red"}, {"tags": ["blue", "red"]}, {"tags": ["blue"]}),
    ("$eq", {"n": {"$eq": 3}}, {"n": 3}, {"n": 4}),
    ("$ne", {"s": {"$ne": "x"}}, {"s": "y"}, {"s": "x"}),
    ("$lt/$gte", {"n": {"$gte": 2, "$lt": 5}}, {"n": 4}, {"n": 5}),
    ("$lte/$gt", {"n": {"$gt": 2, "$lte": 5}}, {"n": 5}, {"n": 2}),
    ("$in", {"s": {"$in": ["a", "b"]}}, {"s": "b"}, {"s": "c"}),
    ("$nin", {"s": {"$nin": ["a", "b"]}}, {"s": "c"}, {"s": "a"}),
    ("$all", {"tags": {"$all": ["a", "b"]}}, {"tags": ["a", "b", "c"]}, {"tags": ["a"]}),
    ("$containedBy", {"tags": {"$containedBy": ["a", "b"]}}, {"tags": ["a"]}, {"tags": ["a", "z"]}),
    ("$exists true", {"opt": {"$exists": True}}, {"opt": 1}, {"other": 1}),
    ("$exists false", {"opt": {"$exists": False}}, {"other": 1}, {"opt": 1}),
    ("$regex", {"s": {"$regex": "^ab", "$options": "i"}}, {"s": "ABc"}, {"s": "cab"}),
    ("startsWith quoting", {"s": {"$regex": "^\\Qa.b\\E"}}, {"s": "a.bc"}, {"s": "axbc"}),
    ("pointer", {"owner": ALICE}, {"owner": ALICE}, {"owner": BOB}),
    ("pointer $in", {"owner": {"$in": [ALICE]}}, {"owner": ALICE}, {"owner": BOB}),
    ("dot notation", {"meta.size": {"$gt": 10}}, {"meta": {"size": 11}}, {"meta": {"size": 9}}),
    ("date", {"when": {"$gt": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}}},
     {"when": {"__type": "Date", "iso": "2024-06-01T00:00:00.000Z"}},
     {"when": {"__type": "Date", "iso": "2023-06-01T00:00:00.000Z"}}),
    ("$or", {"$or": [{"s": "a"}, {"n": 1}]}, {"s": "b", "n": 1}, {"s": "b", "n": 2}),
    ("$and", {"$and": [{"n": {"$gt": 1}}, {"n": {"$lt": 3}}]}, {"n": 2}, {"n": 3}),
    ("$nor", {"$nor": [{"s": "a"}, {"s": "b"}]}, {"s": "c"}, {"s": "a"}),
    ("$nearSphere", {"geo": {"$nearSphere": GEO_SF, "$maxDistanceInKilometers": 50}}, {"geo": GEO_SF},
     {"geo": GEO_NY}),
    ("$within $box", {"geo": {"$within": {"$box": [{"__type": "GeoPoint", "latitude": 37, "longitude": -123},
                                                   {"__type": "GeoPoint", "latitude": 38, "longitude": -122}]}}},
     {"geo": GEO_SF}, {"geo": GEO_NY}),
    ("$geoWithin $polygon", {"geo": {"$geoWithin": {"$polygon": [
        {"__type": "GeoPoint", "latitude": 37, "longitude": -123},
        {"__type": "GeoPoint", "latitude": 38, "longitude": -123},
        {"__type": "GeoPoint", "latitude": 38, "longitude": -122}, {"__type": "GeoPoint", "latitude": 37, "longitude": -122}]}}},
     {"geo": GEO_SF}, {"geo": GEO_NY}),
    ("$centerSphere", {"geo": {"$geoWithin": {"$centerSphere": [[-122.42, 37.77], 0.01]}}}, {"geo": GEO_SF},
     {"geo": GEO_NY}),
    ("objectId $in", {"objectId": {"$in": ["nope"]}}, None, {"s": "x"}),
]


@pytest.mark.parametrize("where,hit,miss", [c[1:] for c in CONSTRAINTS], ids=[c[0] for c in CONSTRAINTS])
async def test_each_kind_of_constraint(api, sock, where, hit, miss):
    await make_class(api, "Shape")
    await sock.subscribe("Shape", where)
    await api.post("/classes/Shape", miss, master=True)
    if hit is not None:
        _, obj = await api.post("/classes/Shape", hit, master=True)
        ev = await sock.event()
        assert ev["op"] == "create" and ev["object"]["objectId"] == obj["objectId"]
    await sock.nothing_pending()


async def test_object_id_subscription_follows_one_object(api, sock):
    await make_class(api, "Item")
    _, one = await api.post("/classes/Item", {"n": 1}, master=True)
    _, two = await api.post("/classes/Item", {"n": 1}, master=True)
    await sock.subscribe("Item", {"objectId": one["objectId"]})
    await api.put(f"/classes/Item/{two['objectId']}", {"n": 2}, master=True)
    await sock.nothing_pending()
    await api.put(f"/classes/Item/{one['objectId']}", {"n": 2}, master=True)
    ev = await sock.event()
    assert ev["op"] == "update" and ev["object"]["objectId"] == one["objectId"]


async def test_equality_index_still_sees_array_and_pointer_by_id_matches(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {"tag": "hot"}, request_id=1)
    await sock.subscribe("Item", {"owner": "alice00001"}, request_id=2)
    await api.post("/classes/Item", {"tag": ["cold", "hot"]}, master=True)
    assert (await sock.event())["requestId"] == 1
    await api.post("/classes/Item", {"owner": ALICE}, master=True)
    assert (await sock.event())["requestId"] == 2
    await sock.nothing_pending()


@pytest.mark.parametrize("where,code", [
    ({"p": {"$inQuery": {"className": "X", "where": {}}}}, 102),
    ({"p": {"$notInQuery": {"className": "X", "where": {}}}}, 102),
    ({"p": {"$select": {"query": {"className": "X", "where": {}}, "key": "k"}}}, 102),
    ({"p": {"$dontSelect": {"query": {"className": "X", "where": {}}, "key": "k"}}}, 102),
    ({"$relatedTo": {"object": {"__type": "Pointer", "className": "X", "objectId": "a"}, "key": "k"}}, 102),
    ({"s": {"$regex": "(unclosed"}}, 102),
    ({"s": {"$bogus": 1}}, 107),
    ({"$or": {"0": {"a": 1}}}, 102),
    ({"bad-key!": 1}, 105),
])
async def test_where_that_cannot_be_decided_or_is_malformed_is_refused(api, sock, where, code):
    reply = await sock.subscribe("Item", where, request_id=9, expect="error")
    assert reply["code"] == code and reply["requestId"] == 9 and reply["reconnect"] is False
    assert isinstance(reply["error"], str) and reply["error"]
    assert live(api).stats()["subscriptions"] == 0
    await sock.subscribe("Item", {}, request_id=10)  # still usable


async def test_in_query_error_names_the_operator(api, sock):
    reply = await sock.subscribe("Item", {"p": {"$inQuery": {"className": "X", "where": {}}}}, expect="error")
    assert "$inQuery" in reply["error"]


async def test_constraint_on_a_relation_field_is_refused(api, sock):
    await make_class(api, "Item", rel={"__op": "AddRelation", "objects": [ALICE]})
    reply = await sock.subscribe("Item", {"rel": ALICE}, expect="error")
    assert reply["code"] == 102 and "rel" in reply["error"]


async def test_catastrophic_regex_ends_the_subscription_not_the_server(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {"s": {"$regex": "^(a|a)+$"}}, request_id=4)
    await sock.subscribe("Item", {}, request_id=5)
    status, obj = await api.post("/classes/Item", {"s": "a" * 40 + "!"}, master=True)
    assert status == 201
    frames = [await sock.event(), await sock.recv()]
    error = next(f for f in frames if f["op"] == "error")
    assert error["code"] == 102 and error["requestId"] == 4 and "Regex timeout" in error["error"]
    assert next(f for f in frames if f["op"] == "create")["object"]["objectId"] == obj["objectId"]
    assert live(api).stats()["subscriptions"] == 1
    await api.post("/classes/Item", {"s": "a" * 40 + "!"}, master=True)
    assert (await sock.event())["requestId"] == 5
    await sock.nothing_pending()


# ------------------------------------------------------------------ write paths

async def test_batch_and_in_process_engine_writes_publish(api, sock):
    await make_class(api, "Item")
    await sock.subscribe("Item", {})
    status, body = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Item", "body": {"n": 1}},
        {"method": "POST", "path": "/parse/classes/Item", "body": {"n": 2}},
    ]}, master=True)
    assert status == 200, body
    first, second = await sock.event(), await sock.recv()
    # A batch runs its requests concurrently (as Parse Server): either may commit first.
    assert sorted([first["object"]["n"], second["object"]["n"]]) == [1, 2]
    created = await api.engine.create("Item", {"n": 3}, Auth.as_master())
    ev = await sock.event()
    assert ev["op"] == "create" and ev["object"]["objectId"] == created["objectId"]


async def test_events_are_delivered_in_commit_order(api, sock):
    await make_class(api, "Item")
    _, obj = await api.post("/classes/Item", {"n": 0}, master=True)
    await sock.subscribe("Item", {})
    for i in range(1, 21):
        await api.put(f"/classes/Item/{obj['objectId']}", {"n": i}, master=True)
    seen = [(await sock.event())["object"]["n"] for _ in range(20)]
    assert seen == list(range(1, 21))


async def test_live_query_classes_setting_restricts_events(api, sock):
    from bapp.livequery.hub import ClassFilter

    api.engine.hub.is_live = ClassFilter(["Live.*"])
    await make_class(api, "LiveItem")
    await make_class(api, "Dead")
    await sock.subscribe("LiveItem", {}, request_id=1)
    await sock.subscribe("Dead", {}, request_id=2)  # accepted, as Parse does, but silent
    await api.post("/classes/Dead", {"n": 1}, master=True)
    await api.post("/classes/LiveItem", {"n": 1}, master=True)
    assert (await sock.event())["requestId"] == 1
    await sock.nothing_pending()


# ------------------------------------------------------------------ bad messages

@pytest.mark.parametrize("message,code,request_id", [
    ("not json", 1, None),
    ("[1, 2]", 1, None),
    ('{"no": "op"}', 1, None),
    ({"op": "fly"}, 1, None),
    ({"op": "fly", "requestId": 3}, 1, 3),
    ({"op": "subscribe", "query": {"className": "A", "where": {}}}, 1, None),
    ({"op": "subscribe", "requestId": "1", "query": {"className": "A", "where": {}}}, 1, None),
    ({"op": "subscribe", "requestId": True, "query": {"className": "A", "where": {}}}, 1, None),
    ({"op": "subscribe", "requestId": 2, "query": {"where": {}}}, 1, 2),
    ({"op": "subscribe", "requestId": 2, "query": {"className": "A", "where": []}}, 1, 2),
    ({"op": "subscribe", "requestId": 2, "query": {"className": "A", "keys": [1]}}, 1, 2),
    ({"op": "subscribe", "requestId": 2, "query": {"className": "A"}, "sessionToken": 5}, 1, 2),
    ({"op": "subscribe", "requestId": 2, "query": {"className": "Bad Name!", "where": {}}}, 103, 2),
    ({"op": "unsubscribe"}, 1, None),
    ({"op": "connect"}, 1, None),
    ({"op": "connect", "applicationId": "wrong"}, 4, None),
])
async def test_bad_messages_get_an_error_and_the_connection_stays_usable(api, sock, message, code, request_id):
    await sock.send(message)
    reply = await sock.recv()
    assert reply["op"] == "error" and reply["code"] == code, reply
    assert reply["requestId"] == request_id
    assert set(reply) == {"op", "error", "code", "reconnect", "requestId"}
    await sock.subscribe("Item", {}, request_id=77)


async def test_binary_frames_are_read_as_text(api):
    sock = await LiveSocket.open(api)
    await sock.send(json.dumps({"op": "connect", "applicationId": APP_ID}).encode())
    assert (await sock.recv())["op"] == "connected"
    await sock.send(b"\xff\xfe")
    assert (await sock.recv())["code"] == 1
    await sock.close()


async def test_subscribe_before_connect_is_code_2_with_reconnect(api):
    sock = await LiveSocket.open(api)
    await sock.send({"op": "subscribe", "requestId": 1, "query": {"className": "A", "where": {}}})
    reply = await sock.recv()
    assert reply == {"op": "error", "error": reply["error"], "code": 2, "reconnect": True, "requestId": None}
    await sock.send({"op": "unsubscribe", "requestId": 1})
    assert (await sock.recv())["code"] == 2
    assert (await sock.connect())["op"] == "connected"
    await sock.close()


async def test_client_key_must_match_when_configured(api):
    api.engine.settings.javascript_key = "js-key"
    sock = await LiveSocket.open(api)
    reply = await sock.connect(javascriptKey="wrong")
    assert reply == {"op": "error", "error": "Key in request is not valid", "code": 4, "reconnect": False,
                     "requestId": None}
    assert (await sock.connect(javascriptKey="js-key"))["op"] == "connected"
    await sock.close()


async def test_second_connect_starts_a_new_client(api, sock):
    await sock.subscribe("Item", {})
    first = sock.client_id
    reply = await sock.connect()
    assert reply["clientId"] != first
    assert live(api).stats()["subscriptions"] == 0


# ------------------------------------------------------------------ connections

async def test_disconnect_removes_subscriptions(api):
    sock = await LiveSocket.connected(api)
    await sock.subscribe("Item", {"a": 1}, request_id=1)
    await sock.subscribe("Other", {}, request_id=2)
    assert live(api).stats()["subscriptions"] == 2
    await sock.close()
    for _ in range(100):
        if live(api).stats() == {"sockets": 0, "queries": 0, "subscriptions": 0}:
            break
        await asyncio.sleep(0.01)
    assert live(api).stats() == {"sockets": 0, "queries": 0, "subscriptions": 0}
    assert not api.engine.hub._wanted("Item")


async def test_server_pings_and_drops_a_peer_that_never_pongs(api):
    server = live(api)
    server.heartbeat = 0.2
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url(api), autoping=False) as ws:
            await ws.send_json({"op": "connect", "applicationId": APP_ID})
            assert (await ws.receive_json(timeout=TIMEOUT))["op"] == "connected"
            await ws.send_json({"op": "subscribe", "requestId": 1, "query": {"className": "A", "where": {}}})
            assert (await ws.receive_json(timeout=TIMEOUT))["op"] == "subscribed"
            msg = await ws.receive(timeout=TIMEOUT)
            assert msg.type == aiohttp.WSMsgType.PING
            while msg.type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                msg = await ws.receive(timeout=TIMEOUT)
    for _ in range(200):
        if server.stats()["subscriptions"] == 0:
            break
        await asyncio.sleep(0.01)
    assert server.stats()["subscriptions"] == 0


async def test_a_client_that_never_reads_blocks_neither_writes_nor_others(api):
    await make_class(api, "Item")
    sleeper = await LiveSocket.connected(api, {"close_timeout": 0.5})  # it cannot read the close reply
    await sleeper.subscribe("Item", {})
    reader = await LiveSocket.connected(api)
    await reader.subscribe("Item", {})
    payload = "x" * 200_000  # 100 of these (20 MB) exceed what the sockets can buffer
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(100):
        status, _ = await api.post("/classes/Item", {"i": i, "pad": payload}, master=True)
        assert status == 201
        assert (await reader.event())["object"]["i"] == i
    assert loop.time() - started < 30
    stuck = next(c for c in live(api).sockets if c.id == sleeper.client_id)
    assert stuck.queue.qsize() > 0 and not stuck.closed  # its sender waits on the socket, nobody else does
    await reader.close()
    await sleeper.close()


async def test_a_client_too_far_behind_is_disconnected_with_1013(api):
    await make_class(api, "Item")
    live(api).queue_size = 5  # for the next connection only
    sleeper = await LiveSocket.connected(api)
    await sleeper.subscribe("Item", {})
    live(api).queue_size = 1000
    reader = await LiveSocket.connected(api)
    await reader.subscribe("Item", {})
    payload = "x" * 200_000  # fills the socket buffers, then the 5-frame queue
    writes = 0
    while not any(c.overflowed for c in live(api).sockets) and writes < 300:
        await api.post("/classes/Item", {"i": writes, "pad": payload}, master=True)
        assert (await reader.event())["object"]["i"] == writes
        writes += 1
    assert writes < 300
    received = 0
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await sleeper.recv()
            received += 1
    assert info.value.rcvd.code == 1013 and info.value.rcvd.reason == "event queue overflow"
    assert 0 < received < writes
    assert live(api).stats()["subscriptions"] == 1
    await reader.close()


async def test_shutdown_closes_sockets_with_going_away(api):
    sock = await LiveSocket.connected(api)
    await live(api).shutdown()
    with pytest.raises(websockets.ConnectionClosed) as info:
        await sock.recv()
    assert info.value.rcvd.code == 1001


async def test_query_op_returns_current_results(api, sock):
    await make_class(api, "Item")
    _, one = await api.post("/classes/Item", {"n": 1, "k": "x", "ACL": {"*": {"read": True}}}, master=True)
    await api.post("/classes/Item", {"n": 2}, master=True)
    await sock.subscribe("Item", {"n": 1}, request_id=4, keys=["n"])
    await sock.send({"op": "query", "requestId": 4})
    reply = await sock.recv()
    assert reply["op"] == "result" and reply["requestId"] == 4
    assert reply["results"] == [{"objectId": one["objectId"], "n": 1, "createdAt": one["createdAt"],
                                 "updatedAt": one["createdAt"], "ACL": {"*": {"read": True}},
                                 "className": "Item"}]


async def test_unknown_installation_ids_are_echoed_verbatim(api):
    inst = str(uuid.uuid4())
    sock = await LiveSocket.connected(api, installationId=inst)
    reply = await sock.subscribe("Item", {})
    assert reply["installationId"] == inst
    await sock.close()


async def test_unknown_query_property_is_parse_servers_schema_error(api, sock):
    # The JS SDK reconnects and resubscribes on exactly this answer.
    await make_class(api, "Thing")
    await sock.send({"op": "subscribe", "requestId": 1,
                     "query": {"className": "Thing", "where": {}, "keys": ["a"], "unknownField": 1}})
    assert await sock.recv() == {"op": "error", "error": "Additional properties not allowed", "code": 1,
                                 "reconnect": True, "requestId": None}
    # The connection stays usable; known properties (and the pre-7 ``fields``) are accepted.
    reply = await sock.subscribe("Thing", {}, 2, fields=["a"], watch=["a"])
    assert reply["requestId"] == 2
