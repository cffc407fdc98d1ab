"""Class-level permissions over HTTP: every operation, public/user/role
entries, requiresAuthentication, pointer permissions, readUserFields and
writeUserFields, protectedFields (also through include), validation and the
_SCHEMA storage format."""

from __future__ import annotations

import pytest

from bapp.core import permissions as perms
from bapp.errors import ParseError


def ptr(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def set_clp(api, class_name: str, clp: dict, fields: dict | None = None) -> None:
    engine = api.engine
    if fields:
        await engine.schemas.add_fields(class_name, fields)
    schema = await engine.schemas.ensure_class(class_name)
    perms.validate_clp(clp, schema.fields)
    schema.clp = clp
    await engine.schemas.save(schema)


def denied(op: str, class_name: str) -> dict:
    # Sanitized (Parse Server 9's default): the operation and class go to the server log only.
    return {"code": 119, "error": "Permission denied"}


async def test_clp_is_stored_in_schema_metadata(api):
    clp = {"find": {"*": True}, "get": {"*": True}, "create": {"role:Admin": True}}
    await set_clp(api, "Item", clp)
    docs = {d["_id"]: d for d in await api.engine.storage.load_schemas()}
    assert docs["Item"]["_metadata"]["class_permissions"] == clp
    # Stored CLPs read back with every missing operation as {} (master only).
    await api.engine.schemas.load()
    effective = (await api.engine.schemas.get("Item")).permissions
    assert effective["update"] == {} and effective["create"] == {"role:Admin": True}


async def test_each_operation_is_enforced(api):
    user = await api.signup("alice")
    token = user["sessionToken"]
    oid = (await api.post("/classes/Item", {"n": 1}, master=True)).body["objectId"]
    await set_clp(api, "Item", {"get": {"*": True}})
    assert (await api.get(f"/classes/Item/{oid}", token=token)).status == 200
    assert (await api.get("/classes/Item", token=token)).body == denied("find", "Item")
    assert (await api.get("/classes/Item", params={"count": 1, "limit": 0}, token=token)).body == denied("count", "Item")
    assert (await api.post("/classes/Item", {"n": 2}, token=token)).body == denied("create", "Item")
    assert (await api.put(f"/classes/Item/{oid}", {"n": 3}, token=token)).body == denied("update", "Item")
    assert (await api.delete(f"/classes/Item/{oid}", token=token)).body == denied("delete", "Item")
    # The master key bypasses every CLP.
    assert (await api.get("/classes/Item", master=True)).status == 200


async def test_query_get_by_id_uses_the_get_permission(api):
    oid = (await api.post("/classes/Item", {"n": 1}, master=True)).body["objectId"]
    await set_clp(api, "Item", {"get": {"*": True}})
    by_id = await api.get("/classes/Item", params={"where": {"objectId": oid}, "limit": 1})
    assert by_id.status == 200 and len(by_id.body["results"]) == 1
    await set_clp(api, "Item", {"find": {"*": True}})
    assert (await api.get("/classes/Item", params={"where": {"objectId": oid}})).body == denied("get", "Item")
    assert (await api.get("/classes/Item", params={"where": {"n": 1}})).status == 200


async def test_user_and_role_entries(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    await api.post("/roles", {"name": "Staff", "ACL": {"*": {"read": True}},
                              "users": {"__op": "AddRelation", "objects": [ptr("_User", bob["objectId"])]}},
                   master=True)
    await set_clp(api, "Stock", {"find": {alice["objectId"]: True, "role:Staff": True},
                                 "create": {"role:Staff": True}}, {"qty": {"type": "Number"}})
    assert (await api.get("/classes/Stock", token=alice["sessionToken"])).status == 200
    assert (await api.get("/classes/Stock", token=bob["sessionToken"])).status == 200
    assert (await api.get("/classes/Stock")).body == denied("find", "Stock")
    assert (await api.post("/classes/Stock", {"qty": 1}, token=alice["sessionToken"])).body == denied("create", "Stock")
    assert (await api.post("/classes/Stock", {"qty": 1}, token=bob["sessionToken"])).status == 201


async def test_requires_authentication(api):
    user = await api.signup("alice")
    await set_clp(api, "Member", {"find": {"requiresAuthentication": True}, "create": {"requiresAuthentication": True}},
                  {"a": {"type": "Number"}})
    anonymous = await api.get("/classes/Member")
    assert (anonymous.status, anonymous.body) == (404, {"code": 101, "error": "Permission denied"})
    assert (await api.get("/classes/Member", token=user["sessionToken"])).status == 200
    assert (await api.post("/classes/Member", {"a": 1})).body["code"] == 101
    assert (await api.post("/classes/Member", {"a": 1}, token=user["sessionToken"])).status == 201


async def test_pointer_fields_permission(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    await set_clp(api, "Order", {"find": {"pointerFields": ["customer"]}, "get": {"pointerFields": ["customer"]},
                                 "update": {"pointerFields": ["customer"]}, "create": {"*": True}},
                  {"customer": {"type": "Pointer", "targetClass": "_User"}, "total": {"type": "Number"}})
    a_order = (await api.post("/classes/Order", {"customer": ptr("_User", alice["objectId"]), "total": 5},
                              master=True)).body["objectId"]
    await api.post("/classes/Order", {"customer": ptr("_User", bob["objectId"]), "total": 7}, master=True)
    mine = await api.get("/classes/Order", token=alice["sessionToken"])
    assert [o["total"] for o in mine.body["results"]] == [5]
    assert (await api.get(f"/classes/Order/{a_order}", token=bob["sessionToken"])).body == {"code": 101, "error": "Object not found."}
    assert (await api.get("/classes/Order")).body == {"results": []}
    assert (await api.get(f"/classes/Order/{a_order}")).status == 404
    assert (await api.put(f"/classes/Order/{a_order}", {"total": 1}, token=bob["sessionToken"])).status == 404
    assert (await api.put(f"/classes/Order/{a_order}", {"total": 6}, token=alice["sessionToken"])).status == 200


async def test_read_and_write_user_fields_with_array(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    await set_clp(api, "Chat", {"create": {"*": True}, "readUserFields": ["members"], "writeUserFields": ["members"]},
                  {"members": {"type": "Array"}, "title": {"type": "String"}})
    oid = (await api.post("/classes/Chat", {"members": [ptr("_User", alice["objectId"])], "title": "t"},
                          master=True)).body["objectId"]
    assert len((await api.get("/classes/Chat", token=alice["sessionToken"])).body["results"]) == 1
    assert (await api.get("/classes/Chat", token=bob["sessionToken"])).body["results"] == []
    assert (await api.delete(f"/classes/Chat/{oid}", token=bob["sessionToken"])).status == 404
    assert (await api.delete(f"/classes/Chat/{oid}", token=alice["sessionToken"])).status == 200


async def test_add_field_permission(api):
    user = await api.signup("alice")
    oid = (await api.post("/classes/Fixed", {"a": 1}, master=True)).body["objectId"]
    await set_clp(api, "Fixed", {"find": {"*": True}, "get": {"*": True}, "create": {"*": True},
                                 "update": {"*": True}})
    assert (await api.put(f"/classes/Fixed/{oid}", {"a": 2}, token=user["sessionToken"])).status == 200
    assert (await api.put(f"/classes/Fixed/{oid}", {"b": 2}, token=user["sessionToken"])).body == denied("addField", "Fixed")
    assert (await api.post("/classes/Fixed", {"c": 1}, token=user["sessionToken"])).body == denied("addField", "Fixed")


async def test_protected_fields_hidden_and_not_queryable(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    await api.post("/roles", {"name": "HR", "ACL": {"*": {"read": True}},
                              "users": {"__op": "AddRelation", "objects": [ptr("_User", bob["objectId"])]}},
                   master=True)
    await api.post("/classes/Employee", {"name": "e", "salary": 10, "ssn": "x"}, master=True)
    schema = await api.engine.schemas.get("Employee")
    clp = {op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete", "addField")}
    clp["protectedFields"] = {"*": ["salary", "ssn"], "role:HR": ["ssn"]}
    await set_clp(api, "Employee", clp)
    assert schema is not None
    public = (await api.get("/classes/Employee", token=alice["sessionToken"])).body["results"][0]
    assert "salary" not in public and "ssn" not in public and public["name"] == "e"
    hr = (await api.get("/classes/Employee", token=bob["sessionToken"])).body["results"][0]
    assert hr["salary"] == 10 and "ssn" not in hr  # intersection of * and role:HR
    for where in ({"salary": 10}, {"$or": [{"salary": {"$gt": 1}}]}, {"$and": [{"ssn": {"$regex": "^x"}}]}):
        reply = await api.get("/classes/Employee", params={"where": where}, token=alice["sessionToken"])
        assert reply.status == 400 and reply.body["code"] == 119, where
    ordered = await api.get("/classes/Employee", params={"order": "-salary"}, token=alice["sessionToken"])
    assert ordered.body["code"] == 119
    assert "salary" in (await api.get("/classes/Employee", master=True)).body["results"][0]


async def test_protected_fields_apply_through_include(api):
    alice = await api.signup("alice")
    emp = (await api.post("/classes/Employee", {"name": "e", "salary": 10}, master=True)).body["objectId"]
    await api.post("/classes/Badge", {"employee": ptr("Employee", emp)}, master=True)
    clp = {op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete", "addField")}
    clp["protectedFields"] = {"*": ["salary"]}
    await set_clp(api, "Employee", clp)
    reply = await api.get("/classes/Badge", params={"include": "employee"}, token=alice["sessionToken"])
    included = reply.body["results"][0]["employee"]
    assert included["name"] == "e" and "salary" not in included


async def test_user_field_protected_fields(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    await api.engine.schemas.add_fields("Account", {"owner": {"type": "Pointer", "targetClass": "_User"},
                                                    "balance": {"type": "Number"}})
    await api.post("/classes/Account", {"owner": ptr("_User", alice["objectId"]), "balance": 3}, master=True)
    clp = {op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete", "addField")}
    clp["protectedFields"] = {"*": ["balance"], "userField:owner": []}
    await set_clp(api, "Account", clp)
    assert (await api.get("/classes/Account", token=alice["sessionToken"])).body["results"][0]["balance"] == 3
    assert "balance" not in (await api.get("/classes/Account", token=bob["sessionToken"])).body["results"][0]


@pytest.mark.parametrize("clp,message", [
    ({"bogus": {}}, "bogus is not a valid operation for class level permissions"),
    ({"find": {"*": False}}, "'false' is not a valid value for class level permissions find:*:false"),
    ({"find": True}, "'true' is not a valid value for class level permissions find - must be an object"),
    ({"find": {"everyone": True}}, "'everyone' is not a valid key for class level permissions"),
    ({"readUserFields": "owner"}, "'owner' is not a valid value for class level permissions readUserFields - must be an array"),
    ({"readUserFields": ["title"]}, "'title' is not a valid column for class level pointer permissions readUserFields"),
    ({"find": {"pointerFields": ["nope"]}}, "'nope' is not a valid column for class level pointer permissions find"),
    ({"protectedFields": {"*": ["objectId"]}}, "Default field 'objectId' can not be protected"),
    ({"protectedFields": {"*": ["missing"]}}, "Field 'missing' in protectedFields:* does not exist"),
    ({"protectedFields": {"*": "title"}}, "'title' is not a valid value for protectedFields[*] - expected an array."),
])
def test_clp_validation(clp, message):
    fields = {"title": {"type": "String"}, "owner": {"type": "Pointer", "targetClass": "_User"}}
    with pytest.raises(ParseError) as info:
        perms.validate_clp(clp, fields)
    assert (info.value.code, info.value.message) == (107, message)


def test_clp_validation_accepts_the_full_format():
    fields = {"title": {"type": "String"}, "owner": {"type": "Pointer", "targetClass": "_User"},
              "members": {"type": "Array"}}
    clp = {"find": {"*": True, "requiresAuthentication": True, "role:Admin": True, "abcdefghij": True,
                    "pointerFields": ["owner"]},
           "get": {}, "count": {}, "create": {"role:Admin": True}, "update": {"pointerFields": ["members"]},
           "delete": {}, "addField": {}, "readUserFields": ["owner"], "writeUserFields": ["members"],
           "protectedFields": {"*": ["title"], "authenticated": [], "role:Admin": [], "userField:owner": []}}
    assert perms.validate_clp(clp, fields) is clp
