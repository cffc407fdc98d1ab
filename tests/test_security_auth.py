"""Attacks on the auth model; each must leak nothing and change nothing:
reading password hashes, session tokens or authData of others through query
operators; where on _rperm/_wperm; changing another user's record or ACL;
client writes to _Role, _Session and _Join tables; tokens of one user on
another's session; objectId probing."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings


def ptr(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


@pytest.fixture
def settings():
    # Public users make the _User class readable, the harder case for leaks.
    return make_settings(enforce_private_users=False)


async def victims(api):
    victim = await api.post("/users", {"username": "victim", "password": "hunter2", "email": "v@example.com",
                                       "authData": {"anonymous": {"id": "victim-device"}}})
    attacker = await api.signup("attacker")
    return victim.body, attacker


@pytest.mark.parametrize("where", [
    {"_hashed_password": {"$regex": "^\\$2"}},
    {"_hashed_password": {"$exists": True}},
    {"password": {"$regex": "^h"}},
    {"$or": [{"password": {"$exists": True}}]},
    {"_session_token": {"$exists": True}},
    {"sessionToken": {"$exists": True}},
    {"authData.anonymous.id": "victim-device"},
    {"authData": {"$exists": True}},
    {"_auth_data_anonymous.id": "victim-device"},
    {"$and": [{"email": {"$regex": "^v"}}]},
    {"_email_verify_token": {"$exists": True}},
    {"_perishable_token": {"$exists": False}},
])
async def test_queries_on_secrets_fail_without_signal(api, where):
    _, attacker = await victims(api)
    reply = await api.get("/users", params={"where": where}, token=attacker["sessionToken"])
    assert reply.status == 400
    assert reply.body["code"] in (105, 119)
    anonymous = await api.get("/users", params={"where": where})
    assert anonymous.body["code"] in (105, 119)


@pytest.mark.parametrize("where", [
    {"_rperm": {"$in": ["*", "victim"]}},
    {"_wperm": {"$exists": True}},
    {"$or": [{"_rperm": {"$exists": False}}]},
])
async def test_where_on_permission_arrays_is_refused(api, where):
    _, attacker = await victims(api)
    await api.post("/classes/Vault", {"gold": 1, "ACL": {}}, master=True)
    reply = await api.get("/classes/Vault", params={"where": where}, token=attacker["sessionToken"])
    assert reply.body == {"code": 105, "error": f"Invalid key name: {next(iter(where)) if '$or' not in where else '_rperm'}"}


async def test_subqueries_cannot_exfiltrate_secrets(api):
    victim, attacker = await victims(api)
    await api.post("/classes/Probe", {"v": "x"}, master=True)
    for key in ("_hashed_password", "sessionToken", "authData", "email", "password"):
        where = {"v": {"$select": {"query": {"className": "_User", "where": {}}, "key": key}}}
        reply = await api.get("/classes/Probe", params={"where": where}, token=attacker["sessionToken"])
        assert reply.status in (200, 400)
        assert "hunter2" not in str(reply.body) and "$2b$" not in str(reply.body)
        assert reply.body.get("results", []) == []
    users = await api.get("/users", params={"keys": "authData,email,sessionToken"}, token=attacker["sessionToken"])
    other = next(u for u in users.body["results"] if u["objectId"] == victim["objectId"])
    assert set(other) <= {"objectId", "createdAt", "updatedAt", "ACL", "username"}


async def test_include_of_another_user_hides_secrets(api):
    victim, attacker = await victims(api)
    await api.post("/classes/Post", {"author": ptr("_User", victim["objectId"])}, master=True)
    reply = await api.get("/classes/Post", params={"include": "author"}, token=attacker["sessionToken"])
    author = reply.body["results"][0]["author"]
    assert author["username"] == "victim"
    for secret in ("email", "authData", "sessionToken", "password", "_hashed_password"):
        assert secret not in author


async def test_user_cannot_change_another_user_or_its_acl(api):
    victim, attacker = await victims(api)
    vid = victim["objectId"]
    for body in ({"username": "pwned"}, {"password": "owned"}, {"email": "evil@example.com"},
                 {"ACL": {"*": {"read": True, "write": True}}}, {"authData": {"anonymous": {"id": "mine"}}}):
        reply = await api.put(f"/users/{vid}", body, token=attacker["sessionToken"])
        assert (reply.status, reply.body) == (400, {"code": 206, "error": "Permission denied"}), body
    assert (await api.delete(f"/users/{vid}", token=attacker["sessionToken"])).body["code"] == 206
    stored = (await api.get(f"/users/{vid}", master=True)).body
    assert stored["username"] == "victim" and stored["email"] == "v@example.com"
    assert stored["ACL"] == {"*": {"read": True}, vid: {"read": True, "write": True}}
    assert (await api.post("/login", {"username": "victim", "password": "hunter2"})).status == 200


async def test_user_cannot_lock_itself_out_or_drop_own_write(api):
    _, attacker = await victims(api)
    aid = attacker["objectId"]
    await api.put(f"/users/{aid}", {"ACL": {}}, token=attacker["sessionToken"])
    stored = (await api.get(f"/users/{aid}", master=True)).body
    assert stored["ACL"] == {aid: {"read": True, "write": True}}


async def test_client_cannot_touch_join_tables(api):
    victim, attacker = await victims(api)
    role = (await api.post("/roles", {"name": "Admin", "ACL": {"*": {"read": True}}}, master=True)).body["objectId"]
    join = "_Join:users:_Role"
    write = await api.post(f"/classes/{join}", {"owningId": role, "relatedId": attacker["objectId"]},
                           token=attacker["sessionToken"])
    assert write.body == {"code": 119, "error": "Permission denied"}
    read = await api.get(f"/classes/{join}", token=attacker["sessionToken"])
    assert read.body["code"] == 119
    from bapp.core.auth import Auth

    api.engine.auth.forget_roles()
    assert await api.engine.auth.roles_of(Auth(user={"objectId": attacker["objectId"]})) == []


async def test_client_cannot_join_or_edit_a_protected_role(api):
    _, attacker = await victims(api)
    role = (await api.post("/roles", {"name": "Admin", "ACL": {"*": {"read": True}}}, master=True)).body["objectId"]
    for body in ({"users": {"__op": "AddRelation", "objects": [ptr("_User", attacker["objectId"])]}},
                 {"name": "Renamed"}, {"ACL": {"*": {"read": True, "write": True}}}):
        reply = await api.put(f"/roles/{role}", body, token=attacker["sessionToken"])
        assert (reply.status, reply.body) == (404, {"code": 101, "error": "Object not found."})
    assert (await api.delete(f"/roles/{role}", token=attacker["sessionToken"])).status == 404
    dup = await api.post("/roles", {"name": "Admin", "ACL": {attacker["objectId"]: {"read": True, "write": True}}},
                         token=attacker["sessionToken"])
    assert dup.body["code"] == 137


async def test_role_creation_locked_by_clp(api):
    _, attacker = await victims(api)
    schema = await api.engine.schemas.ensure_class("_Role")
    schema.clp = {"find": {"*": True}, "get": {"*": True}}
    await api.engine.schemas.save(schema)
    reply = await api.post("/roles", {"name": "Mine", "ACL": {}}, token=attacker["sessionToken"])
    assert reply.body == {"code": 119, "error": "Permission denied"}


async def test_session_token_of_one_user_on_anothers_session(api):
    victim, attacker = await victims(api)
    vsession = (await api.get("/sessions/me", token=victim["sessionToken"])).body
    sid = vsession["objectId"]
    token = attacker["sessionToken"]
    for reply in (await api.get(f"/sessions/{sid}", token=token),
                  await api.put(f"/sessions/{sid}", {"x": 1}, token=token),
                  await api.delete(f"/sessions/{sid}", token=token),
                  await api.get(f"/classes/_Session/{sid}", token=token)):
        assert (reply.status, reply.body) == (404, {"code": 101, "error": "Object not found."})
    listed = await api.get("/classes/_Session", params={"where": {"sessionToken": victim["sessionToken"]}}, token=token)
    assert listed.body["results"] == []
    assert (await api.get("/users/me", token=victim["sessionToken"])).status == 200


async def test_client_cannot_create_session_for_another_user(api):
    victim, attacker = await victims(api)
    reply = await api.post("/classes/_Session", {"user": ptr("_User", victim["objectId"])},
                           token=attacker["sessionToken"])
    assert reply.status == 201 and reply.body["user"]["objectId"] == attacker["objectId"]
    me = await api.get("/users/me", token=reply.body["sessionToken"])
    assert me.body["objectId"] == attacker["objectId"]


async def test_objectid_probing_gets_identical_answers(api):
    victim, attacker = await victims(api)
    hidden = (await api.post("/classes/Vault", {"gold": 1, "ACL": {victim["objectId"]: {"read": True, "write": True}}},
                             master=True)).body["objectId"]
    token = attacker["sessionToken"]
    answers = set()
    for oid in (hidden, "AAAAAAAAAA", "zzzzzzzzzz", hidden.lower() if hidden.lower() != hidden else "x"):
        for method in ("get", "put", "delete"):
            call = getattr(api, method)
            reply = await (call(f"/classes/Vault/{oid}", {"gold": 0}, token=token) if method == "put"
                           else call(f"/classes/Vault/{oid}", token=token))
            answers.add((method, reply.status, str(reply.body)))
    assert answers == {(m, 404, "{'code': 101, 'error': 'Object not found.'}") for m in ("get", "put", "delete")}
    # Users: a hidden and a missing id answer alike too.
    for method in ("put", "delete"):
        call = getattr(api, method)
        args = ({"a": 1},) if method == "put" else ()
        real = await call(f"/users/{victim['objectId']}", *args, token=token)
        fake = await call("/users/AAAAAAAAAA", *args, token=token)
        assert (real.status, real.body) == (fake.status, fake.body)
    assert (await api.get(f"/classes/Vault/{hidden}", master=True)).body["gold"] == 1


async def test_bad_session_token_shapes(api):
    for token in ("r:" + "0" * 32, "x" * 600, "r:abc' || '1'=='1"):
        reply = await api.get("/classes/_Role", headers={"X-Parse-Session-Token": token})
        assert reply.body == {"code": 209, "error": "Invalid session token"}, token
    control = await api.post("/classes/_Role", raw=b'{"_method":"GET","_ApplicationId":"test-app",'
                                                   b'"_SessionToken":"r:abc\\u0000def"}', app_id=None)
    assert control.body == {"code": 209, "error": "Invalid session token"}
    operator = await api.post("/classes/_Role", raw=b'{"_method":"GET","_ApplicationId":"test-app",'
                                                    b'"_SessionToken":{"$ne":null}}', app_id=None)
    assert operator.status == 403
