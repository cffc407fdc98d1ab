"""The schema API (/schemas): shapes, errors and storage, as Parse Server."""

from __future__ import annotations

import orjson
import pytest

from bapp.core import schema_api
from tests.conftest import APP_ID, MASTER_KEY, SQL_STORES, make_settings, sql_row, sql_tables

DEFAULT_FIELDS = {
    "objectId": {"type": "String"},
    "createdAt": {"type": "Date"},
    "updatedAt": {"type": "Date"},
    "ACL": {"type": "ACL"},
}
PUBLIC_CLP = {
    "ACL": {"*": {"read": True, "write": True}},
    "find": {"*": True}, "count": {"*": True}, "get": {"*": True}, "create": {"*": True},
    "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True}, "protectedFields": {"*": []},
}
USER_SCHEMA = {
    "className": "_User",
    "fields": {**DEFAULT_FIELDS, "username": {"type": "String"}, "password": {"type": "String"},
               "email": {"type": "String"}, "emailVerified": {"type": "Boolean"}, "authData": {"type": "Object"}},
    "classLevelPermissions": PUBLIC_CLP,
}
ROLE_SCHEMA = {
    "className": "_Role",
    "fields": {**DEFAULT_FIELDS, "name": {"type": "String"},
               "users": {"type": "Relation", "targetClass": "_User"},
               "roles": {"type": "Relation", "targetClass": "_Role"}},
    "classLevelPermissions": PUBLIC_CLP,
}
READ_ONLY_KEY = "test-read-only-key"


@pytest.fixture
def settings():
    return make_settings(read_only_master_key=READ_ONLY_KEY)


class Result(tuple):
    """(status, body) that still has .status and .body."""

    status = property(lambda self: self[0])
    body = property(lambda self: self[1])


