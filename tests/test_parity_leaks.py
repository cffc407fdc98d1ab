"""Internal columns never reach a client through keys, excludeKeys, order or
where; $relatedTo respects the owner's protected fields and readability;
cloud function params pass Parse Server 9's request keyword denylist."""

from __future__ import annotations

import textwrap

import pytest
from conftest import make_settings

from bapp.model import denylist

INTERNAL = ("sessionToken", "_session_token", "_hashed_password", "password", "_rperm", "_wperm",
            "_email_verify_token", "_perishable_token", "_failed_login_count", "_auth_data_facebook",
            "_acl", "_tombstone")


def ptr(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def _user_with_internals(api) -> dict:
    user = await api.signup("ann", "pw", email="ann@example.com")
    # Internal columns as the server itself writes them (through the storage interface, so every store).
    engine = api.engine
    await engine.storage.update("_User", engine.schemas.fields_of("_User"), {"objectId": user["objectId"]},
                                {"_email_verify_token": "evt", "_perishable_token": "pt", "_failed_login_count": 2,
                                 "authData": {"facebook": {"id": "fb1", "access_token": "secret"}}})
    return user


@pytest.mark.parametrize("key", INTERNAL)
async def test_keys_never_select_internal_columns(api, key):
    user = await _user_with_internals(api)
    token = user["sessionToken"]
    found = await api.get("/classes/_User", params={"keys": key}, token=token)
    assert found.status == 200
    row = found.body["results"][0]
    assert set(row) == {"objectId", "createdAt", "updatedAt", "ACL"}
    # master reads never show internal columns either
    master = await api.get("/classes/_User", params={"keys": key}, master=True)
    assert not {k for k in master.body["results"][0] if k.startswith("_") or k in ("sessionToken", "password")}
    sessions = await api.get("/classes/_Session", params={"keys": key}, token=token)
    assert not {k for k in sessions.body["results"][0] if k.startswith("_") or k == "password"}


async def test_find_of_own_user_never_carries_a_session_token(api):
    user = await api.signup("ann")
    token = user["sessionToken"]
    for params in ({}, {"keys": "sessionToken"}, {"keys": "username,sessionToken"},
                   {"where": {"objectId": user["objectId"]}}):
        found = await api.get("/classes/_User", params=params, token=token)
        assert found.status == 200
        assert "sessionToken" not in found.body["results"][0], params
    # a get of the caller's own user carries the caller's token (Parse Server's ClassesRouter)
    got = await api.get(f"/classes/_User/{user['objectId']}", params={"keys": "username"}, token=token)
    assert got.status == 200 and got.body["sessionToken"] == token and got.body["username"] == "ann"
    other = await api.signup("bob")
    seen = await api.get(f"/users/{other['objectId']}", token=token)
    assert seen.status == 404 or "sessionToken" not in seen.body


async def test_keys_auth_data_of_own_user(api):
    user = await _user_with_internals(api)
    got = await api.get("/classes/_User", params={"keys": "authData"}, token=user["sessionToken"])
    row = got.body["results"][0]
    assert row["authData"] == {"facebook": {"id": "fb1", "access_token": "secret"}}
    assert not [k for k in row if k.startswith("_")]


async def test_session_keys_select_its_token(api):
    user = await api.signup("ann")
    got = await api.get("/sessions", params={"keys": "sessionToken"}, token=user["sessionToken"])
    assert got.status == 200 and got.body["results"][0]["sessionToken"] == user["sessionToken"]
    assert "user" not in got.body["results"][0]


@pytest.mark.parametrize("key", ["sessionToken", "-_hashed_password", "_rperm", "_email_verify_token",
                                 "_session_token", "password"])
async def test_order_on_internal_columns_refused(api, key):
    user = await _user_with_internals(api)
    reply = await api.get("/classes/_User", params={"order": key}, token=user["sessionToken"])
    assert reply.status == 400
    assert reply.body["code"] in (105, 119)


@pytest.mark.parametrize("where,code", [
    ({"_hashed_password": {"$exists": True}}, 105),
    ({"_email_verify_token": "evt"}, 105),
    ({"_perishable_token": {"$exists": True}}, 105),
    ({"_rperm": {"$in": ["*"]}}, 105),
    ({"_session_token": {"$exists": True}}, 105),
    ({"_auth_data_facebook.id": "fb1"}, 105),
    ({"$or": [{"_failed_login_count": 2}]}, 105),
    ({"sessionToken": {"$exists": True}}, 119),
    ({"password": {"$exists": True}}, 119),
    ({"authData.facebook.id": "fb1"}, 119),
])
async def test_where_on_internal_columns_refused(api, where, code):
    user = await _user_with_internals(api)
    reply = await api.get("/classes/_User", params={"where": where}, token=user["sessionToken"])
    assert reply.status == 400 and reply.body["code"] == code, reply.body


async def test_master_cannot_query_hashed_password(api):
    await _user_with_internals(api)
    reply = await api.get("/classes/_User", params={"where": {"_hashed_password": {"$regex": "^\\$2"}}},
                          master=True)
    assert reply.status == 400 and reply.body == {"code": 105, "error": "Invalid key name: _hashed_password"}
    ok = await api.get("/classes/_User", params={"where": {"_email_verify_token": "evt"}}, master=True)
    assert ok.status == 200 and len(ok.body["results"]) == 1


async def test_exclude_keys_never_reveal_internal_columns(api):
    user = await _user_with_internals(api)
    reply = await api.get("/classes/_User", params={"excludeKeys": "username,_hashed_password"},
                          token=user["sessionToken"])
    row = reply.body["results"][0]
    assert "username" not in row and not [k for k in row if k.startswith("_")]
    assert "sessionToken" not in row and "password" not in row


# ------------------------------------------------------------------ $relatedTo

async def _relation_setup(api, clp_extra: dict) -> tuple[dict, str]:
    user = await api.signup("ann")
    member = (await api.post("/classes/Member", {"name": "m"}, master=True)).body["objectId"]
    team = await api.post("/classes/Team", {"name": "t", "members": {
        "__op": "AddRelation", "objects": [ptr("Member", member)]}}, master=True)
    assert team.status == 201
    clp = {op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete", "addField")}
    clp.update(clp_extra)
    reply = await api.put("/schemas/Team", {"classLevelPermissions": clp}, master=True)
    assert reply.status == 200, reply.body
    return user, team.body["objectId"]


async def test_related_to_on_protected_relation_refused(api):
    user, team = await _relation_setup(api, {"protectedFields": {"*": ["members"]}})
    where = {"$relatedTo": {"object": ptr("Team", team), "key": "members"}}
    reply = await api.get("/classes/Member", params={"where": where}, token=user["sessionToken"])
    assert reply.status == 400 and reply.body["code"] == 119
    inside = await api.get("/classes/Member", params={"where": {"$or": [where]}}, token=user["sessionToken"])
    assert inside.status == 400 and inside.body["code"] == 119
    master = await api.get("/classes/Member", params={"where": where}, master=True)
    assert master.status == 200 and len(master.body["results"]) == 1


async def test_related_to_with_unreadable_owner_is_empty(api):
    user, team = await _relation_setup(api, {"get": {}, "find": {}})
    where = {"$relatedTo": {"object": ptr("Team", team), "key": "members"}}
    reply = await api.get("/classes/Member", params={"where": where}, token=user["sessionToken"])
    assert reply.status == 200 and reply.body["results"] == []
    master = await api.get("/classes/Member", params={"where": where}, master=True)
    assert len(master.body["results"]) == 1


async def test_related_to_on_readable_relation_answers(api):
    user, team = await _relation_setup(api, {"protectedFields": {"*": []}})
    where = {"$relatedTo": {"object": ptr("Team", team), "key": "members"}}
    reply = await api.get("/classes/Member", params={"where": where}, token=user["sessionToken"])
    assert reply.status == 200 and [r["name"] for r in reply.body["results"]] == ["m"]


# ------------------------------------------------------------------ function params

CLOUD = '''
from bapp import cloud

RAN = []

@cloud.define("echo")
def echo(req):
    RAN.append(req.params)
    return req.params

@cloud.define("ran")
def ran(req):
    return len(RAN)

@cloud.job("work")
def work(req):
    return "done"
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud_denylist.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path))


def _prohibited(entry: str) -> dict:
    return {"code": 105, "error": f"Prohibited keyword in request data: {entry}."}


@pytest.mark.parametrize("params,entry", [
    ('{"__proto__": {"admin": true}}', '{"key":"__proto__"}'),
    ('{"a": {"b": [{"__proto__": 1}]}}', '{"key":"__proto__"}'),
    ('{"constructor": {"prototype": {}}}', '{"key":"constructor"}'),
    ('{"deep": [[{"x": {"constructor": 1}}]]}', '{"key":"constructor"}'),
    ('{"myconstructorName": 1}', '{"key":"constructor"}'),
    ('{"v": {"_bsontype": "Code", "code": "x"}}', '{"key":"_bsontype","value":"Code"}'),
])
async def test_function_params_denylist(api, params, entry):
    reply = await api.request("POST", "/functions/echo", raw=params)
    assert reply.status == 400 and reply.body == _prohibited(entry)
    job = await api.request("POST", "/jobs/work", raw=params, master=True)
    assert job.status == 400 and job.body == _prohibited(entry)


async def test_function_denylist_runs_before_the_function(api):
    reply = await api.request("POST", "/functions/echo", raw='{"x": {"__proto__": {"polluted": true}}}')
    assert reply.status == 400 and reply.body["code"] == 105
    assert (await api.post("/functions/ran")).body == {"result": 0}
    ok = await api.post("/functions/echo", {"name": "x", "proto": 1, "_bsontype": "Binary"})
    assert ok.status == 200 and ok.body == {"result": {"name": "x", "proto": 1, "_bsontype": "Binary"}}
    assert (await api.post("/functions/ran")).body == {"result": 1}
    unknown = await api.request("POST", "/functions/nope", raw='{"__proto__": 1}')
    assert unknown.status == 400 and unknown.body == {"code": 141, "error": 'Invalid function: "nope"'}


def test_denylist_unit():
    assert denylist.contains({"a": [{"b": {"__proto__": 1}}]}, {"key": "__proto__"})
    assert not denylist.contains({"proto": "__proto__"}, {"key": "__proto__"})
    assert denylist.contains({"proto": "x__proto__"}, {"value": "__proto__"})
    assert denylist.contains({"k": {"_bsontype": "NotCode"}}, {"key": "_bsontype", "value": "Code"})
    assert not denylist.contains({"k": {"_bsontype": "Binary"}}, {"key": "_bsontype", "value": "Code"})
    assert not denylist.contains({"n": 1, "b": True}, {"value": "1"})
    assert denylist.contains({"n": True}, {"value": True})
