"""Parse Server 9 parity of sign-up, log-in and session edits: the codes
and messages Parse Server answers for credentials of the wrong type,
authData ids that are not strings, objectId in a write body and edits of
a session's server-managed fields."""

from __future__ import annotations

import pytest

from bapp.core.users import js_truthy

INVALID_LOGIN = {"code": 101, "error": "Invalid username/password."}


@pytest.mark.parametrize("credentials", [
    {"username": {"$ne": None}, "password": "pw"},
    {"username": ["alice"], "password": "pw"},
    {"username": 5, "password": "pw"},
    {"username": {}, "password": "pw"},
    {"username": "alice", "password": {"$gt": ""}},
    {"username": "alice", "password": []},
    {"email": {"$regex": "."}, "password": "pw"},
    {"email": 42, "password": "pw"},
])
async def test_login_with_non_string_credentials_matches_nobody(api, credentials):
    await api.signup("alice")
    reply = await api.post("/login", credentials)
    assert (reply.status, reply.body) == (404, INVALID_LOGIN)


@pytest.mark.parametrize(("credentials", "code", "message"), [
    ({"username": 0, "password": "pw"}, 200, "username/email is required."),
    ({"username": "alice", "password": 0}, 201, "password is required."),
    ({"username": "", "password": "pw"}, 200, "username/email is required."),
])
async def test_login_presence_is_javascript_truthiness(api, credentials, code, message):
    reply = await api.post("/login", credentials)
    assert (reply.status, reply.body) == (400, {"code": code, "error": message})


async def test_login_through_the_sdk_envelope(api):
    await api.signup("alice")
    reply = await api.post("/login", {"_method": "GET", "username": {"$ne": None}, "password": "pw"})
    assert (reply.status, reply.body) == (404, INVALID_LOGIN)


@pytest.mark.parametrize(("body", "code", "message"), [
    ({"username": {"$ne": None}, "password": "pw"}, 200, "bad or missing username"),
    ({"username": {"a": 1}, "password": "pw"}, 200, "bad or missing username"),
    ({"username": ["a"], "password": "pw"}, 200, "bad or missing username"),
    ({"username": "ann", "password": {"$gt": ""}}, 201, "password is required"),
    ({"username": "ann", "password": 12345}, 201, "password is required"),
    ({"username": "ann", "password": "pw", "email": {"$ne": None}}, 111,
     "schema mismatch for _User.email; expected String but got Object"),
    ({"username": "ann", "password": "pw", "email": 7}, 111,
     "schema mismatch for _User.email; expected String but got Number"),
    ({"username": "ann", "password": "pw", "email": ["a@b.c"]}, 111,
     "schema mismatch for _User.email; expected String but got Array"),
])
async def test_signup_with_non_string_credentials(api, body, code, message):
    reply = await api.post("/users", body)
    assert (reply.status, reply.body) == (400, {"code": code, "error": message})
    assert (await api.get("/users", master=True)).body["results"] == []


@pytest.mark.parametrize("anonymous_id", [5, {"$ne": None}, ["x"], True])
async def test_anonymous_id_must_be_a_string(api, anonymous_id):
    reply = await api.post("/users", {"authData": {"anonymous": {"id": anonymous_id}}})
    assert (reply.status, reply.body) == (
        400, {"code": 162, "error": "Invalid authData id for provider 'anonymous'."})
    assert (await api.get("/users", master=True)).body["results"] == []


async def test_anonymous_id_object_cannot_log_in_as_another_user(api):
    first = await api.post("/users", {"authData": {"anonymous": {"id": "the-real-id"}}})
    assert first.status == 201
    reply = await api.post("/users", {"authData": {"anonymous": {"id": {"$regex": "."}}}})
    assert reply.body["code"] == 162
    linked = await api.put(f"/users/{first.body['objectId']}", {"authData": {"anonymous": {"id": {"$gt": ""}}}},
                           token=first.body["sessionToken"])
    assert (linked.status, linked.body) == (
        400, {"code": 162, "error": "Invalid authData id for provider 'anonymous'."})


async def test_empty_anonymous_id_is_unsupported(api):
    reply = await api.post("/users", {"authData": {"anonymous": {"id": ""}}})
    assert (reply.status, reply.body) == (400, {"code": 252, "error": "This authentication method is unsupported."})


