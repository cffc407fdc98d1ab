"""Users over HTTP: sign-up, login, logout, /users/me, loginAs, verifyPassword,
authData (anonymous) sign-up and login, password storage, uniqueness, and the
default ACL of new users."""

from __future__ import annotations

import asyncio

import bcrypt
import pytest

from bapp.core import users
from tests.conftest import SQL_STORES, make_settings, sql_execute, sql_row


async def test_signup_answers_201_with_session_token_and_location(api):
    reply = await api.post("/users", {"username": "alice", "password": "pw", "email": "a@example.com"})
    assert reply.status == 201
    assert set(reply.body) == {"objectId", "createdAt", "sessionToken"}
    assert reply.body["sessionToken"].startswith("r:") and len(reply.body["sessionToken"]) == 34
    assert reply.headers["Location"] == f"{api.url}/users/{reply.body['objectId']}"


async def test_signup_stores_a_parse_compatible_bcrypt_hash(api, bapp_store):
    body = await api.signup("alice", "secret")
    if bapp_store in SQL_STORES:
        doc = {k: v for k, v in (await sql_row(api, "_User", body["objectId"])).items() if v is not None}
    else:
        doc = await api.engine.storage.db["_User"].find_one({"_id": body["objectId"]})
    assert doc["_hashed_password"].startswith("$2b$10$")
    assert bcrypt.checkpw(b"secret", doc["_hashed_password"].encode())
    assert "password" not in doc
    assert doc["_rperm"] == [body["objectId"]] and doc["_wperm"] == [body["objectId"]]


async def test_signup_requires_username_and_password(api):
    assert (await api.post("/users", {"password": "pw"})).body == {"code": 200, "error": "bad or missing username"}
    assert (await api.post("/users", {"username": "", "password": "pw"})).body["code"] == 200
    assert (await api.post("/users", {"username": "bob"})).body == {"code": 201, "error": "password is required"}
    assert (await api.post("/users", {"username": ["alice"], "password": "pw"})).body["code"] == 200
    bad_email = await api.post("/users", {"username": "bob", "password": "pw", "email": "nope"})
    assert bad_email.body == {"code": 125, "error": "Email address format is invalid."}


async def test_signup_empty_auth_data_still_needs_credentials(api):
    for auth_data in ({}, {"anonymous": None}):
        reply = await api.post("/users", {"authData": auth_data})
        assert (reply.status, reply.body["code"]) == (400, 200)
    assert (await api.get("/users", master=True)).body["results"] == []


async def test_username_and_email_are_unique_case_insensitively(api):
    await api.signup("Alice", email="Alice@Example.com")
    dup_name = await api.post("/users", {"username": "aLICE", "password": "pw"})
    assert (dup_name.status, dup_name.body) == (400, {"code": 202, "error": "Account already exists for this username."})
    dup_mail = await api.post("/users", {"username": "other", "password": "pw", "email": "alice@EXAMPLE.com"})
    assert dup_mail.body == {"code": 203, "error": "Account already exists for this email address."}


def _slow_storage(api, monkeypatch):
    """Makes every database read yield to the event loop, as a real
    database round trip does, so concurrent requests interleave."""
    storage = api.engine.storage
    real_find = storage.find

    async def find(*args, **kwargs):
        rows = await real_find(*args, **kwargs)
        await asyncio.sleep(0.05)  # the answer travels back while others write
        return rows

    monkeypatch.setattr(storage, "find", find)


async def test_concurrent_signups_with_one_username_only_one_succeeds(api, monkeypatch):
    _slow_storage(api, monkeypatch)
    hashed = await users.hash_password("pw")

    async def same_hash(password):
        return hashed  # no bcrypt spread: all ten reach the check together

    monkeypatch.setattr(users, "hash_password", same_hash)
    names = ["Racer", "racer", "RACER", "racer", "Racer", "rAcer", "racer", "RaCeR", "racer", "racEr"]
    replies = await asyncio.gather(*[api.post("/users", {"username": n, "password": "pw"}) for n in names])
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [400] * 9
    assert {r.body["code"] for r in replies if r.status == 400} == {202}
    found = await api.get("/users", master=True)
    assert len(found.body["results"]) == 1


