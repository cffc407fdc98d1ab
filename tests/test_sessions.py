"""Sessions over HTTP: /sessions, /sessions/me, session expiry and revocation,
client-created sessions and what a client may change on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bapp.model import types
from tests.conftest import SQL_STORES, make_settings, sql_execute, sql_fetch


async def test_signup_session_fields(api):
    user = await api.signup("alice")
    reply = await api.get("/sessions/me", token=user["sessionToken"])
    assert reply.status == 200
    session = reply.body
    assert session["sessionToken"] == user["sessionToken"]
    assert session["user"] == {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
    assert session["createdWith"] == {"action": "signup", "authProvider": "password"}
    assert session["expiresAt"]["__type"] == "Date"
    expires = types.parse_iso(session["expiresAt"]["iso"])
    assert abs((expires - datetime.now(UTC)) - timedelta(days=365)) < timedelta(minutes=1)
    assert "ACL" not in session


async def test_session_is_stored_in_parse_layout(api, bapp_store):
    user = await api.signup("alice")
    if bapp_store in SQL_STORES:
        row = (await sql_fetch(api, 'SELECT * FROM "_Session" WHERE "sessionToken" = $1', user["sessionToken"],
                               class_name="_Session"))[0]
        assert row["user"] == user["objectId"] and isinstance(row["expiresAt"], datetime)
        assert row["_rperm"] is None and row["createdWith"] == {"action": "signup", "authProvider": "password"}
        return
    doc = await api.engine.storage.db["_Session"].find_one({"_session_token": user["sessionToken"]})
    assert doc["_p_user"] == f"_User${user['objectId']}"
    assert isinstance(doc["expiresAt"], datetime)
    assert "_rperm" not in doc


async def test_sessions_me_needs_a_token(api):
    reply = await api.get("/sessions/me")
    assert reply.body == {"code": 209, "error": "Session token required."}


async def test_sessions_list_only_own(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    await api.post("/login", {"username": "alice", "password": "pw"})
    mine = await api.get("/sessions", token=alice["sessionToken"])
    assert len(mine.body["results"]) == 2
    assert {s["user"]["objectId"] for s in mine.body["results"]} == {alice["objectId"]}
    # A where naming another user cannot widen the restriction.
    other = await api.get("/sessions", params={"where": {"user": {"__type": "Pointer", "className": "_User",
                                                                   "objectId": bob["objectId"]}}},
                          token=alice["sessionToken"])
    assert other.body["results"] == []
    assert len((await api.get("/sessions", master=True)).body["results"]) == 3
    anonymous = await api.get("/sessions")
    assert anonymous.body == {"code": 209, "error": "Permission denied"}


async def test_session_of_another_user_is_not_found(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    bob_session = (await api.get("/sessions/me", token=bob["sessionToken"])).body["objectId"]
    got = await api.get(f"/sessions/{bob_session}", token=alice["sessionToken"])
    assert (got.status, got.body) == (404, {"code": 101, "error": "Object not found."})
    put = await api.put(f"/sessions/{bob_session}", {"note": "x"}, token=alice["sessionToken"])
    assert put.body == {"code": 101, "error": "Object not found."}
    delete = await api.delete(f"/sessions/{bob_session}", token=alice["sessionToken"])
    assert delete.body == {"code": 101, "error": "Object not found."}
    assert (await api.get("/users/me", token=bob["sessionToken"])).status == 200


async def test_delete_own_session_revokes_it(api):
    alice = await api.signup("alice")
    session_id = (await api.get("/sessions/me", token=alice["sessionToken"])).body["objectId"]
    assert (await api.delete(f"/sessions/{session_id}", token=alice["sessionToken"])).body == {}
    assert (await api.get("/users/me", token=alice["sessionToken"])).body["code"] == 209


async def test_client_created_session(api):
    alice = await api.signup("alice")
    reply = await api.post("/sessions", {"device": "tablet"}, token=alice["sessionToken"])
    assert reply.status == 201
    body = reply.body
    assert set(body) == {"objectId", "sessionToken", "user", "createdWith", "expiresAt", "device"}
    assert body["createdWith"] == {"action": "create"}
    assert body["user"]["objectId"] == alice["objectId"]
    assert reply.headers["Location"].endswith(f"/classes/_Session/{body['objectId']}")
    assert (await api.get("/users/me", token=body["sessionToken"])).body["objectId"] == alice["objectId"]


async def test_client_cannot_choose_session_server_fields(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    token = alice["sessionToken"]
    assert (await api.post("/sessions", {"ACL": {}}, token=token)).body == {
        "code": 105, "error": "Cannot set ACL on a Session."}
    for key, value in (("sessionToken", "r:" + "1" * 32), ("expiresAt", {"__type": "Date", "iso": "2999-01-01T00:00:00.000Z"}),
                       ("createdWith", {"action": "login"}), ("installationId", "x")):
        reply = await api.post("/sessions", {key: value}, token=token)
        assert reply.body["code"] == 105, key
    # A user pointer in the body is ignored: the session is always the caller's.
    forged = await api.post("/sessions", {"user": {"__type": "Pointer", "className": "_User",
                                                   "objectId": bob["objectId"]}}, token=token)
    assert forged.body["user"]["objectId"] == alice["objectId"]
    assert (await api.post("/sessions", {})).body == {"code": 209, "error": "Session token required."}


async def test_client_cannot_change_session_server_fields(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    token = alice["sessionToken"]
    sid = (await api.get("/sessions/me", token=token)).body["objectId"]
    for body in ({"sessionToken": "r:" + "2" * 32}, {"installationId": "i"},
                 {"expiresAt": {"__type": "Date", "iso": "2999-01-01T00:00:00.000Z"}},
                 {"createdWith": {"action": "x"}},
                 {"user": {"__type": "Pointer", "className": "_User", "objectId": bob["objectId"]}}):
        reply = await api.put(f"/sessions/{sid}", body, token=token)
        assert (reply.status, reply.body["code"]) == (400, 105), body
    ok = await api.put(f"/sessions/{sid}", {"label": "phone"}, token=token)
    assert ok.status == 200
    assert (await api.get("/sessions/me", token=token)).body["label"] == "phone"


async def test_expired_session_fails_every_route(api, bapp_store):
    alice = await api.signup("alice")
    past = datetime.now(UTC) - timedelta(seconds=5)
    if bapp_store in SQL_STORES:
        await sql_execute(api, 'UPDATE "_Session" SET "expiresAt" = $1 WHERE "sessionToken" = $2',
                          past, alice["sessionToken"])
    else:
        await api.engine.storage.db["_Session"].update_one(
            {"_session_token": alice["sessionToken"]}, {"$set": {"expiresAt": past.replace(tzinfo=None)}})
    api.engine.auth.forget_session()
    for reply in (await api.get("/users/me", token=alice["sessionToken"]),
                  await api.get("/classes/Anything", token=alice["sessionToken"])):
        assert reply.body == {"code": 209, "error": "Session token is expired."}


async def test_expiry_is_checked_on_a_cache_hit(api):
    alice = await api.signup("alice")
    assert (await api.get("/users/me", token=alice["sessionToken"])).status == 200  # cached now
    cached = api.engine.auth._sessions[alice["sessionToken"]]
    api.engine.auth._sessions[alice["sessionToken"]] = (cached[0], cached[1], datetime.now(UTC) - timedelta(seconds=1))
    assert (await api.get("/users/me", token=alice["sessionToken"])).body["code"] == 209


async def test_login_replaces_the_session_of_the_same_installation(api):
    await api.signup("alice")
    first = await api.post("/login", {"username": "alice", "password": "pw"}, headers={"X-Parse-Installation-Id": "dev-1"})
    second = await api.post("/login", {"username": "alice", "password": "pw"}, headers={"X-Parse-Installation-Id": "dev-1"})
    assert (await api.get("/users/me", token=first.body["sessionToken"])).body["code"] == 209
    assert (await api.get("/users/me", token=second.body["sessionToken"])).status == 200


async def test_upgrade_legacy_session_token(api, bapp_store):
    if bapp_store in SQL_STORES:
        pytest.skip("legacy _session_token exists only in the MongoDB layout")
    alice = await api.signup("alice")
    await api.engine.storage.db["_User"].update_one({"_id": alice["objectId"]}, {"$set": {"_session_token": "legacy123"}})
    reply = await api.post("/upgradeToRevocableSession", token="legacy123")
    assert reply.status == 200
    assert reply.body["createdWith"] == {"action": "upgrade"}
    assert reply.body["user"]["objectId"] == alice["objectId"]
    assert (await api.get("/users/me", token=reply.body["sessionToken"])).status == 200
    doc = await api.engine.storage.db["_User"].find_one({"_id": alice["objectId"]})
    assert "_session_token" not in doc
    # The legacy token never authenticated anything else and is now gone.
    assert (await api.get("/users/me", token="legacy123")).body["code"] == 209
    again = await api.post("/upgradeToRevocableSession", token="legacy123")
    assert again.body == {"code": 209, "error": "invalid legacy session token"}
    assert (await api.post("/upgradeToRevocableSession")).body == {"code": 101, "error": "invalid session"}


class TestSessionLength:
    @pytest.fixture
    def settings(self):
        return make_settings(session_length=60)

    async def test_configurable_length(self, api):
        alice = await api.signup("alice")
        session = (await api.get("/sessions/me", token=alice["sessionToken"])).body
        expires = types.parse_iso(session["expiresAt"]["iso"])
        assert timedelta(seconds=50) < expires - datetime.now(UTC) <= timedelta(seconds=61)
