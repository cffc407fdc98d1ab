"""LiveQuery cloud hooks (Parse's beforeConnect, beforeSubscribe and
afterLiveQueryEvent) over a real websocket, with cloud code loaded from a
file. Hooks report what they saw through their error message or the event
object, so every assertion is on a frame a client receives."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time

import pytest
from conftest import make_settings
from test_livequery import LiveSocket, drain, make_class
from test_livequery_security import set_clp

from bapp.core.triggers import Registry

CLOUD = '''
import asyncio
import json

from bapp import cloud


@cloud.before_connect
def gate(req):
    if req.installation_id == "banned":
        raise cloud.Error(cloud.Error.OPERATION_FORBIDDEN, "no entry")
    if req.installation_id == "crash":
        raise ValueError("connect hook broke")
    if req.installation_id == "echo":
        raise cloud.Error(1000, json.dumps({
            "user": (req.user or {}).get("username"), "token": (req.user or {}).get("sessionToken"),
            "installation_id": req.installation_id, "keys": req.keys, "client_key": req.client_key,
            "master": req.master, "event": req.event, "trigger": req.trigger_name,
            "header": req.headers.get("X-Probe"), "clients": req.clients,
        }))


@cloud.before_subscribe("Note")
def note_subscribe(req):
    where = req.query["where"]
    if where.get("mode") == "refuse":
        raise cloud.Error(1001, "not this one")
    if where.get("mode") == "crash":
        raise RuntimeError("subscribe hook broke")
    if where.get("mode") == "bad":
        req.query["where"] = {"n": {"$bogus": 1}}
        return
    if where.get("mode") == "echo":
        raise cloud.Error(1002, json.dumps({"user": (req.user or {}).get("username"), "query": req.query,
                                            "request_id": req.request_id}))
    if where.get("mode") == "narrow":
        req.query["where"] = {"visible": True}
        req.query["keys"] = ["title"]


@cloud.before_subscribe("Members", validator={"require_user": True})
def members_subscribe(req):
    pass


@cloud.after_live_query_event("Post")
async def post_event(req):
    obj = req.object
    if obj.get("drop"):
        req.send_event = False
        return
    if obj.get("fail") == "plain":
        raise ValueError("event hook broke")
    if obj.get("fail") == "coded":
        raise cloud.Error(1003, "coded failure")
    if obj.get("slow") and req.user is None:
        await asyncio.sleep(3)
    obj["secret"] = "re-added by the hook"
    obj["decorated"] = True
    obj["seen"] = {"event": req.event, "user": (req.user or {}).get("username"),
                   "original": (req.original or {}).get("n"), "request_id": req.request_id,
                   "client_id": req.client_id, "send_event": req.send_event, "trigger": req.trigger_name}
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path))


def _error(code: int, message: str, request_id: int | None = None) -> dict:
    return {"op": "error", "error": message, "code": code, "reconnect": False, "requestId": request_id}


# ------------------------------------------------------------------ registry

def test_live_query_triggers_are_keyed_like_the_others():
    from bapp import cloud

    reg = Registry()
    with cloud.registering(reg):
        cloud.before_connect(lambda req: None)
        cloud.before_subscribe("User")(lambda req: None)
        cloud.after_live_query_event("Post")(lambda req: None)
    assert set(reg.triggers) == {("beforeConnect", "@Connect"), ("beforeSubscribe", "_User"), ("afterEvent", "Post")}


def test_before_subscribe_on_session_is_refused_at_registration():
    from bapp import cloud

    with cloud.registering(Registry()), pytest.raises(ValueError, match="Only the afterLogout trigger"):
        cloud.before_subscribe("_Session")(lambda req: None)


# ------------------------------------------------------------------ beforeConnect

async def test_before_connect_error_refuses_with_its_code(api):
    sock = await LiveSocket.open(api)
    assert await sock.connect(installationId="banned") == _error(119, "no entry")
    # Not connected: a subscribe is answered as from an unknown client.
    await sock.send({"op": "subscribe", "requestId": 1, "query": {"className": "Note", "where": {}}})
    reply = await sock.recv()
    assert (reply["code"], reply["requestId"]) == (2, None)
    await sock.close()


async def test_before_connect_plain_exception_is_141(api):
    sock = await LiveSocket.open(api)
    assert await sock.connect(installationId="crash") == _error(141, "connect hook broke")
    await sock.close()


async def test_before_connect_request_carries_user_keys_and_headers(api):
    alice = await api.signup("alice")
    await LiveSocket.connected(api)  # one client already connected
    sock = await LiveSocket.open(api, additional_headers={"X-Probe": "p1"})
    reply = await sock.connect(installationId="echo", sessionToken=alice["sessionToken"], clientKey="ck",
                               masterKey="not-the-key")
    assert reply["code"] == 1000
    assert json.loads(reply["error"]) == {
        "user": "alice", "token": alice["sessionToken"], "installation_id": "echo", "keys": {"clientKey": "ck"},
        "client_key": "ck", "master": False, "event": "connect", "trigger": "beforeConnect", "header": "p1",
        "clients": 1,
    }
    await sock.close()


async def test_before_connect_with_a_bad_token_sees_no_user(api):
    sock = await LiveSocket.open(api)
    reply = await sock.connect(installationId="echo", sessionToken="r:nope")
    seen = json.loads(reply["error"])
    assert (seen["user"], seen["token"]) == (None, None)
    await sock.close()


async def test_before_connect_that_returns_lets_the_client_in(api):
    sock = await LiveSocket.open(api)
    reply = await sock.connect(installationId="fine")
    assert reply["op"] == "connected" and reply["installationId"] == "fine"
    await sock.close()


# ------------------------------------------------------------------ beforeSubscribe

async def test_before_subscribe_error_refuses_with_request_id(api):
    sock = await LiveSocket.connected(api)
    assert await sock.subscribe("Note", {"mode": "refuse"}, request_id=5, expect="error") == \
        _error(1001, "not this one", 5)
    await sock.subscribe("Note", {"mode": "ok"}, request_id=5)  # the requestId is free again
    await sock.close()


async def test_before_subscribe_plain_exception_is_141(api):
    sock = await LiveSocket.connected(api)
    assert await sock.subscribe("Note", {"mode": "crash"}, request_id=3, expect="error") == \
        _error(141, "subscribe hook broke", 3)
    await sock.close()


async def test_before_subscribe_request_has_query_user_and_request_id(api):
    bob = await api.signup("bob")
    sock = await LiveSocket.connected(api, sessionToken=bob["sessionToken"])
    reply = await sock.subscribe("Note", {"mode": "echo"}, request_id=8, expect="error", keys=["a"], watch=["b"])
    assert reply["code"] == 1002 and reply["requestId"] == 8
    assert json.loads(reply["error"]) == {
        "user": "bob", "request_id": 8,
        "query": {"className": "Note", "where": {"mode": "echo"}, "keys": ["a"], "watch": ["b"]},
    }
    await sock.close()


async def test_before_subscribe_changed_query_is_what_matches(api):
    await make_class(api, "Note", visible=True, title="t", body="b")
    sock = await LiveSocket.connected(api)
    await sock.subscribe("Note", {"mode": "narrow"})
    await api.post("/classes/Note", {"visible": False, "title": "hidden", "body": "x"}, master=True)
    status, shown = await api.post("/classes/Note", {"visible": True, "title": "shown", "body": "y"}, master=True)
    assert status == 201
    ev = await sock.event()  # the hidden note matched nothing; keys came from the hook
    assert ev["op"] == "create"
    assert ev["object"] == {"title": "shown", "objectId": shown["objectId"], "createdAt": shown["createdAt"],
                            "updatedAt": shown["createdAt"], "className": "Note"}
    await sock.nothing_pending()
    await sock.close()


async def test_before_subscribe_changed_query_is_validated(api):
    sock = await LiveSocket.connected(api)
    reply = await sock.subscribe("Note", {"mode": "bad"}, request_id=2, expect="error")
    assert (reply["code"], reply["requestId"], reply["reconnect"]) == (107, 2, False)
    await sock.nothing_pending()
    await sock.close()


async def test_before_subscribe_validator_failure_is_142(api):
    anon = await LiveSocket.connected(api)
    assert await anon.subscribe("Members", {}, request_id=4, expect="error") == \
        _error(142, "Validation failed. Please login to continue.", 4)
    carol = await api.signup("carol")
    await anon.subscribe("Members", {}, request_id=4, sessionToken=carol["sessionToken"])
    await anon.close()


# ------------------------------------------------------------------ afterLiveQueryEvent

async def test_after_event_request_and_changed_object(api):
    await make_class(api, "Post", n=1, secret="s", title="t")
    await set_clp(api, "Post", protectedFields={"*": ["secret"]})
    dave = await api.signup("dave")
    sock = await LiveSocket.connected(api, sessionToken=dave["sessionToken"])
    await sock.subscribe("Post", {}, request_id=6)
    _, created = await api.post("/classes/Post", {"n": 1, "secret": "s", "title": "t"}, master=True)
    ev = await sock.event()
    assert ev["op"] == "create" and ev["requestId"] == 6
    # The hook's changes arrive, but the protected field it re-added is stripped again.
    assert "secret" not in ev["object"] and ev["object"]["decorated"] is True
    assert ev["object"]["seen"] == {"event": "create", "user": "dave", "original": None, "request_id": 6,
                                    "client_id": sock.client_id, "send_event": True, "trigger": "afterEvent"}
    await api.put(f"/classes/Post/{created['objectId']}", {"n": 2}, master=True)
    ev = await sock.event()
    assert ev["op"] == "update" and ev["object"]["seen"]["original"] == 1 and ev["object"]["n"] == 2
    assert ev["original"]["n"] == 1 and "secret" not in ev["original"]
    await api.delete(f"/classes/Post/{created['objectId']}", master=True)
    ev = await sock.event()
    assert ev["op"] == "delete" and "original" not in ev
    assert (ev["object"]["seen"]["event"], ev["object"]["seen"]["original"]) == ("delete", None)
    await sock.close()


async def test_after_event_send_event_false_drops_it(api):
    await make_class(api, "Post", drop=True)
    sock = await LiveSocket.connected(api)
    await sock.subscribe("Post", {})
    await api.post("/classes/Post", {"drop": True}, master=True)
    await sock.nothing_pending()
    await sock.close()


@pytest.mark.parametrize(("fail", "code", "message"), [
    ("plain", 141, "event hook broke"),
    ("coded", 1003, "coded failure"),
])
async def test_after_event_error_is_an_error_frame_not_the_event(api, fail, code, message):
    await make_class(api, "Post", fail="x")
    sock = await LiveSocket.connected(api)
    await sock.subscribe("Post", {}, request_id=9)
    await api.post("/classes/Post", {"fail": fail}, master=True)
    assert await sock.event() == _error(code, message, 9)
    await sock.nothing_pending()
    await sock.close()


async def test_slow_after_event_hook_does_not_hold_up_other_subscribers(api):
    await make_class(api, "Post", slow=True)
    erin = await api.signup("erin")
    slow = await LiveSocket.connected(api)  # anonymous: its hook sleeps
    fast = await LiveSocket.connected(api, sessionToken=erin["sessionToken"])
    await slow.subscribe("Post", {})
    await fast.subscribe("Post", {})
    started = time.monotonic()
    await api.post("/classes/Post", {"slow": True}, master=True)
    await asyncio.wait_for(drain(api), 1.0)  # the matcher is already done
    ev = await fast.recv(timeout=1.0)
    assert ev["op"] == "create" and ev["object"]["seen"]["user"] == "erin"
    assert time.monotonic() - started < 1.5
    ev = await slow.recv(timeout=5.0)  # and the slow one still gets its event
    assert ev["op"] == "create" and ev["object"]["seen"]["user"] is None
    await slow.close()
    await fast.close()


async def test_event_waiting_for_its_hook_is_dropped_after_unsubscribe(api):
    await make_class(api, "Post", slow=True)
    sock = await LiveSocket.connected(api)  # anonymous: its hook sleeps
    await sock.subscribe("Post", {}, request_id=3)
    await api.post("/classes/Post", {"slow": True}, master=True)
    await drain(api)
    await sock.send({"op": "unsubscribe", "requestId": 3})
    reply = await sock.recv(timeout=5.0)  # frames keep their order: the event would come first
    assert reply == {"op": "unsubscribed", "clientId": sock.client_id, "requestId": 3}
    await sock.nothing_pending()
    await sock.close()