async def test_concurrent_email_updates_cannot_both_take_one_address(api, monkeypatch):
    a = await api.signup("a")
    b = await api.signup("b")
    _slow_storage(api, monkeypatch)
    replies = await asyncio.gather(
        api.put(f"/users/{a['objectId']}", {"email": "same@example.com"}, token=a["sessionToken"]),
        api.put(f"/users/{b['objectId']}", {"email": "SAME@example.com"}, token=b["sessionToken"]),
    )
    assert sorted(r.status for r in replies) == [200, 400]
    assert [r.body["code"] for r in replies if r.status == 400] == [203]


async def test_login_returns_whole_user_and_a_new_session(api):
    created = await api.signup("alice", "pw", email="a@example.com")
    reply = await api.post("/login", {"username": "alice", "password": "pw"},
                           headers={"X-Parse-Installation-Id": "inst-1"})
    assert reply.status == 200
    user = reply.body
    assert set(user) == {"objectId", "createdAt", "updatedAt", "username", "email", "ACL", "sessionToken"}
    assert user["ACL"] == {created["objectId"]: {"read": True, "write": True}}
    assert user["sessionToken"] != created["sessionToken"]
    session = await api.get("/sessions/me", token=user["sessionToken"])
    assert session.body["createdWith"] == {"action": "login", "authProvider": "password"}
    assert session.body["installationId"] == "inst-1"


async def test_login_by_get_query_and_by_email_in_username_field(api):
    await api.signup("alice", "pw", email="a@example.com")
    by_get = await api.get("/login", params={"username": "alice", "password": "pw"})
    assert by_get.status == 200 and by_get.body["username"] == "alice"
    by_email = await api.post("/login", {"username": "a@example.com", "password": "pw"})
    assert by_email.status == 200 and by_email.body["username"] == "alice"
    email_field = await api.post("/login", {"email": "a@example.com", "password": "pw"})
    assert email_field.status == 200


@pytest.mark.parametrize("body,code,message", [
    ({"password": "pw"}, 200, "username/email is required."),
    ({"username": "alice"}, 201, "password is required."),
    ({"username": "alice", "password": "wrong"}, 101, "Invalid username/password."),
    ({"username": "nobody", "password": "pw"}, 101, "Invalid username/password."),
    ({"username": {"$ne": "x"}, "password": "pw"}, 101, "Invalid username/password."),
    ({"username": "alice", "password": {"$ne": "x"}}, 101, "Invalid username/password."),
    ({"email": ["a@example.com"], "password": "pw"}, 101, "Invalid username/password."),
])
async def test_login_errors(api, body, code, message):
    await api.signup("alice", "pw", email="a@example.com")
    reply = await api.post("/login", body)
    assert reply.body == {"code": code, "error": message}
    assert reply.status == (404 if code == 101 else 400)


async def test_login_ignores_a_bad_session_token(api):
    await api.signup("alice", "pw")
    reply = await api.post("/login", {"username": "alice", "password": "pw"}, token="r:not-a-session")
    assert reply.status == 200


async def test_locked_user_with_empty_acl_cannot_log_in(api):
    user = await api.signup("alice", "pw")
    await api.put(f"/users/{user['objectId']}", {"ACL": {}}, master=True)
    reply = await api.post("/login", {"username": "alice", "password": "pw"})
    assert reply.body == {"code": 101, "error": "Invalid username/password."}