class TupleClient:
    """The conftest client whose replies compare equal to (status, body)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name not in ("get", "post", "put", "delete", "request"):
            return attr

        async def call(*args, **kwargs):
            reply = await attr(*args, **kwargs)
            return Result((reply.status, reply.body))

        return call


@pytest.fixture
def api(api):
    return TupleClient(api)


async def create(api, body, path="/schemas"):
    return await api.post(path, body, master=True)


def error(code, message):
    return {"code": code, "error": message}


# ---------------------------------------------------------------- access

@pytest.mark.parametrize("method,path", [
    ("GET", "/schemas"), ("GET", "/schemas/Foo"), ("POST", "/schemas"), ("POST", "/schemas/Foo"),
    ("PUT", "/schemas/Foo"), ("DELETE", "/schemas/Foo"),
])
async def test_master_key_required(api, method, path):
    reply = await api.request(method, path, {} if method in ("POST", "PUT") else None)
    assert (reply.status, reply.body) == (403, {"error": "Permission denied"})


async def test_session_user_is_not_enough(api):
    user = await api.signup("alice")
    reply = await api.get("/schemas", token=user["sessionToken"])
    assert (reply.status, reply.body) == (403, {"error": "Permission denied"})


async def test_read_only_master_key_reads_but_cannot_change(api):
    ro = {"X-Parse-Master-Key": READ_ONLY_KEY}
    status, body = await api.get("/schemas/_User", headers=ro)
    assert status == 200 and body["className"] == "_User"
    for method, path in (("POST", "/schemas/Foo"), ("PUT", "/schemas/_User"), ("DELETE", "/schemas/_User")):
        reply = await api.request(method, path, {}, headers=ro)
        assert (reply.status, reply.body) == (400, error(119, "Permission denied"))


# ---------------------------------------------------------------- read

async def test_fresh_server_lists_user_and_role(api):
    status, body = await api.get("/schemas", master=True)
    assert status == 200
    assert sorted(body["results"], key=lambda s: s["className"]) == [ROLE_SCHEMA, USER_SCHEMA]


async def test_sdk_envelope_and_trailing_slash(api):
    envelope = {"_method": "GET", "_ApplicationId": APP_ID, "_MasterKey": MASTER_KEY, "_ClientVersion": "js8.6.2"}
    reply = await api.request("POST", "/schemas/_Role", raw=orjson.dumps(envelope),
                              headers={"Content-Type": "text/plain"}, app_id=None)
    assert (reply.status, reply.body) == (200, ROLE_SCHEMA)
    status, body = await api.get("/schemas/", master=True)  # Parse.Schema.all()
    assert status == 200 and len(body["results"]) == 2


async def test_unknown_class_is_103_and_case_sensitive(api):
    await api.post("/classes/HasAll", {"n": 1}, master=True)
    assert (await api.get("/schemas/HASALL", master=True)) == (400, error(103, "Class HASALL does not exist."))
    assert (await api.get("/schemas/AccLive", master=True)) == (400, error(103, "Class AccLive does not exist."))


async def test_schema_of_objects_created_by_writes(api):
    geo = {"__type": "GeoPoint", "latitude": 1, "longitude": 2}
    date = {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}
    status, obj = await api.post("/classes/HasAll", {
        "aNumber": 5, "aString": "s", "aBool": True, "aDate": date, "aObject": {"k": 1}, "aArray": [1],
        "aGeoPoint": geo, "aFile": {"__type": "File", "name": "f.txt"},
        "aPointer": {"__type": "Pointer", "className": "Other", "objectId": "x1"},
        "aRelation": {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "Other", "objectId": "x1"}]},
    }, master=True)
    assert status == 201, obj
    status, body = await api.get("/schemas/HasAll", master=True)
    assert status == 200
    assert body == {"className": "HasAll", "fields": {
        **DEFAULT_FIELDS, "aNumber": {"type": "Number"}, "aString": {"type": "String"},
        "aBool": {"type": "Boolean"}, "aDate": {"type": "Date"}, "aObject": {"type": "Object"},
        "aArray": {"type": "Array"}, "aGeoPoint": {"type": "GeoPoint"}, "aFile": {"type": "File"},
        "aPointer": {"type": "Pointer", "targetClass": "Other"},
        "aRelation": {"type": "Relation", "targetClass": "Other"},
    }, "classLevelPermissions": PUBLIC_CLP}


async def test_volatile_class_schema(api):
    status, body = await api.get("/schemas/_GlobalConfig", master=True)
    assert status == 200
    assert body == {"className": "_GlobalConfig", "classLevelPermissions": {}, "fields": {
        **DEFAULT_FIELDS, "params": {"type": "Object"}, "masterKeyOnly": {"type": "Object"}}}


# ---------------------------------------------------------------- create

async def test_create_with_field_options_and_stored_layout(api):
    status, body = await create(api, {"className": "WithOptions", "fields": {
        "foo1": {"type": "Number"},
        "foo2": {"type": "Number", "required": True, "defaultValue": 10},
        "foo3": {"type": "String", "required": False, "defaultValue": "some string"},
        "ptr": {"type": "Pointer", "targetClass": "SomeClass", "required": False},
        "rel": {"type": "Relation", "targetClass": "SomeClass"},
    }})
    assert status == 200
    expected = {"className": "WithOptions", "fields": {
        **DEFAULT_FIELDS,
        "foo1": {"type": "Number"},
        "foo2": {"type": "Number", "required": True, "defaultValue": 10},
        "foo3": {"type": "String", "required": False, "defaultValue": "some string"},
        "ptr": {"type": "Pointer", "targetClass": "SomeClass", "required": False},
        "rel": {"type": "Relation", "targetClass": "SomeClass"},
    }, "classLevelPermissions": PUBLIC_CLP}
    assert body == expected
    assert (await api.get("/schemas/WithOptions", master=True)) == (200, expected)
    docs = {d["_id"]: d for d in await api.engine.storage.load_schemas()}
    assert docs["WithOptions"] == {
        "_id": "WithOptions", "objectId": "string", "updatedAt": "string", "createdAt": "string",
        "foo1": "number", "foo2": "number", "foo3": "string", "ptr": "*SomeClass",
        "rel": "relation<SomeClass>",
        "_metadata": {"fields_options": {
            "foo2": {"required": True, "defaultValue": 10},
            "foo3": {"required": False, "defaultValue": "some string"},
            "ptr": {"required": False},
        }},
    }


async def test_create_with_name_in_path_and_body(api):
    status, body = await create(api, {"className": "NewClass"}, "/schemas/NewClass")
    assert (status, body) == (200, {"className": "NewClass", "fields": DEFAULT_FIELDS,
                                    "classLevelPermissions": PUBLIC_CLP})


async def test_create_errors(api):
    assert await create(api, {"className": "B"}, "/schemas/A") == (400, error(103, "Class name mismatch between B and A."))
    assert await create(api, {}) == (400, error(135, "POST /schemas needs a class name."))
    assert (await create(api, {"className": "A"}))[0] == 200
    assert await create(api, {"className": "A"}) == (400, error(103, "Class A already exists."))
    assert await create(api, {}, "/schemas/_User") == (400, error(103, "Class _User already exists."))
    assert await create(api, {"className": "1bad"}) == (400, error(
        103, "Invalid classname: 1bad, classnames can only have alphanumeric characters and _, and must start "
             "with an alpha character "))


@pytest.mark.parametrize("fields,expected", [
    ({"1bad": {"type": "String"}}, error(105, "invalid field name: 1bad")),
    ({"objectId": {"type": "String"}}, error(136, "field objectId cannot be added")),
    ({"f": {"type": "fake type"}}, error(111, "invalid field type: fake type")),
    ({"f": {"type": 7}}, error(107, "invalid JSON")),
    ({"f": {"type": "Pointer"}}, error(135, "type Pointer needs a class name")),
    ({"f": {"type": "Relation", "targetClass": "1x"}}, error(
        103, "Invalid classname: 1x, classnames can only have alphanumeric characters and _, and must start with "
             "an alpha character ")),
    ({"f": {"type": "String", "defaultValue": 10}}, error(
        111, "schema mismatch for C.f default value; expected String but got Number")),
    ({"f": {"type": "Pointer", "targetClass": "A", "defaultValue": {"__type": "Pointer", "className": "B", "objectId": "x"}}},
     error(111, "schema mismatch for C.f default value; expected Pointer<A> but got Pointer<B>")),
    ({"f": {"type": "Relation", "targetClass": "A", "required": True}}, error(
        111, "The 'required' option is not applicable for Relation<A>")),
    ({"f": {"type": "Relation", "targetClass": "A", "defaultValue": {"__type": "Relation", "className": "_User"}}},
     error(111, "The 'default value' option is not applicable for Relation<A>")),
    ({"g1": {"type": "GeoPoint"}, "g2": {"type": "GeoPoint"}}, error(
        111, "currently, only one GeoPoint field may exist in an object. Adding g2 when g1 already exists.")),
])
async def test_create_field_errors(api, fields, expected):
    assert await create(api, {"className": "C", "fields": fields}) == (400, expected)
    assert (await api.get("/schemas/C", master=True))[0] == 400  # nothing was created


async def test_create_system_class_field_cannot_be_redeclared(api):
    await api.delete("/schemas/_Role", master=True)
    reply = await create(api, {"fields": {"name": {"type": "String"}}}, "/schemas/_Role")
    assert reply == (400, error(136, "field name cannot be added"))


# ---------------------------------------------------------------- update

async def make_class(api, name="Thing", fields=None):
    status, body = await create(api, {"className": name, "fields": fields or {}})
    assert status == 200, body


async def test_update_errors(api):
    await make_class(api, fields={"aString": {"type": "String"}, "g": {"type": "GeoPoint"}})
    put = lambda body: api.put("/schemas/Thing", body, master=True)  # noqa: E731
    assert await api.put("/schemas/NoClass", {"fields": {"x": {"type": "String"}}}, master=True) == (
        400, error(103, "Class NoClass does not exist."))
    assert await put({"className": "Wrong"}) == (400, error(103, "Class name mismatch between Wrong and Thing."))
    assert await put({"fields": {"aString": {"type": "Number"}}}) == (400, error(255, "Field aString exists, cannot update."))
    assert await put({"fields": {"nope": {"__op": "Delete"}}}) == (
        400, error(255, "Field nope does not exist, cannot delete."))
    assert await put({"fields": {"createdAt": {"__op": "Delete"}}}) == (
        400, error(136, "field createdAt cannot be changed"))
    assert await put({"fields": {"g2": {"type": "GeoPoint"}}}) == (400, error(
        111, "currently, only one GeoPoint field may exist in an object. Adding g2 when g already exists."))
    assert await put({"fields": {"bad": {"type": "fake type"}, "aString": {"__op": "Delete"}}}) == (
        400, error(111, "invalid field type: fake type"))
    status, body = await api.get("/schemas/Thing", master=True)
    assert set(body["fields"]) == set(DEFAULT_FIELDS) | {"aString", "g"}  # nothing was deleted


async def test_update_adds_and_deletes_fields_and_their_data(api, bapp_store):
    await make_class(api, fields={"aString": {"type": "String"}, "aNumber": {"type": "Number"},
                                  "geo1": {"type": "GeoPoint"}, "rel": {"type": "Relation", "targetClass": "Thing"}})
    status, obj = await api.post("/classes/Thing", {"aString": "s", "aNumber": 1}, master=True)
    await api.put(f"/classes/Thing/{obj['objectId']}", {"rel": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "Thing", "objectId": obj["objectId"]}]}}, master=True)
    status, body = await api.put("/schemas/Thing", {"fields": {
        "aString": {"__op": "Delete"}, "geo1": {"__op": "Delete"}, "rel": {"__op": "Delete"},
        "geo2": {"type": "GeoPoint"}, "opt": {"type": "String", "required": True, "defaultValue": "x"},
    }}, master=True)
    assert status == 200
    assert body == {"className": "Thing", "fields": {
        **DEFAULT_FIELDS, "aNumber": {"type": "Number"}, "geo2": {"type": "GeoPoint"},
        "opt": {"type": "String", "required": True, "defaultValue": "x"},
    }, "classLevelPermissions": PUBLIC_CLP}
    status, fetched = await api.get(f"/classes/Thing/{obj['objectId']}", master=True)
    assert "aString" not in fetched and fetched["aNumber"] == 1
    if bapp_store in SQL_STORES:
        assert "aString" not in await sql_row(api, "Thing", obj["objectId"])
        assert "_Join:rel:Thing" not in await sql_tables(api)
        return
    raw = await api.engine.storage.db["Thing"].find_one({"_id": obj["objectId"]})
    assert "aString" not in raw
    assert "_Join:rel:Thing" not in await api.engine.storage.db.list_collection_names()


async def test_put_without_changes_returns_schema(api):
    await make_class(api, fields={"a": {"type": "String"}})
    status, body = await api.put("/schemas/Thing", {}, master=True)
    assert (status, body) == (200, {"className": "Thing", "fields": {**DEFAULT_FIELDS, "a": {"type": "String"}},
                                     "classLevelPermissions": PUBLIC_CLP})


async def test_redeclared_field_takes_the_new_options(api):
    await make_class(api, fields={"a": {"type": "String"}, "p": {"type": "Pointer", "targetClass": "X"}})
    status, body = await api.put("/schemas/Thing", {"fields": {"a": {"type": "String", "required": True}}}, master=True)
    assert status == 200 and body["fields"]["a"] == {"type": "String", "required": True}
    assert await api.put("/schemas/Thing", {"fields": {"p": {"type": "Pointer", "targetClass": "Y"}}}, master=True) == (
        400, error(111, "schema mismatch for Thing.p; expected Pointer<X> but got Pointer<Y>"))
    assert await api.put("/schemas/Thing", {"fields": {"a": {"type": "String", "defaultValue": 1}}}, master=True) == (
        400, error(111, "schema mismatch for Thing.a default value; expected String but got Number"))


async def test_fields_added_to_system_class(api):
    status, body = await api.put("/schemas/_User", {"fields": {"newField": {"type": "String"}}}, master=True)
    assert status == 200
    assert body["fields"] == {**USER_SCHEMA["fields"], "newField": {"type": "String"}}
    # The update answer merges the protectedFields server option; GET shows the stored CLP.
    assert body["classLevelPermissions"] == {**PUBLIC_CLP, "protectedFields": {"*": ["email"]}}
    status, body = await api.get("/schemas/_User", master=True)
    assert body["classLevelPermissions"] == PUBLIC_CLP
    assert await api.put("/schemas/_User", {"fields": {"username": {"__op": "Delete"}}}, master=True) == (
        400, error(136, "field username cannot be changed"))


# ---------------------------------------------------------------- CLPs

async def test_clp_set_and_read_back_with_missing_operations_empty(api):
    clp = {"find": {"*": True}, "create": {"role:admin": True}}
    status, body = await create(api, {"classLevelPermissions": clp}, "/schemas/AClass")
    assert status == 200
    expected = {"find": {"*": True}, "count": {}, "get": {}, "create": {"role:admin": True}, "update": {},
                "delete": {}, "addField": {}, "protectedFields": {}}
    assert body["classLevelPermissions"] == expected
    assert (await api.get("/schemas/AClass", master=True)).body["classLevelPermissions"] == expected
    doc = next(d for d in await api.engine.storage.load_schemas() if d["_id"] == "AClass")
    assert doc["_metadata"] == {"class_permissions": clp}
    status, body = await api.put("/schemas/AClass", {"classLevelPermissions": None}, master=True)
    assert body["classLevelPermissions"] == PUBLIC_CLP


@pytest.mark.parametrize("clp,message", [
    ({"find": {"*": True}, "dummy": {"some": True}}, "dummy is not a valid operation for class level permissions"),
    ({"find": {"12345_6789": True}}, "'12345_6789' is not a valid key for class level permissions"),
    ({"find": {" *": True}}, "' *' is not a valid key for class level permissions"),
    ({"find": {"* ": True}}, "'* ' is not a valid key for class level permissions"),
    ({"find": {"*": 1}}, "'1' is not a valid value for class level permissions acl find:*"),
    ({"find": {"*": ""}}, "'' is not a valid value for class level permissions acl find:*"),
    ({"get": True}, "'true' is not a valid value for class level permissions get - must be an object"),
    ({"get": "wrongtype"}, "'wrongtype' is not a valid value for class level permissions get - must be an object"),
    ({"readUserFields": True}, "'true' is not a valid value for class level permissions readUserFields - must be an array"),
    ({"get": {"pointerFields": {}}}, "'[object Object]' is not a valid value for get[pointerFields] - expected an array."),
    ({"get": {"pointerFields": ["name"]}}, "'name' is not a valid column for class level pointer permissions [object Object]"),
    ({"readUserFields": ["missing"]}, "'missing' is not a valid column for class level pointer permissions readUserFields"),
    ({"protectedFields": {"*": ["objectId"]}}, "Default field 'objectId' can not be protected"),
    ({"protectedFields": {"*": ["nope"]}}, "Field 'nope' in protectedFields:* does not exist"),
    ({"protectedFields": {"bad key!": []}}, "'bad key!' is not a valid key for class level permissions"),
    ({"protectedFields": {"*": "name"}}, "'name' is not a valid value for protectedFields[*] - expected an array."),
])
async def test_clp_validation_errors(api, clp, message):
    await make_class(api, "AClass", {"name": {"type": "String"}})
    assert await api.put("/schemas/AClass", {"classLevelPermissions": clp}, master=True) == (400, error(107, message))
    assert await create(api, {"className": "BClass", "fields": {"name": {"type": "String"}},
                              "classLevelPermissions": clp}) == (400, error(107, message))


async def test_clp_pointer_and_protected_fields_accepted(api):
    clp = {"find": {"requiresAuthentication": True}, "get": {"pointerFields": ["owner", "members"], "role:x": True},
           "update": {"u1": True}, "readUserFields": ["owner"], "writeUserFields": ["members"],
           "protectedFields": {"*": ["secret"], "userField:owner": [], "role:x": ["secret"]}}
    status, body = await create(api, {"className": "Owned", "classLevelPermissions": clp, "fields": {
        "owner": {"type": "Pointer", "targetClass": "_User"}, "members": {"type": "Array"}, "secret": {"type": "String"}}})
    assert status == 200, body
    assert body["classLevelPermissions"] == {"count": {}, "create": {}, "delete": {}, "addField": {}, **clp}


async def test_custom_object_ids_allow_any_user_key(api):
    api.engine.settings.allow_custom_object_id = True
    status, body = await create(api, {"classLevelPermissions": {"find": {"set:ID+symbol$=@llowed": True, "1": True}}},
                                "/schemas/AClass")
    assert status == 200 and body["classLevelPermissions"]["find"] == {"set:ID+symbol$=@llowed": True, "1": True}


# ---------------------------------------------------------------- indexes

async def test_indexes_on_create_are_stored_as_sent_and_built(api):
    status, body = await create(api, {"className": "Idx", "fields": {"aString": {"type": "String"}},
                                      "indexes": {"name1": {"aString": 1}}})
    assert status == 200 and body["indexes"] == {"name1": {"aString": 1}}
    assert (await api.engine.storage.indexes("Idx")) == {"_id_": {"_id": 1}, "name1": {"aString": 1}}
    status, body = await create(api, {"className": "NoIdx", "indexes": {}})
    assert status == 200 and "indexes" not in body


async def test_indexes_added_and_deleted_with_put(api, bapp_store):
    await make_class(api, "Idx")
    status, body = await api.put("/schemas/Idx", {
        "fields": {"a": {"type": "String"}, "b": {"type": "String"}, "p": {"type": "Pointer", "targetClass": "Idx"}},
        "indexes": {"name1": {"a": 1}, "name2": {"b": -1, "a": 1}, "ptr": {"_p_p": 1}, "day": {"createdAt": 1}},
    }, master=True)
    assert status == 200
    assert body["indexes"] == {"_id_": {"_id": 1}, "name1": {"a": 1}, "name2": {"b": -1, "a": 1},
                               "ptr": {"_p_p": 1}, "day": {"createdAt": 1}}
    real = await api.engine.storage.indexes("Idx")
    assert real["name2"] == {"b": -1, "a": 1} and real["ptr"] == ({"p": 1} if bapp_store == "postgres" else {"_p_p": 1})
    status, body = await api.put("/schemas/Idx", {"indexes": {"name1": {"__op": "Delete"}}}, master=True)
    assert body["indexes"] == {"_id_": {"_id": 1}, "name2": {"b": -1, "a": 1}, "ptr": {"_p_p": 1},
                               "day": {"createdAt": 1}}
    assert "name1" not in await api.engine.storage.indexes("Idx")
    assert (await api.get("/schemas/Idx", master=True)).body["indexes"] == body["indexes"]


async def test_sdk_style_update_with_empty_indexes_records_id_index(api):
    # Parse.Schema#update always sends "indexes": {}; Parse Server then stores _id_.
    await make_class(api, "Idx")
    status, body = await api.put("/schemas/Idx", {"className": "Idx", "fields": {}, "indexes": {}}, master=True)
    assert status == 200 and body["indexes"] == {"_id_": {"_id": 1}}


async def test_index_errors(api):
    await make_class(api, "Idx", {"a": {"type": "String"}})
    put = lambda body: api.put("/schemas/Idx", body, master=True)  # noqa: E731
    assert await put({"indexes": {"n": {"missing": 1}}}) == (400, error(102, "Field missing does not exist, cannot add index."))
    assert await put({"indexes": {"n": {"a": 1, "b": 1}}}) == (400, error(102, "Field b does not exist, cannot add index."))
    assert await put({"indexes": {"unknownIndex": {"__op": "Delete"}}}) == (
        400, error(102, "Index unknownIndex does not exist, cannot delete."))
    assert (await put({"indexes": {"n": {"a": 1}}}))[0] == 200
    assert await put({"indexes": {"n": {"a": -1}}}) == (400, error(102, "Index n exists, cannot update."))
    assert await create(api, {"className": "Other", "indexes": {"x": {"nope": 1}}}) == (
        400, error(102, "Field nope does not exist, cannot add index."))


# ---------------------------------------------------------------- delete

async def test_delete_only_empty_classes(api):
    status, obj = await api.post("/classes/Full", {"a": 1}, master=True)
    assert await api.delete("/schemas/Full", master=True) == (
        400, error(255, "Class Full is not empty, contains 1 objects, cannot drop schema."))
    await api.delete(f"/classes/Full/{obj['objectId']}", master=True)
    assert await api.delete("/schemas/Full", master=True) == (200, {})
    assert await api.get("/schemas/Full", master=True) == (400, error(103, "Class Full does not exist."))
    assert "Full" not in {d["_id"] for d in await api.engine.storage.load_schemas()}


async def test_delete_missing_and_invalid_classes(api):
    assert await api.delete("/schemas/Missing", master=True) == (200, {})
    assert await api.delete("/schemas/_GlobalConfig", master=True) == (400, error(
        103, "Invalid classname: _GlobalConfig, classnames can only have alphanumeric characters and _, and must "
             "start with an alpha character "))


async def test_deleted_class_loses_its_join_tables(api, bapp_store):
    status, a = await api.post("/classes/MyClass", {"data": "x"}, master=True)
    ptr = {"__type": "Pointer", "className": "MyClass", "objectId": a["objectId"]}
    status, b = await api.post("/classes/MyOther", {"aRelation": {"__op": "AddRelation", "objects": [ptr]}}, master=True)
    async def tables():
        if bapp_store in SQL_STORES:
            return await sql_tables(api)
        return await api.engine.storage.db.list_collection_names()

    assert "_Join:aRelation:MyOther" in await tables()
    await api.delete(f"/classes/MyOther/{b['objectId']}", master=True)
    assert await api.delete("/schemas/MyOther", master=True) == (200, {})
    assert "_Join:aRelation:MyOther" not in await tables()


async def test_recreated_class_after_delete_starts_empty(api):
    await make_class(api, "Again", {"a": {"type": "Number"}})
    assert await api.delete("/schemas/Again", master=True) == (200, {})
    status, obj = await api.post("/classes/Again", {"a": "now a string"}, master=True)
    assert status == 201
    assert (await api.get("/schemas/Again", master=True)).body["fields"]["a"] == {"type": "String"}


# ---------------------------------------------------------------- batch

async def test_schema_routes_work_in_batch(api):
    status, body = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/schemas/Batched", "body": {"fields": {"a": {"type": "String"}}}},
        {"method": "DELETE", "path": "/parse/schemas/Nope", "body": {}},
    ]}, master=True)
    assert status == 200
    assert body[0]["success"]["className"] == "Batched" and body[1] == {"success": {}}


def test_js_text_matches_javascript_string():
    assert [schema_api.js_text(v) for v in (True, None, 1, 1.0, 1.5, [1, None, "a"], {"a": 1}, "x")] == [
        "true", "null", "1", "1", "1.5", "1,,a", "[object Object]", "x"]
