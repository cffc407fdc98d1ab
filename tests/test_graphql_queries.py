"""GraphQL class queries through HTTP: get by id (objectId, global id,
node), find with where / order / paging / count, nested pointers and
relations read in batches, and the same ACL, CLP and protected-field rules
as REST."""

from __future__ import annotations

import pytest
from graphql_support import gql, sample_classes

from bapp.graphql.names import offset_to_cursor, to_global_id


@pytest.fixture
async def shop(api):
    """Suppliers Acme, Bolts Inc; items Bolt (2.5, Acme), Nut (0.5, Acme), Gear (7, Bolts Inc)."""
    await sample_classes(api)
    suppliers = {}
    for name in ("Acme", "Bolts Inc"):
        reply = await api.post("/classes/Supplier", {"name": name}, master=True)
        suppliers[name] = reply.body["objectId"]
    items = {}
    for name, price, supplier, tags in (("Bolt", 2.5, "Acme", ["metal", "small"]), ("Nut", 0.5, "Acme", ["metal"]),
                                        ("Gear", 7, "Bolts Inc", ["large"])):
        body = {"name": name, "price": price, "tags": tags, "dims": {"w": price * 2},
                "supplier": {"__type": "Pointer", "className": "Supplier", "objectId": suppliers[supplier]},
                "releasedAt": {"__type": "Date", "iso": f"2026-0{int(price) + 1}-01T00:00:00.000Z"}}
        reply = await api.post("/classes/Item", body, master=True)
        items[name] = reply.body["objectId"]
    return {"suppliers": suppliers, "items": items}


async def names(api, where: str, order: str = "[name_ASC]") -> list[str]:
    reply = await gql(api, f"{{ items(where: {where}, order: {order}) {{ edges {{ node {{ name }} }} }} }}", master=True)
    assert reply.status == 200, reply.body
    assert "errors" not in reply.body, reply.body
    return [e["node"]["name"] for e in reply.body["data"]["items"]["edges"]]


async def test_find_with_where_order_first_count_page_info(api, shop):
    reply = await gql(api, "query { items(where: { price: { greaterThan: 1 } }, order: [price_DESC], first: 1) "
                           "{ count edges { cursor node { objectId name price supplier { name } } } "
                           "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }", master=True)
    assert reply.status == 200
    assert reply.body == {"data": {"items": {
        "count": 2,
        "edges": [{"cursor": "YXJyYXljb25uZWN0aW9uOjA=",
                   "node": {"objectId": shop["items"]["Gear"], "name": "Gear", "price": 7, "supplier": {"name": "Bolts Inc"}}}],
        "pageInfo": {"hasNextPage": True, "hasPreviousPage": False, "startCursor": "YXJyYXljb25uZWN0aW9uOjA=",
                     "endCursor": "YXJyYXljb25uZWN0aW9uOjA="},
    }}}


async def test_get_by_object_id_global_id_and_node(api, shop):
    bolt = shop["items"]["Bolt"]
    global_id = to_global_id("Item", bolt)
    for id_ in (bolt, global_id):
        reply = await gql(api, "query($id: ID!) { item(id: $id) { id objectId name tags { ... on Element { value } } "
                               "dims ACL { public { read write } users { userId } } } }", {"id": id_}, master=True)
        assert reply.body == {"data": {"item": {
            "id": global_id, "objectId": bolt, "name": "Bolt", "tags": [{"value": "metal"}, {"value": "small"}],
            "dims": {"w": 5}, "ACL": {"public": {"read": True, "write": True}, "users": None}}}}
    reply = await gql(api, "query($id: ID!) { node(id: $id) { id __typename ... on Item { name supplier { name } } } }",
                      {"id": global_id}, master=True)
    assert reply.body == {"data": {"node": {"id": global_id, "__typename": "Item", "name": "Bolt",
                                            "supplier": {"name": "Acme"}}}}


async def test_get_missing_object(api, shop):
    reply = await gql(api, '{ item(id: "nope") { name } }', master=True)
    assert reply.status == 200
    assert reply.body == {"errors": [{"message": "Object not found.", "locations": [{"line": 1, "column": 3}],
                                      "path": ["item"], "extensions": {"code": 101}}], "data": None}


