"""Validation on write against the schema: types (111), required fields
(142), default values, schema on write and the addField CLP — through REST,
batch, hooks and direct engine calls (what cloud code uses)."""

from __future__ import annotations

import pytest

from bapp.core.auth import Auth
from bapp.errors import ParseError

GEO = {"__type": "GeoPoint", "latitude": 1, "longitude": 2}


def error(code, message):
    return {"code": code, "error": message}


async def schema(api, name, fields=None, clp=None):
    body = {"className": name, "fields": fields or {}}
    if clp is not None:
        body["classLevelPermissions"] = clp
    reply = await api.post("/schemas", body, master=True)
    assert reply.status == 200, reply.body


async def fields_of(api, name):
    reply = await api.get(f"/schemas/{name}", master=True)
    assert reply.status == 200, reply.body
    return reply.body["fields"]


# ---------------------------------------------------------------- types

async def test_type_mismatch_is_111(api):
    await schema(api, "T", {"n": {"type": "Number"}, "p": {"type": "Pointer", "targetClass": "A"}})
    reply = await api.post("/classes/T", {"n": "five"})
    assert (reply.status, reply.body) == (400, error(111, "schema mismatch for T.n; expected Number but got String"))
    reply = await api.post("/classes/T", {"p": {"__type": "Pointer", "className": "B", "objectId": "x"}})
    assert reply.body == error(111, "schema mismatch for T.p; expected Pointer<A> but got Pointer<B>")
    status, obj = await api.post("/classes/T", {"n": 1})
    reply = await api.put(f"/classes/T/{obj['objectId']}", {"n": {"__op": "Add", "objects": [1]}})
    assert reply.body == error(111, "schema mismatch for T.n; expected Number but got Array")
    status, stored = await api.get(f"/classes/T/{obj['objectId']}")
    assert stored["n"] == 1


async def test_types_learnt_from_first_write_are_enforced(api):
    assert (await api.post("/classes/Learn", {"a": "text"}, master=True)).status == 201
    assert (await fields_of(api, "Learn"))["a"] == {"type": "String"}
    reply = await api.post("/classes/Learn", {"a": 3}, master=True)
    assert reply.body == error(111, "schema mismatch for Learn.a; expected String but got Number")


async def test_null_and_unset_do_not_type_or_add_fields(api):
    status, obj = await api.post("/classes/Nulls", {"a": None, "b": {"__op": "Delete"}}, master=True)
    assert status == 201
    assert set(await fields_of(api, "Nulls")) == {"objectId", "createdAt", "updatedAt", "ACL"}


async def test_geopoint_rules(api):
    reply = await api.post("/classes/Geo", {"g1": GEO, "g2": GEO}, master=True)
    assert reply.body == error(111, "there can only be one geopoint field in a class")
    assert (await api.post("/classes/Geo", {"g1": GEO}, master=True)).status == 201
    reply = await api.post("/classes/Geo", {"g2": GEO}, master=True)
    assert reply.body == error(111, "MongoDB only supports one GeoPoint field in a class.")
    assert (await api.post("/classes/Geo", {"g1": GEO}, master=True)).status == 201


async def test_nested_keys_need_an_object_field(api):
    await schema(api, "Nest", {"obj": {"type": "Object"}, "s": {"type": "String"}})
    status, obj = await api.post("/classes/Nest", {"obj": {"a": 1}, "s": "x"})
    reply = await api.put(f"/classes/Nest/{obj['objectId']}", {"s.inner": 1})
    assert reply.body == error(111, "schema mismatch for Nest.s; expected String but got Object")
    reply = await api.put(f"/classes/Nest/{obj['objectId']}", {"obj.b": 2})
    assert reply.status == 200
    assert (await api.get(f"/classes/Nest/{obj['objectId']}")).body["obj"] == {"a": 1, "b": 2}


# ---------------------------------------------------------------- required and defaults

REQUIRED_FIELDS = {
    "req": {"type": "String", "required": True},
    "reqDefault": {"type": "String", "required": True, "defaultValue": "some value"},
    "opt": {"type": "String", "required": False},
    "optDefault": {"type": "String", "required": False, "defaultValue": "some value"},
    "plainDefault": {"type": "Number", "defaultValue": 0},
    "plain": {"type": "String"},
}