async def test_user_migrated_from_parse_server_logs_in(api, bapp_store):
    # bcryptjs writes $2a$ hashes; both prefixes must verify.
    hashed = bcrypt.hashpw(b"old-password", bcrypt.gensalt(10, prefix=b"2a")).decode()
    if bapp_store in SQL_STORES:
        await sql_execute(api, 'INSERT INTO "_User" ("objectId", "username", "_hashed_password", "_rperm", "_wperm") '
                               "VALUES ('migrated01', 'legacy', $1, $2, $3)", hashed, ["migrated01"], ["migrated01"])
    else:
        await api.engine.storage.db["_User"].insert_one({
            "_id": "migrated01", "username": "legacy", "_hashed_password": hashed,
            "_rperm": ["migrated01"], "_wperm": ["migrated01"],
            "_acl": {"migrated01": {"r": True, "w": True}},
        })
    reply = await api.post("/login", {"username": "legacy", "password": "old-password"})
    assert reply.status == 200
    assert reply.body["objectId"] == "migrated01"
    assert "password" not in reply.body and "_hashed_password" not in reply.body


async def test_long_passwords_truncate_like_bcryptjs(api):
    long_password = "x" * 100
    await api.signup("alice", long_password)
    assert (await api.post("/login", {"username": "alice", "password": long_password})).status == 200
    assert (await api.post("/login", {"username": "alice", "password": "x" * 72 + "different"})).status == 200


async def test_users_me(api):
    user = await api.signup("alice", "pw", email="a@example.com")
    reply = await api.get("/users/me", token=user["sessionToken"])
    assert reply.status == 200
    assert reply.body["objectId"] == user["objectId"]
    assert reply.body["email"] == "a@example.com"
    assert reply.body["sessionToken"] == user["sessionToken"]
    assert "password" not in reply.body
    no_token = await api.get("/users/me")
    assert (no_token.status, no_token.body) == (400, {"code": 209, "error": "Permission denied"})
    bad = await api.get("/users/me", token="r:" + "0" * 32)
    assert bad.body == {"code": 209, "error": "Invalid session token"}


async def test_users_me_never_shows_auth_data(api):
    reply = await api.post("/users", {"authData": {"anonymous": {"id": "device-1"}}})
    me = await api.get("/users/me", token=reply.body["sessionToken"])
    assert me.status == 200 and "authData" not in me.body


async def test_logout_revokes_the_session(api):
    user = await api.signup("alice")
    token = user["sessionToken"]
    assert (await api.post("/logout", token=token)).body == {}
    after = await api.get("/users/me", token=token)
    assert after.body == {"code": 209, "error": "Invalid session token"}
    # A revoked token fails every route, public ones included.
    public = await api.get("/classes/_Role", token=token)
    assert public.body == {"code": 209, "error": "Invalid session token"}
    assert (await api.post("/logout")).body == {}
    sessions = await api.get("/classes/_Session", master=True)
    assert sessions.body["results"] == []


async def test_get_update_delete_own_user(api):
    user = await api.signup("alice")
    uid, token = user["objectId"], user["sessionToken"]
    got = await api.get(f"/users/{uid}", token=token)
    assert got.body["username"] == "alice" and got.body["sessionToken"] == token
    updated = await api.put(f"/users/{uid}", {"nickname": "al"}, token=token)
    assert updated.status == 200 and set(updated.body) == {"updatedAt"}
    assert (await api.delete(f"/users/{uid}", token=token)).body == {}
    assert (await api.get(f"/users/{uid}", master=True)).status == 404
    # Deleting a user revokes its sessions.
    assert (await api.get("/users/me", token=token)).body["code"] == 209


async def test_user_routes_without_session(api):
    user = await api.signup("alice")
    uid = user["objectId"]
    put = await api.put(f"/users/{uid}", {"nickname": "x"})
    assert put.body == {"code": 206, "error": "Permission denied"}
    delete = await api.delete(f"/users/{uid}")
    assert delete.body == {"code": 206, "error": "Insufficient auth to delete user"}


async def test_password_change_revokes_sessions_and_returns_a_new_token(api):
    user = await api.signup("alice", "old")
    uid, token = user["objectId"], user["sessionToken"]
    second = (await api.post("/login", {"username": "alice", "password": "old"})).body["sessionToken"]
    reply = await api.put(f"/users/{uid}", {"password": "new"}, token=token)
    assert reply.status == 200 and reply.body["sessionToken"].startswith("r:")
    for old_token in (token, second):
        assert (await api.get("/users/me", token=old_token)).body["code"] == 209
    assert (await api.get("/users/me", token=reply.body["sessionToken"])).status == 200
    assert (await api.post("/login", {"username": "alice", "password": "old"})).status == 404
    assert (await api.post("/login", {"username": "alice", "password": "new"})).status == 200