async def test_where_operators(api, shop):
    assert await names(api, '{ name: { equalTo: "Nut" } }') == ["Nut"]
    assert await names(api, '{ name: { notEqualTo: "Nut" } }') == ["Bolt", "Gear"]
    assert await names(api, '{ name: { in: ["Nut", "Gear"] } }') == ["Gear", "Nut"]
    assert await names(api, '{ name: { matchesRegex: "^b", options: "i" } }') == ["Bolt"]
    assert await names(api, '{ price: { lessThanOrEqualTo: 2.5, greaterThan: 0.5 } }') == ["Bolt"]
    assert await names(api, '{ inStock: { exists: false } }') == ["Bolt", "Gear", "Nut"]
    assert await names(api, '{ tags: { contains: ["metal", "small"] } }') == ["Bolt"]
    assert await names(api, '{ tags: { containedBy: ["metal", "small"] } }') == ["Bolt", "Nut"]
    assert await names(api, '{ dims: { greaterThan: { key: "w", value: 2 } } }') == ["Bolt", "Gear"]
    assert await names(api, '{ releasedAt: { greaterThanOrEqualTo: "2026-03-01T00:00:00.000Z" } }') == ["Bolt", "Gear"]
    assert await names(api, '{ OR: [{ name: { equalTo: "Nut" } }, { price: { equalTo: 7 } }] }') == ["Gear", "Nut"]
    assert await names(api, '{ NOR: [{ name: { equalTo: "Nut" } }] }') == ["Bolt", "Gear"]
    assert await names(api, '{ supplier: { have: { name: { equalTo: "Acme" } } } }') == ["Bolt", "Nut"]
    assert await names(api, '{ supplier: { haveNot: { name: { equalTo: "Acme" } } } }') == ["Gear"]
    gear = to_global_id("Item", shop["items"]["Gear"])
    assert await names(api, f'{{ id: {{ in: ["{gear}", "{shop["items"]["Nut"]}"] }} }}') == ["Gear", "Nut"]


async def test_relation_constraints(api, shop):
    acme = shop["suppliers"]["Acme"]
    await api.put(f"/classes/Item/{shop['items']['Gear']}",
                  {"related": {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "Supplier",
                                                                   "objectId": acme}]}}, master=True)
    assert await names(api, '{ related: { have: { name: { equalTo: "Acme" } } } }') == ["Gear"]
    assert await names(api, '{ related: { exists: true } }') == ["Gear"]
    assert await names(api, '{ related: { haveNot: { name: { equalTo: "Acme" } } } }') == ["Bolt", "Nut"]


async def test_paging_with_cursors_skip_and_last(api, shop):
    query = "query($a: String, $b: String, $f: Int, $l: Int, $s: Int) { items(order: [price_ASC], after: $a, " \
            "before: $b, first: $f, last: $l, skip: $s) { count edges { cursor node { name } } " \
            "pageInfo { hasNextPage hasPreviousPage } } }"

    async def page(**args):
        reply = await gql(api, query, args, master=True)
        assert reply.status == 200, reply.body
        data = reply.body["data"]["items"]
        return [e["node"]["name"] for e in data["edges"]], data["pageInfo"], [e["cursor"] for e in data["edges"]]

    assert (await page(f=2))[:2] == (["Nut", "Bolt"], {"hasNextPage": True, "hasPreviousPage": False})
    assert (await page(a=offset_to_cursor(0), f=5))[:2] == (["Bolt", "Gear"], {"hasNextPage": False,
                                                                                 "hasPreviousPage": True})
    rows, _, cursors = await page(l=1)
    assert rows == ["Gear"] and cursors == [offset_to_cursor(2)]
    assert (await page(b=offset_to_cursor(2)))[0] == ["Nut", "Bolt"]
    assert (await page(s=1, f=1))[0] == ["Bolt"]
    reply = await gql(api, query, {"a": "bad"}, master=True)
    assert reply.body["errors"][0]["message"] == "After is not a valid cursor"
    assert reply.body["errors"][0]["extensions"] == {"code": 102}
    reply = await gql(api, query, {"s": -1}, master=True)
    assert reply.body["errors"][0]["message"] == "Skip should be a positive number"


async def test_count_only_reads_no_rows(api, shop):
    reply = await gql(api, "{ items { count } }", master=True)
    assert reply.body == {"data": {"items": {"count": 3}}}