async def test_required_on_create(api):
    await schema(api, "R", REQUIRED_FIELDS)
    for body in ({}, {"req": None}, {"req": ""}, {"req": {"__op": "Delete"}}):
        reply = await api.post("/classes/R", body)
        assert (reply.status, reply.body) == (400, error(142, "req is required")), body
    reply = await api.post("/classes/R", {"req": "x", "reqDefault": None})
    assert reply.body == error(142, "reqDefault is required")
    assert (await api.get("/classes/R", params={"count": 1, "limit": 0})).body == {"results": [], "count": 0}


async def test_defaults_filled_on_create_and_echoed(api, bapp_store):
    await schema(api, "R", REQUIRED_FIELDS)
    status, body = await api.post("/classes/R", {"req": "x", "optDefault": None})
    assert status == 201
    # Defaults the server filled come back like fields a beforeSave changed.
    assert set(body) == {"objectId", "createdAt", "reqDefault", "plainDefault"}
    assert (body["reqDefault"], body["plainDefault"]) == ("some value", 0)
    status, stored = await api.get(f"/classes/R/{body['objectId']}")
    assert stored["req"] == "x" and stored["reqDefault"] == "some value" and stored["plainDefault"] == 0
    # An explicit null is kept, not defaulted (a SQL column reads it back as missing).
    assert stored.get("optDefault", "missing") is (None if bapp_store == "memory" else "missing")
    assert "opt" not in stored and "plain" not in stored
    status, body = await api.post("/classes/R", {"req": "x", "reqDefault": {"__op": "Delete"}, "opt": ""})
    assert status == 201 and body["reqDefault"] == "some value"
    status, stored = await api.get(f"/classes/R/{body['objectId']}")
    assert stored["opt"] == ""


async def test_sent_values_beat_defaults(api):
    await schema(api, "R", REQUIRED_FIELDS)
    status, body = await api.post("/classes/R", {"req": "a", "reqDefault": "b", "optDefault": "c", "plainDefault": 7})
    assert status == 201 and set(body) == {"objectId", "createdAt"}
    status, stored = await api.get(f"/classes/R/{body['objectId']}")
    assert (stored["reqDefault"], stored["optDefault"], stored["plainDefault"]) == ("b", "c", 7)


async def test_required_on_update(api, bapp_store):
    await schema(api, "R", REQUIRED_FIELDS)
    status, obj = await api.post("/classes/R", {"req": "x"})
    path = f"/classes/R/{obj['objectId']}"
    for body, name in (({"req": None}, "req"), ({"req": ""}, "req"), ({"req": {"__op": "Delete"}}, "req"),
                       ({"reqDefault": {"__op": "Delete"}}, "reqDefault"), ({"reqDefault": ""}, "reqDefault")):
        reply = await api.put(path, body)
        assert (reply.status, reply.body) == (400, error(142, f"{name} is required")), body
    reply = await api.put(path, {"opt": "", "optDefault": None, "plain": {"__op": "Delete"}, "req": "y"})
    assert reply.status == 200
    status, stored = await api.get(path)
    assert (stored["req"], stored["reqDefault"], stored["opt"]) == ("y", "some value", "")
    assert stored.get("optDefault", "missing") == (None if bapp_store == "memory" else "missing")


async def test_required_and_defaults_after_before_save(api):
    await schema(api, "Hooked", {
        "foo1": {"type": "String"}, "foo2": {"type": "String", "required": True},
        "foo3": {"type": "String", "required": True, "defaultValue": "default 3"},
        "foo4": {"type": "String", "defaultValue": "default 4"},
    })
    mode = {"drop": False}

    def before_save(req):
        req.object["foo2"] = "set by hook"
        if mode["drop"]:
            req.object.pop("foo3", None)
            req.object.pop("foo4", None)

    api.engine.triggers.add_trigger("beforeSave", "Hooked", before_save)
    status, body = await api.post("/classes/Hooked", {})
    assert status == 201
    assert (body["foo2"], body["foo3"], body["foo4"]) == ("set by hook", "default 3", "default 4")
    mode["drop"] = True
    status, body = await api.post("/classes/Hooked", {"foo3": "mine", "foo4": "mine"})
    assert status == 201 and (body["foo3"], body["foo4"]) == ("default 3", "default 4")


async def test_batch_and_engine_calls_use_the_same_rules(api):
    await schema(api, "R", REQUIRED_FIELDS)
    status, body = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/R", "body": {}},
        {"method": "POST", "path": "/parse/classes/R", "body": {"req": 5}},
        {"method": "POST", "path": "/parse/classes/R", "body": {"req": "ok"}},
    ]})
    assert status == 200
    assert body[0] == {"error": error(142, "req is required")}
    assert body[1] == {"error": error(111, "schema mismatch for R.req; expected String but got Number")}
    assert body[2]["success"]["reqDefault"] == "some value"
    with pytest.raises(ParseError) as caught:
        await api.engine.create("R", {"opt": "x"}, Auth.as_master())
    assert (caught.value.code, caught.value.message) == (142, "req is required")
    created = await api.engine.create("R", {"req": "x"}, Auth.as_master())
    assert created["plainDefault"] == 0