async def test_master_password_change_returns_no_token(api):
    user = await api.signup("alice", "old")
    reply = await api.put(f"/users/{user['objectId']}", {"password": "new"}, master=True)
    assert set(reply.body) == {"updatedAt"}
    assert (await api.get("/users/me", token=user["sessionToken"])).body["code"] == 209


async def test_client_cannot_set_email_verified(api):
    reply = await api.post("/users", {"username": "a", "password": "pw", "emailVerified": True})
    assert reply.body == {"code": 119, "error": "Permission denied"}


async def test_anonymous_signup_then_login_with_same_auth_data(api):
    first = await api.post("/users", {"authData": {"anonymous": {"id": "device-1"}}})
    assert first.status == 201
    assert set(first.body) == {"objectId", "createdAt", "sessionToken", "username"}
    assert len(first.body["username"]) == 25
    session = await api.get("/sessions/me", token=first.body["sessionToken"])
    assert session.body["createdWith"] == {"action": "login", "authProvider": "anonymous"}
    again = await api.post("/users", {"authData": {"anonymous": {"id": "device-1"}}})
    assert again.status == 200
    assert again.body["objectId"] == first.body["objectId"]
    assert again.body["authData"] == {"anonymous": {"id": "device-1"}}
    assert again.body["sessionToken"] != first.body["sessionToken"]


@pytest.mark.parametrize(("auth_data", "code", "message"), [
    ({"anonymous": {"id": {"$ne": None}}}, 162, "Invalid authData id for provider 'anonymous'."),
    ({"anonymous": {"id": ""}}, 252, "This authentication method is unsupported."),
    ({"anonymous": "x"}, 252, "This authentication method is unsupported."),
    ({"facebook": {"id": "1", "access_token": "t"}}, 252, "This authentication method is unsupported."),
    # Parse Server: a null authData is no authData, so credentials are missing.
    (None, 200, "bad or missing username"),
])
async def test_bad_or_unsupported_auth_data(api, auth_data, code, message):
    await api.post("/users", {"authData": {"anonymous": {"id": "victim"}}})
    reply = await api.post("/users", {"authData": auth_data})
    assert reply.body == {"code": code, "error": message}


async def test_linking_an_auth_id_of_another_user_is_refused(api):
    await api.post("/users", {"authData": {"anonymous": {"id": "device-1"}}})
    bob = await api.signup("bob")
    reply = await api.put(f"/users/{bob['objectId']}", {"authData": {"anonymous": {"id": "device-1"}}},
                          token=bob["sessionToken"])
    assert reply.body == {"code": 208, "error": "this auth is already used"}


async def test_login_as(api):
    user = await api.signup("alice")
    reply = await api.post("/loginAs", {"userId": user["objectId"]}, master=True)
    assert reply.status == 200 and reply.body["username"] == "alice"
    session = await api.get("/sessions/me", token=reply.body["sessionToken"])
    assert session.body["createdWith"] == {"action": "login", "authProvider": "masterkey"}
    denied = await api.post("/loginAs", {"userId": user["objectId"]}, token=user["sessionToken"])
    assert denied.body == {"code": 119, "error": "Permission denied"}
    assert (await api.post("/loginAs", {}, master=True)).body == {
        "code": 162, "error": "userId must not be empty, null, or undefined"}
    assert (await api.post("/loginAs", {"userId": "missing"}, master=True)).body == {
        "code": 101, "error": "user not found"}


