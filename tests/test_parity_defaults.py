"""Parse Server 9 defaults: sanitized permission errors (and the switch that
brings the detailed messages back), and the CLP ``ACL`` key."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import make_settings, start_server

from bapp.config import Settings, apply_env, apply_parse_config

DENIED = "Permission denied"
PUBLIC = {op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete", "addField")}


def ptr(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def set_clp(api, class_name: str, clp: dict) -> None:
    reply = await api.put(f"/schemas/{class_name}", {"classLevelPermissions": clp}, master=True)
    if reply.status == 400 and reply.body["code"] == 103:
        reply = await api.post(f"/schemas/{class_name}", {"classLevelPermissions": clp}, master=True)
    assert reply.status == 200, reply.body


async def _refusals(api) -> list[tuple[str, object, int, int, str]]:
    """(what, reply, status, code, detailed message) for each kind of refusal."""
    ann = await api.signup("ann")
    token = ann["sessionToken"]
    await api.post("/classes/Closed", {"a": 1}, master=True)
    await set_clp(api, "Closed", {**PUBLIC, "find": {}})
    await api.post("/classes/Members", {"a": 1}, master=True)
    await set_clp(api, "Members", {**PUBLIC, "find": {"requiresAuthentication": True}})
    await api.post("/classes/Employee", {"name": "e", "salary": 10}, master=True)
    await set_clp(api, "Employee", {**PUBLIC, "protectedFields": {"*": ["salary"]}})
    out = [
        ("clp", await api.get("/classes/Closed", token=token), 400, 119,
         "Permission denied for action find on class Closed."),
        ("requiresAuthentication", await api.get("/classes/Members"), 404, 101,
         "Permission denied, user needs to be authenticated."),
        ("protected query", await api.get("/classes/Employee", params={"where": {"salary": 10}}, token=token),
         400, 119, "This user is not allowed to query salary on class Employee"),
        ("protected sort", await api.get("/classes/Employee", params={"order": "-salary"}, token=token),
         400, 119, "This user is not allowed to sort by salary on class Employee"),
        ("internal class", await api.get("/classes/_JobStatus", token=token), 400, 119,
         "Clients aren't allowed to perform the find operation on the _JobStatus collection."),
        ("join table", await api.post("/classes/_Join:users:_Role", {"owningId": "x"}, token=token), 400, 119,
         "Clients aren't allowed to perform the create operation on the _Join:users:_Role collection."),
        ("installation find", await api.get("/installations", token=token), 400, 119,
         "Clients aren't allowed to perform the find operation on the installation collection."),
        ("emailVerified", await api.post("/users", {"username": "x", "password": "p", "emailVerified": True}),
         400, 119, "Clients aren't allowed to manually update email verification."),
        ("missing class", await api.get("/classes/NeverMade", token=token), 400, 119,
         "This user is not allowed to access non-existent class: NeverMade"),
        ("foreign user", await api.put(f"/users/{ann['objectId']}", {"a": 1}), 400, 206,
         f"Cannot modify user {ann['objectId']}."),
        ("users/me", await api.get("/users/me"), 400, 209, "Invalid session token"),
        ("$or", await api.get("/classes/Employee", params={"where": {"$or": {"a": 1}}}, token=token), 400, 102,
         "$or must be an array"),
    ]
    return out


async def test_permission_errors_are_sanitized_by_default(api, caplog):
    caplog.set_level(logging.ERROR, logger="bapp.errors")
    for what, reply, status, code, detail in await _refusals(api):
        assert (reply.status, reply.body) == (status, {"code": code, "error": DENIED}), what
        assert detail in caplog.text, what  # the detail goes to the server log


async def test_master_only_routes_answer_permission_denied(api):
    routes = [("GET", "/schemas"), ("GET", "/schemas/Thing"), ("POST", "/schemas/Thing"),
              ("GET", "/aggregate/Thing"), ("GET", "/config/../schemas"), ("PUT", "/config"),
              ("DELETE", "/purge/Thing"), ("DELETE", "/files/abc_x.txt"), ("POST", "/jobs/any")]
    for method, path in routes:
        if ".." in path:
            continue
        reply = await api.request(method, path, {} if method in ("POST", "PUT") else None)
        assert (reply.status, reply.body) == (403, {"error": DENIED}), (method, path)
    distinct = await api.get("/aggregate/Thing", params={"distinct": "a"})
    assert (distinct.status, distinct.body) == (403, {"error": DENIED})
    # a wrong application id is no permission detail: unchanged
    wrong = await api.get("/classes/Thing", app_id="other")
    assert (wrong.status, wrong.body) == (403, {"error": "unauthorized"})
    # an invalid token is reported as such
    bad = await api.get("/classes/Thing", token="r:nope")
    assert (bad.status, bad.body) == (400, {"code": 209, "error": "Invalid session token"})


async def test_batch_sub_request_errors_are_sanitized(api):
    await api.post("/classes/Closed", {"a": 1}, master=True)
    await set_clp(api, "Closed", {**PUBLIC, "create": {}})
    reply = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Closed", "body": {"a": 2}},
        {"method": "GET", "path": "/parse/schemas"},
    ]})
    assert reply.status == 200
    assert reply.body == [{"error": {"code": 119, "error": DENIED}}, {"error": {"code": 119, "error": DENIED}}]


async def test_master_keeps_detailed_query_messages(api):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    reply = await api.get("/classes/Thing", params={"where": {"$or": {"a": 1}}}, master=True)
    assert reply.body == {"code": 102, "error": "Bad $or format - use an array value."}


async def test_detailed_messages_when_switched_off():
    settings = make_settings(sanitized_errors=False)
    server, session = await start_server(settings)
    from conftest import Client
    api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        for what, reply, status, code, detail in await _refusals(api):
            assert (reply.status, reply.body) == (status, {"code": code, "error": detail}), what
        schemas = await api.get("/schemas")
        assert (schemas.status, schemas.body) == (403, {"error": "unauthorized: master key is required"})
    finally:
        await session.close()
        await server.close()


def test_switch_from_parse_config_and_environment(tmp_path):
    assert Settings().sanitized_errors is True
    path = tmp_path / "parse.json"
    path.write_text(json.dumps({"appId": "a", "masterKey": "m", "enableSanitizedErrorResponse": False}))
    settings = Settings()
    apply_parse_config(settings, path)
    assert settings.sanitized_errors is False
    settings = Settings()
    apply_env(settings, {"BAPP_SANITIZED_ERRORS": "0"})
    assert settings.sanitized_errors is False
    apply_env(settings, {"BAPP_SANITIZED_ERRORS": "1"})
    assert settings.sanitized_errors is True


# ------------------------------------------------------------------ CLP ACL

async def test_default_clp_shows_the_public_acl(api):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    reply = await api.get("/schemas/Thing", master=True)
    clp = reply.body["classLevelPermissions"]
    assert clp["ACL"] == {"*": {"read": True, "write": True}}
    assert clp["find"] == {"*": True} and clp["protectedFields"] == {"*": []}
    # a stored CLP without ACL shows none (as Parse Server), and objects stay public
    await set_clp(api, "Thing", PUBLIC)
    assert "ACL" not in (await api.get("/schemas/Thing", master=True)).body["classLevelPermissions"]
    created = await api.post("/classes/Thing", {"a": 2})
    assert created.status == 201 and "ACL" not in created.body


async def test_clp_acl_with_current_user(api):
    ann = await api.signup("ann")
    bob = await api.signup("bob")
    await api.post("/classes/Note", {"a": 1}, master=True)
    await set_clp(api, "Note", {**PUBLIC, "ACL": {"currentUser": {"read": True, "write": True},
                                                   "role:Moderators": {"read": True}}})
    shown = (await api.get("/schemas/Note", master=True)).body["classLevelPermissions"]["ACL"]
    assert shown == {"currentUser": {"read": True, "write": True}, "role:Moderators": {"read": True}}
    created = await api.post("/classes/Note", {"text": "mine"}, token=ann["sessionToken"])
    assert created.status == 201
    expected = {ann["objectId"]: {"read": True, "write": True}, "role:Moderators": {"read": True}}
    assert created.body["ACL"] == expected
    oid = created.body["objectId"]
    assert (await api.get(f"/classes/Note/{oid}", master=True)).body["ACL"] == expected
    assert (await api.get(f"/classes/Note/{oid}", token=ann["sessionToken"])).status == 200
    assert (await api.get(f"/classes/Note/{oid}", token=bob["sessionToken"])).status == 404
    # an explicit ACL wins
    explicit = await api.post("/classes/Note", {"text": "open", "ACL": {"*": {"read": True}}},
                              token=ann["sessionToken"])
    assert "ACL" not in explicit.body
    got = await api.get(f"/classes/Note/{explicit.body['objectId']}", token=bob["sessionToken"])
    assert got.status == 200 and got.body["ACL"] == {"*": {"read": True}}
    # an update never applies it
    await api.put(f"/classes/Note/{explicit.body['objectId']}", {"text": "x"}, master=True)
    again = await api.get(f"/classes/Note/{explicit.body['objectId']}", master=True)
    assert again.body["ACL"] == {"*": {"read": True}}
    # without a user, currentUser stands for nobody
    anonymous = await api.post("/classes/Note", {"text": "anon"})
    assert anonymous.status == 201 and anonymous.body["ACL"] == {"role:Moderators": {"read": True}}


async def test_clp_acl_false_rights_grant_nothing(api):
    await api.post("/classes/Board", {"a": 1}, master=True)
    await set_clp(api, "Board", {**PUBLIC, "ACL": {"*": {"read": True, "write": False}}})
    created = await api.post("/classes/Board", {"a": 2})
    assert created.body["ACL"] == {"*": {"read": True}}
    oid = created.body["objectId"]
    assert (await api.get(f"/classes/Board/{oid}")).status == 200
    assert (await api.put(f"/classes/Board/{oid}", {"a": 3})).status == 404


@pytest.mark.parametrize("acl,message", [
    ({"*": True}, "'true' is not a valid value for class level permissions acl"),
    ({"*": {"read": True, "delete": True}}, "'delete' is not a valid key for class level permissions acl"),
    ({"*": {"read": "yes"}}, "'yes' is not a valid value for class level permissions acl"),
    ({"bad key!": {"read": True}}, "'bad key!' is not a valid key for class level permissions"),
    ([], None),
])
async def test_clp_acl_validation(api, acl, message):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    reply = await api.put("/schemas/Thing", {"classLevelPermissions": {**PUBLIC, "ACL": acl}}, master=True)
    if message is None:
        assert reply.status == 200
        return
    assert (reply.status, reply.body) == (400, {"code": 107, "error": message})


async def test_clp_value_message_is_parse_server_9s(api):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    reply = await api.put("/schemas/Thing", {"classLevelPermissions": {"find": {"*": False}}}, master=True)
    assert reply.body == {"code": 107, "error": "'false' is not a valid value for class level permissions acl find:*"}
