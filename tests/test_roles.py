"""Roles over HTTP: creation rules, membership, the hierarchy direction,
role: ACL entries, and the per-user role cache."""

from __future__ import annotations


def ptr(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def make_role(api, name: str, users=(), roles=(), acl=None) -> str:
    body = {"name": name, "ACL": acl or {"*": {"read": True}}}
    if users:
        body["users"] = {"__op": "AddRelation", "objects": [ptr("_User", u) for u in users]}
    if roles:
        body["roles"] = {"__op": "AddRelation", "objects": [ptr("_Role", r) for r in roles]}
    reply = await api.post("/roles", body, master=True)
    assert reply.status == 201, reply.body
    return reply.body["objectId"]


async def secret(api, acl: dict) -> str:
    reply = await api.post("/classes/Secret", {"v": 1, "ACL": acl}, master=True)
    return reply.body["objectId"]


async def test_role_needs_name_and_acl(api):
    assert (await api.post("/roles", {"ACL": {}}, master=True)).body == {"code": 111, "error": "name is required."}
    assert (await api.post("/roles", {"name": "Admin"}, master=True)).body == {"code": 111, "error": "ACL is required."}
    await make_role(api, "Admin")
    dup = await api.post("/roles", {"name": "Admin", "ACL": {}}, master=True)
    assert dup.body["code"] == 137


async def test_role_acl_entry_grants_members(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    await make_role(api, "Admin", users=[alice["objectId"]])
    oid = await secret(api, {"role:Admin": {"read": True}})
    assert (await api.get(f"/classes/Secret/{oid}", token=alice["sessionToken"])).status == 200
    hidden = await api.get(f"/classes/Secret/{oid}", token=bob["sessionToken"])
    assert (hidden.status, hidden.body) == (404, {"code": 101, "error": "Object not found."})
    found = await api.get("/classes/Secret", token=bob["sessionToken"])
    assert found.body["results"] == []


async def test_hierarchy_children_inherit_parent(api):
    """Role P whose `roles` relation holds C: members of C get P's rights,
    members of P do not get C's."""
    admin = await api.signup("admin")
    mod = await api.signup("mod")
    admins = await make_role(api, "Administrators", users=[admin["objectId"]])
    await make_role(api, "Moderators", users=[mod["objectId"]], roles=[admins])
    mod_obj = await secret(api, {"role:Moderators": {"read": True}})
    admin_obj = await secret(api, {"role:Administrators": {"read": True}})
    assert (await api.get(f"/classes/Secret/{mod_obj}", token=admin["sessionToken"])).status == 200
    assert (await api.get(f"/classes/Secret/{admin_obj}", token=admin["sessionToken"])).status == 200
    assert (await api.get(f"/classes/Secret/{mod_obj}", token=mod["sessionToken"])).status == 200
    assert (await api.get(f"/classes/Secret/{admin_obj}", token=mod["sessionToken"])).status == 404


async def test_three_level_hierarchy_and_cycles(api):
    user = await api.signup("u")
    a = await make_role(api, "A", users=[user["objectId"]])
    b = await make_role(api, "B", roles=[a])
    c = await make_role(api, "C", roles=[b])
    # A cycle back to A must terminate.
    await api.put(f"/roles/{a}", {"roles": {"__op": "AddRelation", "objects": [ptr("_Role", c)]}}, master=True)
    oid = await secret(api, {"role:C": {"read": True}})
    assert (await api.get(f"/classes/Secret/{oid}", token=user["sessionToken"])).status == 200
    from bapp.core.auth import Auth

    roles = await api.engine.auth.roles_of(Auth(user={"objectId": user["objectId"]}))
    assert roles == ["role:A", "role:B", "role:C"]


async def test_membership_changes_take_effect_immediately(api):
    alice = await api.signup("alice")
    role = await make_role(api, "Staff", acl={"*": {"read": True}})
    oid = await secret(api, {"role:Staff": {"read": True}})
    assert (await api.get(f"/classes/Secret/{oid}", token=alice["sessionToken"])).status == 404
    await api.put(f"/roles/{role}", {"users": {"__op": "AddRelation", "objects": [ptr("_User", alice["objectId"])]}},
                  master=True)
    assert (await api.get(f"/classes/Secret/{oid}", token=alice["sessionToken"])).status == 200
    await api.put(f"/roles/{role}", {"users": {"__op": "RemoveRelation", "objects": [ptr("_User", alice["objectId"])]}},
                  master=True)
    assert (await api.get(f"/classes/Secret/{oid}", token=alice["sessionToken"])).status == 404


async def test_roles_resolved_once_and_cached(api):
    alice = await api.signup("alice")
    await make_role(api, "Staff", users=[alice["objectId"]])
    await secret(api, {"role:Staff": {"read": True}})
    auth = api.engine.auth
    auth.forget_roles()
    before = auth.role_loads
    for _ in range(5):
        await api.get("/classes/Secret", token=alice["sessionToken"])
    assert auth.role_loads - before == 1
    await make_role(api, "Other")  # any role write invalidates
    await api.get("/classes/Secret", token=alice["sessionToken"])
    assert auth.role_loads - before == 2


async def test_role_write_needs_role_acl(api):
    alice = await api.signup("alice")
    mallory = await api.signup("mallory")
    role = await make_role(api, "Admin", users=[alice["objectId"]],
                           acl={"*": {"read": True}, "role:Admin": {"write": True}})
    add_self = {"users": {"__op": "AddRelation", "objects": [ptr("_User", mallory["objectId"])]}}
    denied = await api.put(f"/roles/{role}", add_self, token=mallory["sessionToken"])
    assert (denied.status, denied.body) == (404, {"code": 101, "error": "Object not found."})
    allowed = await api.put(f"/roles/{role}", {"users": {"__op": "AddRelation",
                                                         "objects": [ptr("_User", mallory["objectId"])]}},
                            token=alice["sessionToken"])
    assert allowed.status == 200


async def test_client_creates_role_when_clp_allows(api):
    alice = await api.signup("alice")
    reply = await api.post("/roles", {"name": "Mine", "ACL": {alice["objectId"]: {"read": True, "write": True}},
                                      "users": {"__op": "AddRelation", "objects": [ptr("_User", alice["objectId"])]}},
                           token=alice["sessionToken"])
    assert reply.status == 201
    oid = await secret(api, {"role:Mine": {"read": True}})
    assert (await api.get(f"/classes/Secret/{oid}", token=alice["sessionToken"])).status == 200


async def test_users_relation_query(api):
    alice = await api.signup("alice")
    role = await make_role(api, "Staff", users=[alice["objectId"]])
    members = await api.get("/users", params={"where": {"$relatedTo": {"object": ptr("_Role", role), "key": "users"}}},
                            master=True)
    assert [u["username"] for u in members.body["results"]] == ["alice"]