async def _widget(api) -> str:
    reply = await api.post("/classes/Widget", {"name": "w"}, master=True)
    assert reply.status == 201
    return reply.body["objectId"]


@pytest.mark.parametrize("key", ["objectId", "id"])
async def test_create_with_an_id_in_the_body(api, key):
    await _widget(api)
    reply = await api.post("/classes/Widget", {"name": "x", key: "chosen1234"}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 105, "error": f"{key} is an invalid field name."})


async def test_create_with_an_empty_object_id_is_ignored_as_parse_does(api):
    await _widget(api)
    reply = await api.post("/classes/Widget", {"name": "x", "objectId": ""}, master=True)
    assert reply.status == 201
    assert reply.body["objectId"] != ""


async def test_update_cannot_change_the_object_id(api):
    object_id = await _widget(api)
    reply = await api.put(f"/classes/Widget/{object_id}", {"objectId": "other12345", "name": "y"}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 105, "error": "objectId is an invalid field name."})
    same = await api.put(f"/classes/Widget/{object_id}", {"objectId": object_id, "name": "z"}, master=True)
    assert same.status == 200
    stored = await api.get(f"/classes/Widget/{object_id}", master=True)
    assert stored.body["name"] == "z"


async def test_user_update_cannot_retarget_another_user(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    reply = await api.put(f"/users/{alice['objectId']}", {"objectId": bob["objectId"], "city": "x"},
                          token=alice["sessionToken"])
    assert (reply.status, reply.body) == (404, {"code": 101, "error": "Object not found."})
    fresh = await api.get(f"/users/{bob['objectId']}", master=True)
    assert "city" not in fresh.body


@pytest.mark.parametrize(("field", "value"), [
    ("expiresAt", {"__type": "Date", "iso": "2099-01-01T00:00:00.000Z"}),
    ("createdWith", {"action": "signup", "authProvider": "password"}),
    ("installationId", "my-device"),
    ("sessionToken", "r:00000000000000000000000000000000"),
    ("user", {"__type": "Pointer", "className": "_User", "objectId": "someoneElse"}),
])
async def test_session_server_fields_cannot_be_changed_by_the_user(api, field, value):
    alice = await api.signup("alice")
    session = (await api.get("/sessions/me", token=alice["sessionToken"])).body
    reply = await api.put(f"/sessions/{session['objectId']}", {field: value}, token=alice["sessionToken"])
    assert (reply.status, reply.body) == (400, {"code": 105, "error": f"Invalid key name: {field}"})
    after = (await api.get("/sessions/me", token=alice["sessionToken"])).body
    assert after == session


async def test_session_custom_field_can_be_changed(api):
    alice = await api.signup("alice")
    session = (await api.get("/sessions/me", token=alice["sessionToken"])).body
    reply = await api.put(f"/sessions/{session['objectId']}", {"device": "phone"}, token=alice["sessionToken"])
    assert reply.status == 200
    assert (await api.get("/sessions/me", token=alice["sessionToken"])).body["device"] == "phone"


async def test_master_may_set_session_expiry(api):
    alice = await api.signup("alice")
    session = (await api.get("/sessions/me", token=alice["sessionToken"])).body
    when = {"__type": "Date", "iso": "2099-01-01T00:00:00.000Z"}
    reply = await api.put(f"/sessions/{session['objectId']}", {"expiresAt": when}, master=True)
    assert reply.status == 200


async def test_current_user_reads_keep_the_session_token(api):
    alice = await api.signup("alice")
    token = alice["sessionToken"]
    me = await api.get("/users/me", token=token)
    assert me.status == 200 and me.body["sessionToken"] == token
    for path in (f"/users/{alice['objectId']}", f"/classes/_User/{alice['objectId']}"):
        own = await api.get(path, token=token)
        assert own.status == 200 and own.body["sessionToken"] == token, path
    other = await api.get(f"/users/{alice['objectId']}", master=True)
    assert "sessionToken" not in other.body


def test_js_truthy():
    assert [js_truthy(v) for v in (None, False, "", 0, 0.0, float("nan"))] == [False] * 6
    assert [js_truthy(v) for v in ({}, [], "0", 1, -1.5, True, {"a": 1})] == [True] * 7