async def test_verify_password(api):
    await api.post("/users", {"username": "alice", "password": "pw", "authData": {"anonymous": {"id": "d"}}})
    ok = await api.get("/verifyPassword", params={"username": "alice", "password": "pw"})
    assert ok.status == 200 and ok.body["username"] == "alice"
    assert "sessionToken" not in ok.body and "authData" not in ok.body
    bad = await api.post("/verifyPassword", {"username": "alice", "password": "nope"})
    assert bad.body == {"code": 101, "error": "Invalid username/password."}


@pytest.mark.parametrize("path", ["/requestPasswordReset", "/verificationEmailRequest"])
async def test_email_routes_without_email_adapter(api, path):
    await api.signup("alice", email="a@example.com")
    reply = await api.post(path, {"email": "a@example.com"})
    assert reply.status == 500
    assert reply.body == {"code": 1, "error": "An appName, publicServerURL, and emailAdapter are required "
                                             "for password reset and email verification functionality."}


async def test_login_hooks_run_and_before_login_can_refuse(api):
    seen = []

    def before(req):
        seen.append(("before", req.object["username"]))
        if req.object["username"] == "blocked":
            raise users.ParseError(101, "blocked by hook")

    api.engine.triggers.add_trigger("beforeLogin", "_User", before)
    api.engine.triggers.add_trigger("afterLogin", "_User", lambda req: seen.append(("after", req.user["username"])))
    api.engine.triggers.add_trigger("afterLogout", "_Session", lambda req: seen.append(("logout", req.object["className"])))
    await api.signup("alice")
    await api.signup("blocked")
    ok = await api.post("/login", {"username": "alice", "password": "pw"})
    refused = await api.post("/login", {"username": "blocked", "password": "pw"})
    assert refused.body == {"code": 101, "error": "blocked by hook"}
    await api.post("/logout", token=ok.body["sessionToken"])
    assert seen == [("before", "alice"), ("after", "alice"), ("before", "blocked"), ("logout", "_Session")]


async def test_password_and_hash_never_returned_by_any_route(api):
    owner = await api.signup("alice", "pw")
    await api.post("/classes/Note", {"owner": {"__type": "Pointer", "className": "_User", "objectId": owner["objectId"]}},
                   master=True)
    replies = [
        await api.get("/users/me", token=owner["sessionToken"]),
        await api.get(f"/users/{owner['objectId']}", token=owner["sessionToken"]),
        await api.get(f"/users/{owner['objectId']}", master=True),
        await api.get("/users", master=True),
        await api.get("/classes/Note", params={"include": "owner"}, master=True),
        await api.get("/classes/Note", params={"include": "owner"}, token=owner["sessionToken"]),
        await api.get("/users", params={"keys": "password,_hashed_password"}, master=True),
        await api.post("/login", {"username": "alice", "password": "pw"}),
    ]
    for reply in replies:
        assert reply.status == 200
        text = str(reply.body)
        assert "_hashed_password" not in text and "'password'" not in text and "$2b$" not in text


class TestPublicUsers:
    """enforce_private_users off: new users are publicly readable."""

    @pytest.fixture
    def settings(self):
        return make_settings(enforce_private_users=False)

    async def test_new_user_gets_public_read_and_self_write(self, api):
        alice = await api.signup("alice", email="a@example.com")
        bob = await api.signup("bob")
        got = await api.get(f"/users/{alice['objectId']}", token=bob["sessionToken"])
        assert got.status == 200
        assert got.body["ACL"] == {"*": {"read": True}, alice["objectId"]: {"read": True, "write": True}}
        assert "email" not in got.body  # default protectedFields
        assert "sessionToken" not in got.body
        change = await api.put(f"/users/{alice['objectId']}", {"username": "x"}, token=bob["sessionToken"])
        assert change.body == {"code": 206, "error": "Permission denied"}


async def test_private_users_are_invisible_to_others(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    got = await api.get(f"/users/{alice['objectId']}", token=bob["sessionToken"])
    assert (got.status, got.body) == (404, {"code": 101, "error": "Object not found."})
    listed = await api.get("/users", token=bob["sessionToken"])
    assert [u["username"] for u in listed.body["results"]] == ["bob"]