# ---------------------------------------------------------------- schema on write

async def test_client_class_creation_follows_the_setting(api):
    reply = await api.post("/classes/Brand", {"a": 1})
    assert (reply.status, reply.body) == (400, error(119, "Permission denied"))
    assert (await api.get("/schemas/Brand", master=True)).status == 400
    assert (await api.post("/classes/Brand", {"a": 1}, master=True)).status == 201
    api.engine.settings.allow_client_class_creation = True
    assert (await api.post("/classes/Fresh", {"a": 1})).status == 201
    assert (await fields_of(api, "Fresh"))["a"] == {"type": "Number"}


async def test_add_field_clp(api):
    await schema(api, "AClass", {"known": {"type": "String"}},
                 {"create": {"*": True}, "find": {"*": True}, "update": {"*": True}, "addField": {"role:admin": True}})
    reply = await api.post("/classes/AClass", {"hello": "world"})
    assert (reply.status, reply.body) == (400, error(119, "Permission denied"))
    reply = await api.post("/classes/AClass", {"hello": None})  # a null still names a new field
    assert reply.body == error(119, "Permission denied")
    status, obj = await api.post("/classes/AClass", {"known": "x", "gone": {"__op": "Delete"}})
    assert status == 201
    reply = await api.put(f"/classes/AClass/{obj['objectId']}", {"other": 1})
    assert reply.body == error(119, "Permission denied")
    assert "hello" not in await fields_of(api, "AClass")
    assert (await api.post("/classes/AClass", {"hello": "world"}, master=True)).status == 201


async def test_add_field_not_needed_for_nested_keys(api):
    await schema(api, "Nested", {"a": {"type": "Object"}},
                 {"create": {"*": True}, "update": {"*": True}, "addField": {}})
    status, obj = await api.post("/classes/Nested", {"a": {}})
    assert status == 201
    assert (await api.put(f"/classes/Nested/{obj['objectId']}", {"a.b": 2})).status == 200


async def test_add_field_requires_authentication(api):
    await schema(api, "AuthOnly", {}, {"create": {"*": True}, "addField": {"requiresAuthentication": True}})
    reply = await api.post("/classes/AuthOnly", {"x": 1})
    assert (reply.status, reply.body) == (404, error(101, "Permission denied"))
    user = await api.signup("alice")
    assert (await api.post("/classes/AuthOnly", {"x": 1}, token=user["sessionToken"])).status == 201


async def test_add_field_pointer_permission_only_on_update_of_own_objects(api):
    await schema(api, "Owned", {"owner": {"type": "Pointer", "targetClass": "_User"}},
                 {"create": {"*": True}, "get": {"*": True}, "update": {"*": True},
                  "addField": {"pointerFields": ["owner"]}})
    alice, bob = await api.signup("alice"), await api.signup("bob")
    owner = {"__type": "Pointer", "className": "_User", "objectId": alice["objectId"]}
    reply = await api.post("/classes/Owned", {"owner": owner, "extra": 1}, token=alice["sessionToken"])
    assert reply.body == error(119, "Permission denied")
    status, obj = await api.post("/classes/Owned", {"owner": owner}, token=alice["sessionToken"])
    path = f"/classes/Owned/{obj['objectId']}"
    reply = await api.put(path, {"extra": 1}, token=bob["sessionToken"])
    assert (reply.status, reply.body) == (404, error(101, "Object not found."))
    assert (await api.put(path, {"extra": 2}, token=alice["sessionToken"])).status == 200
    assert (await api.get(path)).body["extra"] == 2


async def test_write_user_fields_allow_adding_fields(api):
    await schema(api, "Shared", {"editors": {"type": "Array"}},
                 {"create": {"*": True}, "update": {}, "addField": {}, "writeUserFields": ["editors"]})
    alice = await api.signup("alice")
    ptr = {"__type": "Pointer", "className": "_User", "objectId": alice["objectId"]}
    status, body = await api.post("/classes/Shared", {"editors": [ptr], "note": "x"}, token=alice["sessionToken"])
    assert status == 201, body
