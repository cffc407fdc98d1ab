"""Focused unit tests of the LiveQuery pieces: message parsing, the event
decision table, watch, the subscription index, the hub and client queues."""

from __future__ import annotations

import asyncio
import json

import pytest

from bapp.livequery import events, protocol
from bapp.livequery.hub import ClassFilter, InProcessHub
from bapp.livequery.protocol import ProtocolError
from bapp.livequery.subscriptions import QueryRecord, SubscriptionIndex, object_keys, pick_index, where_key
from bapp.model.matcher import compile_where

# ------------------------------------------------------------------ protocol


def test_parse_subscribe_accepts_old_and_new_spellings():
    msg = protocol.parse({"op": "subscribe", "requestId": 2, "sessionToken": None, "extra": 1,
                          "query": {"className": "A", "where": {"a": 1}, "fields": "x, y,x", "watch": ["w"]}})
    assert msg == protocol.Subscribe("subscribe", 2, "A", {"a": 1}, ["x", "y"], ["w"], None)
    msg = protocol.parse({"op": "update", "requestId": 1.5, "query": {"className": "A"}})
    assert (msg.op, msg.request_id, msg.where, msg.keys) == ("update", 1.5, {}, None)


def test_parse_connect_keeps_known_keys_only():
    msg = protocol.parse({"op": "connect", "applicationId": "app", "javascriptKey": "js", "masterKey": "m",
                          "sessionToken": "r:1", "installationId": "i", "other": "x"})
    assert msg == protocol.Connect("app", {"javascriptKey": "js", "masterKey": "m"}, "r:1", "i")


@pytest.mark.parametrize("data,code,message", [
    ({}, 1, "Missing required property: op"),
    ({"op": 5}, 1, "Missing required property: op"),
    ({"op": "nope"}, 1, "Unknown op: nope"),
    ({"op": "connect", "applicationId": 1}, 1, "Missing required property: applicationId"),
    ({"op": "connect", "applicationId": "a", "sessionToken": 3}, 1, "Invalid type for sessionToken: expected a string"),
    ({"op": "subscribe", "requestId": float("inf"), "query": {}}, 1, "Invalid type for requestId: expected a number"),
    ({"op": "subscribe", "requestId": 1}, 1, "Missing required property: query"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": ""}}, 1, "Missing required property: query.className"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": "A", "watch": {}}}, 1,
     "Invalid type for query.watch: expected an array of strings"),
])
def test_parse_errors(data, code, message):
    with pytest.raises(ProtocolError) as info:
        protocol.parse(data)
    assert (info.value.code, info.value.message, info.value.reconnect) == (code, message, False)


def test_decode_refuses_non_objects():
    for raw in ("", "nul", "3", '"s"', b"\x00"):
        with pytest.raises(ProtocolError):
            protocol.decode(raw)


def test_frames_are_compact_json_in_parse_order():
    head = protocol.client_head("c1", None)
    assert protocol.frame("subscribed", head, 3) == '{"op":"subscribed","clientId":"c1","requestId":3}'
    text = protocol.event_frame("update", protocol.client_head("c1", "i"), 3, '{"a":1}', '{"a":0}')
    assert json.loads(text) == {"op": "update", "clientId": "c1", "installationId": "i", "requestId": 3,
                                "object": {"a": 1}, "original": {"a": 0}}
    assert json.loads(protocol.error_frame(2, "x", True)) == {"op": "error", "error": "x", "code": 2,
                                                             "reconnect": True, "requestId": None}


def test_client_head_escapes_values():
    head = protocol.client_head('a"b', "c\\d")
    assert json.loads("{" + head + "}") == {"clientId": 'a"b', "installationId": "c\\d"}


# ------------------------------------------------------------------ events

OBJ = {"objectId": "o"}