async def test_nested_pointers_and_relations_are_read_in_batches(api, shop):
    for item in shop["items"].values():
        await api.put(f"/classes/Item/{item}", {"related": {"__op": "AddRelation", "objects": [
            {"__type": "Pointer", "className": "Supplier", "objectId": s} for s in shop["suppliers"].values()]}},
            master=True)
    storage = api.engine.storage
    calls: list[str] = []
    original = storage.find

    async def counting(class_name, *args, **kwargs):
        calls.append(class_name)
        return await original(class_name, *args, **kwargs)

    join_reads: list[str] = []
    originals = {"find": original, "related_ids": storage.related_ids, "relation_pairs": storage.relation_pairs}

    def counting_join(method):
        async def run(*args, **kwargs):
            join_reads.append(method)
            return await originals[method](*args, **kwargs)
        return run

    storage.find = counting
    storage.related_ids = counting_join("related_ids")
    storage.relation_pairs = counting_join("relation_pairs")
    try:
        reply = await gql(api, "{ items(order: [name_ASC]) { edges { node { name supplier { name } "
                               "related(order: [name_DESC], first: 1) { count edges { node { name } } } } } } }",
                          master=True)
    finally:
        for method, function in originals.items():
            setattr(storage, method, function)
    assert reply.status == 200, reply.body
    edges = reply.body["data"]["items"]["edges"]
    assert [e["node"]["supplier"]["name"] for e in edges] == ["Acme", "Bolts Inc", "Acme"]
    assert [e["node"]["related"] for e in edges] == [{"count": 2, "edges": [{"node": {"name": "Bolts Inc"}}]}] * 3
    # One read of the items, one of their suppliers, one of all related suppliers.
    assert sorted(calls) == ["Item", "Supplier", "Supplier"]
    # The join table of the three items is read once, not once per item.
    assert join_reads == ["relation_pairs"]


async def test_acl_and_clp_apply(api, shop):
    alice = await api.signup("alice")
    private = await api.post("/classes/Item", {"name": "Secret", "ACL": {alice["objectId"]: {"read": True}}},
                             master=True)
    assert await names(api, '{ name: { equalTo: "Secret" } }') == ["Secret"]  # master
    reply = await gql(api, '{ items(where: { name: { equalTo: "Secret" } }) { count edges { node { name } } } }')
    assert reply.body == {"data": {"items": {"count": 0, "edges": []}}}
    reply = await gql(api, '{ items(where: { name: { equalTo: "Secret" } }) { edges { node { name ACL { users '
                           '{ userId read write } public { read } } } } } }', token=alice["sessionToken"])
    assert reply.body == {"data": {"items": {"edges": [{"node": {"name": "Secret", "ACL": {
        "users": [{"userId": to_global_id("_User", alice["objectId"]), "read": True, "write": False}],
        "public": None}}}]}}}
    reply = await gql(api, "query($id: ID!) { item(id: $id) { name } }", {"id": private.body["objectId"]})
    assert reply.body["errors"][0]["extensions"] == {"code": 101}
    await api.put("/schemas/Supplier", {"className": "Supplier", "classLevelPermissions": {
        "find": {}, "get": {}, "count": {}, "create": {"*": True}, "update": {}, "delete": {}, "addField": {}}},
        master=True)
    reply = await gql(api, "{ suppliers { count } }")
    assert reply.status == 200
    assert reply.body["data"] is None
    assert reply.body["errors"][0]["extensions"] == {"code": 119}
    assert reply.body["errors"][0]["path"] == ["suppliers"]


async def test_protected_fields_and_user_secrets(api):
    bob = await api.signup("bob", email="bob@example.com")
    carol = await api.signup("carol", email="carol@example.com")
    await api.put(f"/users/{bob['objectId']}", {"ACL": {"*": {"read": True}}}, master=True)
    query = "{ users(order: [username_ASC]) { edges { node { username email } } } }"
    reply = await gql(api, query, token=carol["sessionToken"])
    assert reply.body == {"data": {"users": {"edges": [
        {"node": {"username": "bob", "email": None}}, {"node": {"username": "carol", "email": "carol@example.com"}}]}}}
    reply = await gql(api, '{ users(where: { email: { equalTo: "bob@example.com" } }) { count } }',
                      token=carol["sessionToken"])
    assert reply.body["errors"][0]["extensions"] == {"code": 119}
    reply = await gql(api, "query($id: ID!) { user(id: $id) { username email } }", {"id": bob["objectId"]}, master=True)
    assert reply.body == {"data": {"user": {"username": "bob", "email": "bob@example.com"}}}
