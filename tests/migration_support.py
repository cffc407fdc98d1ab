"""An app with a bit of everything, written through the REST API, and a
snapshot of it read back the way a client sees it: for the migration and
restart tests, which compare two servers (or one server before and after)."""

from __future__ import annotations

from typing import Any

import orjson
from conftest import Client

PASSWORD = "s3cret-pw"
FILE_BODY = b"hello files\n" * 100


async def populate(api: Client, objects: int = 25) -> dict:
    """Users, a role holding them, a class with CLPs and an index, objects of
    every type with ACLs, a relation, config and a file. Returns what a
    client needs to check it later (tokens, names)."""
    ann = await api.signup("ann", PASSWORD, email="ann@example.com")
    bob = await api.signup("bob", PASSWORD)
    reply = await api.post("/schemas/Item", {
        "className": "Item",
        "fields": {"name": {"type": "String"}, "price": {"type": "Number"}, "tags": {"type": "Array"},
                   "meta": {"type": "Object"}, "when": {"type": "Date"}, "where": {"type": "GeoPoint"},
                   "owner": {"type": "Pointer", "targetClass": "_User"},
                   "fans": {"type": "Relation", "targetClass": "_User"}, "doc": {"type": "File"},
                   "on": {"type": "Boolean"}},
        "classLevelPermissions": {"find": {"*": True}, "get": {"*": True}, "count": {"*": True},
                                  "create": {"requiresAuthentication": True}, "update": {"*": True},
                                  "delete": {"role:staff": True}, "addField": {}, "protectedFields": {"*": []}},
        "indexes": {"price_idx": {"price": 1}},
    }, master=True)
    assert reply.status == 200, reply.body
    upload = await api.request("POST", "/files/notes.txt", raw=FILE_BODY, token=ann["sessionToken"],
                               headers={"Content-Type": "text/plain"})
    assert upload.status == 201, upload.body
    file_ref = {"__type": "File", "name": upload.body["name"]}
    ids = []
    for i in range(objects):
        body: dict[str, Any] = {
            "name": f"item {i:03d}", "price": i * 1.5, "tags": ["t", f"n{i % 3}"], "meta": {"depth": {"n": i}},
            "when": {"__type": "Date", "iso": f"2026-01-{1 + i % 28:02d}T10:00:00.000Z"},
            "where": {"__type": "GeoPoint", "latitude": 10 + i / 10, "longitude": 20 - i / 10},
            "owner": {"__type": "Pointer", "className": "_User", "objectId": ann["objectId"]},
            "on": i % 2 == 0,
            "ACL": {"*": {"read": True}, ann["objectId"]: {"read": True, "write": True}} if i % 4 else
                   {ann["objectId"]: {"read": True, "write": True}},
        }
        if i == 0:
            body["doc"] = file_ref
        reply = await api.post("/classes/Item", body, token=ann["sessionToken"])
        assert reply.status == 201, reply.body
        ids.append(reply.body["objectId"])
    reply = await api.put(f"/classes/Item/{ids[0]}", {"fans": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "_User", "objectId": uid} for uid in (ann["objectId"], bob["objectId"])]}},
        token=ann["sessionToken"])
    assert reply.status == 200, reply.body
    reply = await api.post("/roles", {"name": "staff", "ACL": {"*": {"read": True}},
                                      "users": {"__op": "AddRelation", "objects": [
                                          {"__type": "Pointer", "className": "_User", "objectId": bob["objectId"]}]}},
                           master=True)
    assert reply.status == 201, reply.body
    reply = await api.put("/config", {"params": {"welcome": "hi", "limits": {"n": 3}, "secret": "x"},
                                      "masterKeyOnly": {"secret": True}}, master=True)
    assert reply.status == 200, reply.body
    return {"ann": ann, "bob": bob, "item_ids": ids, "file": upload.body["name"]}


async def snapshot(api: Client) -> dict:
    """Everything a master-key client can read, in a comparable form."""
    out: dict[str, Any] = {}
    schemas = (await api.get("/schemas", master=True)).body["results"]
    out["schemas"] = sorted(schemas, key=lambda s: s["className"])
    for schema in schemas:
        name = schema["className"]
        reply = await api.get(f"/classes/{name}", {"limit": "10000", "order": "objectId"}, master=True)
        assert reply.status == 200, reply.body
        out[name] = reply.body["results"]
        for field_name, spec in schema["fields"].items():
            if spec["type"] != "Relation":
                continue
            for row in reply.body["results"]:
                related = await api.get(f"/classes/{spec['targetClass']}", {"where": {"$relatedTo": {
                    "object": {"__type": "Pointer", "className": name, "objectId": row["objectId"]},
                    "key": field_name}}, "order": "objectId", "keys": "objectId"}, master=True)
                assert related.status == 200, related.body
                out[f"{name}.{row['objectId']}.{field_name}"] = [r["objectId"] for r in related.body["results"]]
    out["config"] = (await api.get("/config", master=True)).body
    # File URLs name the server's address; everything else must be equal.
    return orjson.loads(orjson.dumps(out).replace(api.base.encode(), b"SERVER"))


async def check_clients(api: Client, info: dict) -> None:
    """What the app's users do still works: log in with their passwords, keep
    their sessions, hold their roles, download the file."""
    login = await api.get("/login", {"username": "ann", "password": PASSWORD})
    assert login.status == 200, login.body
    wrong = await api.get("/login", {"username": "ann", "password": "nope"})
    assert (wrong.status, wrong.body["code"]) == (404, 101)
    me = await api.get("/users/me", token=info["bob"]["sessionToken"])
    assert (me.status, me.body["username"]) == (200, "bob")
    # ACLs: bob cannot see ann's private item; ann can; CLP: staff (bob) may delete.
    private = info["item_ids"][0]
    assert (await api.get(f"/classes/Item/{private}", token=info["bob"]["sessionToken"])).status == 404
    assert (await api.get(f"/classes/Item/{private}", token=info["ann"]["sessionToken"])).status == 200
    public = info["item_ids"][1]
    refused = await api.delete(f"/classes/Item/{public}", token=login.body["sessionToken"])
    assert refused.body["code"] == 119
    # Unique index on username holds.
    dup = await api.post("/users", {"username": "ann", "password": "x"})
    assert (dup.status, dup.body["code"]) == (400, 202)
    async with api.session.get(f"{api.base}/files/test-app/{info['file']}") as resp:
        assert resp.status == 200
        assert await resp.read() == FILE_BODY


def diff(a: Any, b: Any, path: str = ""):
    """Where two snapshots differ (for readable assertion messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from diff(a.get(k, "<missing>"), b.get(k, "<missing>"), f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from diff(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: {a!r} != {b!r}"