@pytest.mark.parametrize("original,current,before,after,expected", [
    (None, OBJ, False, True, "create"),
    (None, OBJ, False, False, None),
    (OBJ, OBJ, True, True, "update"),
    (OBJ, OBJ, True, False, "leave"),
    (OBJ, OBJ, False, True, "enter"),
    (OBJ, OBJ, False, False, None),
    (OBJ, None, True, False, "delete"),
    (OBJ, None, False, False, None),
])
def test_decide(original, current, before, after, expected):
    assert events.decide(original, current, before, after) == expected


@pytest.mark.parametrize("original,current,changed", [
    ({"w": 1}, {"w": 1}, False),
    ({"w": 1}, {"w": 1.0}, False),
    ({"w": 1}, {"w": True}, True),
    ({"w": [1, {"a": 2}]}, {"w": [1, {"a": 2}]}, False),
    ({"w": [1, {"a": 2}]}, {"w": [1, {"a": 3}]}, True),
    ({"w": {"a": 1}}, {"w": {"a": 1, "b": 2}}, True),
    ({}, {"w": None}, True),
    ({"w": 1}, {}, True),
    ({}, {}, False),
    (None, {"w": 1}, True),
    (None, {"x": 1}, False),
])
def test_watched_changed(original, current, changed):
    assert events.watched_changed(("w",), original, current) is changed


def test_no_watch_always_changed():
    assert events.watched_changed(None, {"a": 1}, {"a": 1})


# ------------------------------------------------------------------ index

def test_where_and_object_keys():
    assert where_key("x") == ("s", "x") and where_key({"$eq": 2}) == ("n", 2.0)
    assert where_key(True) == ("b", True) and where_key({"$gt": 1}) is None
    assert where_key({"__type": "Pointer", "className": "U", "objectId": "p"}) == ("s", "p")
    assert object_keys(["a", 1, {"__type": "Pointer", "className": "U", "objectId": "p"}]) == [
        ("s", "a"), ("n", 1.0), ("s", "p")]
    assert object_keys({"__type": "Date", "iso": "x"}) is None
    assert object_keys([["nested"]]) is None


def test_pick_index_prefers_object_id_and_skips_dates_and_dots():
    assert pick_index({"b": 1, "objectId": "o"}, {}) == ("objectId", ("s", "o"))
    assert pick_index({"createdAt": "x", "a.b": 1, "c": {"$gt": 1}}, {}) is None
    assert pick_index({"r": "x"}, {"r": {"type": "Relation"}}) is None


def _record(index: SubscriptionIndex, where: dict) -> QueryRecord:
    rec = index.record_for("C", where, lambda key: QueryRecord("C", key, where, compile_where(where), "find",
                                                                pick_index(where, {})))
    rec.subscriptions[(str(id(rec)), 1)] = object()  # a stand-in subscriber
    return rec


def test_index_only_returns_records_that_could_match():
    index = SubscriptionIndex()
    red = _record(index, {"color": "red"})
    blue = _record(index, {"color": "blue"})
    scan = _record(index, {"n": {"$gt": 1}})
    one = _record(index, {"objectId": "o1"})
    assert set(map(id, index.candidates("C", None, {"color": "red"}))) == {id(red), id(scan)}
    assert set(map(id, index.candidates("C", {"color": "red"}, {"color": "blue"}))) == {id(red), id(blue), id(scan)}
    assert set(map(id, index.candidates("C", None, {"color": ["blue", "x"], "objectId": "o1"}))) == {
        id(blue), id(scan), id(one)}
    # a value the index cannot key (a Date here) makes every record on that field a candidate
    got = index.candidates("C", None, {"color": {"__type": "Date", "iso": "2020-01-01T00:00:00Z"}})
    assert {id(red), id(blue)} <= set(map(id, got))
    assert index.candidates("Other", None, {"color": "red"}) == []


