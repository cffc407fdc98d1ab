"""Object ACLs over HTTP: read filtering in the query, 101 for hidden
objects on get/update/delete, public and per-user entries, count, include,
and the master key bypass."""

from __future__ import annotations

from bapp.core import permissions as perms
from bapp.storage.base import FindOptions
from tests.conftest import SQL_STORES, sql_row


def ptr(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def two_users(api):
    for name in ("Diary", "Post", "Note", "Doc"):
        await api.engine.schemas.ensure_class(name)  # classes exist; clients may not create classes
    return await api.signup("alice"), await api.signup("bob")


async def test_owner_only_object_is_invisible_to_others(api):
    alice, bob = await two_users(api)
    acl = {alice["objectId"]: {"read": True, "write": True}}
    created = await api.post("/classes/Diary", {"text": "mine", "ACL": acl}, token=alice["sessionToken"])
    oid = created.body["objectId"]
    assert (await api.get(f"/classes/Diary/{oid}", token=alice["sessionToken"])).body["text"] == "mine"
    for reply in (await api.get(f"/classes/Diary/{oid}", token=bob["sessionToken"]),
                  await api.get(f"/classes/Diary/{oid}"),
                  await api.put(f"/classes/Diary/{oid}", {"text": "x"}, token=bob["sessionToken"]),
                  await api.delete(f"/classes/Diary/{oid}", token=bob["sessionToken"])):
        assert (reply.status, reply.body) == (404, {"code": 101, "error": "Object not found."})
    listed = await api.get("/classes/Diary", params={"where": {"objectId": oid}, "limit": 1},
                           token=bob["sessionToken"])
    assert listed.body == {"results": []}
    counted = await api.get("/classes/Diary", params={"count": 1, "limit": 0}, token=bob["sessionToken"])
    assert counted.body == {"results": [], "count": 0}
    assert (await api.get(f"/classes/Diary/{oid}", master=True)).body["text"] == "mine"


async def test_hidden_and_missing_objects_answer_identically(api):
    alice, bob = await two_users(api)
    oid = (await api.post("/classes/Diary", {"ACL": {alice["objectId"]: {"read": True, "write": True}}},
                          master=True)).body["objectId"]
    for method in ("get", "put", "delete"):
        call = getattr(api, method)
        args = ({"x": 1},) if method == "put" else ()
        hidden = await call(f"/classes/Diary/{oid}", *args, token=bob["sessionToken"])
        missing = await call("/classes/Diary/zzzzzzzzzz", *args, token=bob["sessionToken"])
        assert (hidden.status, hidden.body) == (missing.status, missing.body) == (404, {"code": 101, "error": "Object not found."})


async def test_public_read_with_owner_write(api):
    alice, bob = await two_users(api)
    acl = {"*": {"read": True}, alice["objectId"]: {"write": True}}
    oid = (await api.post("/classes/Post", {"t": "hi", "ACL": acl}, token=alice["sessionToken"])).body["objectId"]
    assert (await api.get(f"/classes/Post/{oid}")).status == 200
    assert (await api.get(f"/classes/Post/{oid}", token=bob["sessionToken"])).status == 200
    assert (await api.put(f"/classes/Post/{oid}", {"t": "hacked"}, token=bob["sessionToken"])).body["code"] == 101
    assert (await api.put(f"/classes/Post/{oid}", {"t": "edit"}, token=alice["sessionToken"])).status == 200
    assert (await api.get(f"/classes/Post/{oid}")).body["t"] == "edit"


async def test_no_acl_means_public(api):
    _, bob = await two_users(api)
    oid = (await api.post("/classes/Open", {"n": 1}, master=True)).body["objectId"]
    assert (await api.put(f"/classes/Open/{oid}", {"n": 2}, token=bob["sessionToken"])).status == 200
    assert (await api.get(f"/classes/Open/{oid}")).body["n"] == 2


async def test_empty_acl_is_master_only(api):
    alice, _ = await two_users(api)
    oid = (await api.post("/classes/Locked", {"n": 1, "ACL": {}}, master=True)).body["objectId"]
    assert (await api.get(f"/classes/Locked/{oid}", token=alice["sessionToken"])).status == 404
    assert (await api.get("/classes/Locked", token=alice["sessionToken"])).body["results"] == []
    assert (await api.get(f"/classes/Locked/{oid}", master=True)).status == 200


async def test_find_mixes_visible_objects_only(api):
    alice, bob = await two_users(api)
    for owner, text in ((alice, "a1"), (alice, "a2"), (bob, "b1")):
        await api.post("/classes/Note", {"text": text, "ACL": {owner["objectId"]: {"read": True, "write": True}}},
                       token=owner["sessionToken"])
    await api.post("/classes/Note", {"text": "public", "ACL": {"*": {"read": True}}}, master=True)
    found = await api.get("/classes/Note", params={"order": "text"}, token=alice["sessionToken"])
    assert [n["text"] for n in found.body["results"]] == ["a1", "a2", "public"]
    count = await api.get("/classes/Note", params={"count": 1, "limit": 0}, token=bob["sessionToken"])
    assert count.body["count"] == 2


async def test_read_filter_happens_in_the_database_query(api, monkeypatch):
    alice, _ = await two_users(api)
    await api.post("/classes/Note", {"text": "x", "ACL": {alice["objectId"]: {"read": True}}}, master=True)
    storage = api.engine.storage
    seen: list[dict] = []
    real_find = storage.find

    async def spy(class_name, fields, where, options: FindOptions):
        seen.append(where)
        return await real_find(class_name, fields, where, options)

    monkeypatch.setattr(storage, "find", spy)
    await api.get("/classes/Note", token=alice["sessionToken"])
    expected = str(perms.read_acl_constraint(["*", alice["objectId"]]))[1:-1]
    assert any(expected in str(where) for where in seen), seen


async def test_include_of_unreadable_pointer_is_dropped(api):
    alice, bob = await two_users(api)
    private = (await api.post("/classes/Profile", {"bio": "secret", "ACL": {alice["objectId"]: {"read": True}}},
                              master=True)).body["objectId"]
    await api.post("/classes/Card", {"profile": ptr("Profile", private)}, master=True)
    as_bob = await api.get("/classes/Card", params={"include": "profile"}, token=bob["sessionToken"])
    assert "profile" not in as_bob.body["results"][0]
    as_alice = await api.get("/classes/Card", params={"include": "profile"}, token=alice["sessionToken"])
    assert as_alice.body["results"][0]["profile"]["bio"] == "secret"


async def test_acl_change_by_owner_and_not_by_others(api):
    alice, bob = await two_users(api)
    oid = (await api.post("/classes/Doc", {"ACL": {"*": {"read": True}, alice["objectId"]: {"write": True}}},
                          token=alice["sessionToken"])).body["objectId"]
    grab = await api.put(f"/classes/Doc/{oid}", {"ACL": {bob["objectId"]: {"read": True, "write": True}}},
                         token=bob["sessionToken"])
    assert grab.body == {"code": 101, "error": "Object not found."}
    share = await api.put(f"/classes/Doc/{oid}", {"ACL": {"*": {"read": True}, alice["objectId"]: {"write": True},
                                                          bob["objectId"]: {"write": True}}},
                          token=alice["sessionToken"])
    assert share.status == 200
    assert (await api.put(f"/classes/Doc/{oid}", {"x": 1}, token=bob["sessionToken"])).status == 200


async def test_invalid_acl_is_refused(api):
    for acl in ({"*unresolved": {"read": True}}, {"*": {"read": "yes"}}, {"*": {"admin": True}}, "public"):
        reply = await api.post("/classes/Doc", {"ACL": acl}, master=True)
        assert reply.body["code"] == 123, acl


async def test_acl_is_stored_as_rperm_wperm(api, bapp_store):
    alice, _ = await two_users(api)
    oid = (await api.post("/classes/Doc", {"ACL": {"*": {"read": True}, alice["objectId"]: {"write": True},
                                                   "role:Admin": {"read": True, "write": True}}},
                          master=True)).body["objectId"]
    if bapp_store in SQL_STORES:
        doc = await sql_row(api, "Doc", oid)
    else:
        doc = await api.engine.storage.db["Doc"].find_one({"_id": oid})
    assert sorted(doc["_rperm"]) == sorted(["*", "role:Admin"])
    assert sorted(doc["_wperm"]) == sorted([alice["objectId"], "role:Admin"])