def test_records_are_shared_and_removed_with_their_last_subscriber():
    from types import SimpleNamespace

    from bapp.livequery.subscriptions import Subscription

    index = SubscriptionIndex()
    where = {"a": 1}
    make = lambda key: QueryRecord("C", key, where, compile_where(where), "find", pick_index(where, {}))  # noqa: E731
    rec = index.record_for("C", where, make)
    assert index.record_for("C", {"a": 1}, make) is rec
    subs = [Subscription(SimpleNamespace(id=f"c{i}"), 1, rec, None, None, None) for i in range(2)]
    for s in subs:
        index.add(s)
    assert index.counts() == (1, 2) and index.has_class("C")
    index.remove(subs[0])
    assert index.counts() == (1, 1)
    index.remove(subs[1])
    assert index.counts() == (0, 0) and not index.has_class("C")


def test_class_filter():
    assert ClassFilter(None)("Anything")
    f = ClassFilter(["Chat", "Live.*", "("])
    assert f("Chat") and f("LiveItem") and f("(") and not f("Chatter") and not f("MyLive")


# ------------------------------------------------------------------ hub

async def test_hub_delivers_in_order_and_survives_a_failing_handler():
    hub = InProcessHub()
    seen: list = []

    async def bad(class_name, original, current):
        raise RuntimeError("boom")

    async def good(class_name, original, current):
        seen.append((class_name, current["n"]))

    hub.attach(bad)
    hub.attach(good)
    for i in range(5):
        await hub.publish("A", None, {"n": i})
    await hub.drain()
    assert seen == [("A", i) for i in range(5)]
    await hub.close()
    await hub.publish("A", None, {"n": 9})
    assert len(seen) == 5


async def test_hub_snapshots_events_and_skips_uninteresting_classes():
    hub = InProcessHub(live_classes=["A"])
    seen: list = []

    async def handler(class_name, original, current):
        seen.append(current)

    hub.attach(handler, interested=lambda name: name != "Quiet")
    obj = {"n": 1, "nested": {"x": 1}}
    await hub.publish("A", None, obj)
    obj["nested"]["x"] = 2  # a later afterSave hook mutating the object
    await hub.publish("B", None, obj)  # not a live class
    await hub.publish("Quiet", None, obj)
    await hub.drain()
    assert seen == [{"n": 1, "nested": {"x": 1}}]
    assert hub.published == 1
    await hub.close()


async def test_hub_publish_applies_backpressure_only_when_full():
    hub = InProcessHub(queue_size=2)
    gate = asyncio.Event()
    seen: list = []

    async def slow(class_name, original, current):
        await gate.wait()
        seen.append(current["n"])

    hub.attach(slow)
    for i in range(3):  # one in the handler, two queued
        await asyncio.wait_for(hub.publish("A", None, {"n": i}), 1)
    await asyncio.sleep(0)
    blocked = asyncio.ensure_future(hub.publish("A", None, {"n": 3}))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    gate.set()
    await asyncio.wait_for(blocked, 1)
    await hub.drain()
    assert seen == [0, 1, 2, 3]
    await hub.close()


# ------------------------------------------------------------------ client queue

class _StuckSocket:
    """A websocket whose peer never reads: every send waits forever."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: tuple | None = None

    async def send_str(self, data: str) -> None:
        self.sent.append(data)
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, message: bytes = b"") -> bool:
        self.closed_with = (code, message)
        return True


class _Request:
    remote = "127.0.0.1"
    transport = None


async def test_client_queue_overflow_disconnects_without_blocking():
    from bapp.livequery.client import LiveClient

    ws = _StuckSocket()
    client = LiveClient(ws, _Request(), queue_size=3)
    assert client.send("f0")
    await asyncio.sleep(0.01)
    assert ws.sent == ["f0"]  # the sender is stuck on it
    results = [client.send(f"f{i}") for i in range(1, 6)]  # never awaits
    assert results == [True, True, True, False, False]
    assert client.overflowed and client.closed
    await asyncio.sleep(0.01)
    assert ws.closed_with == (1013, b"event queue overflow")
    assert client.send("late") is False
    await client.finish()
