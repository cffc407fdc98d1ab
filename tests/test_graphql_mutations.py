"""GraphQL class mutations through HTTP: create / update / delete with
pointers, relations, geo values, ACL inputs and clientMutationId, through
the engine's write pipeline (triggers, LiveQuery events, permissions)."""

from __future__ import annotations

import textwrap

import pytest
from conftest import make_settings
from graphql_support import gql, sample_classes

from bapp.graphql.names import to_global_id

CLOUD = '''
from bapp import cloud


@cloud.before_save("Supplier")
def stamp(req):
    if req.object.get("name") == "forbidden":
        raise cloud.Error(142, "no such name")
    req.object["name"] = req.object.get("name", "").strip()
'''

CREATE_ITEM = ("mutation($f: CreateItemFieldsInput){ createItem(input:{fields:$f, clientMutationId:\"c1\"}){ "
               "clientMutationId item { id objectId name price createdAt supplier { objectId name } "
               "location { latitude longitude } } } }")


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path))


async def create_supplier(api, name="Acme", **kw):
    reply = await gql(api, "mutation($f: CreateSupplierFieldsInput){ createSupplier(input:{fields:$f})"
                           "{ supplier { id objectId name } } }", {"f": {"name": name}}, **kw)
    assert reply.status == 200, reply.body
    return reply.body


async def test_create_with_pointer_geo_array_and_client_mutation_id(api):
    await sample_classes(api)
    body = await create_supplier(api, "  Acme ", master=True)
    supplier = body["data"]["createSupplier"]["supplier"]
    assert supplier == {"id": to_global_id("Supplier", supplier["objectId"]), "objectId": supplier["objectId"],
                        "name": "Acme"}  # the beforeSave trigger ran
    reply = await gql(api, CREATE_ITEM, {"f": {"name": "Bolt", "price": 2.5, "supplier": {"link": supplier["id"]},
                                               "location": {"latitude": 40, "longitude": -74}, "tags": ["a", "b"]}},
                      master=True)
    item = reply.body["data"]["createItem"]["item"]
    assert reply.body == {"data": {"createItem": {"clientMutationId": "c1", "item": {
        "id": to_global_id("Item", item["objectId"]), "objectId": item["objectId"], "name": "Bolt", "price": 2.5,
        "createdAt": item["createdAt"], "supplier": {"objectId": supplier["objectId"], "name": "Acme"},
        "location": {"latitude": 40, "longitude": -74}}}}}
    stored = await api.get(f"/classes/Item/{item['objectId']}", master=True)
    assert stored.body["tags"] == ["a", "b"]
    assert stored.body["supplier"] == {"__type": "Pointer", "className": "Supplier", "objectId": supplier["objectId"]}
    assert stored.body["location"] == {"__type": "GeoPoint", "latitude": 40, "longitude": -74}
    assert stored.body["createdAt"] == item["createdAt"]


async def test_trigger_errors_and_engine_validation(api):
    await sample_classes(api)
    body = await create_supplier(api, "forbidden", master=True)
    assert body["errors"][0]["message"] == "no such name"
    assert body["errors"][0]["extensions"] == {"code": 142}
    assert body["data"] == {"createSupplier": None}
    reply = await gql(api, "mutation { createItem(input: {fields: {price: 1}}) { item { objectId } } }", master=True)
    assert reply.status == 400  # name is required (Item.name: String!)
    assert reply.body["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert reply.body["errors"][0]["message"] == \
        'Field "CreateItemFieldsInput.name" of required type "String!" was not provided.'


async def test_create_and_link_and_relations(api):
    await sample_classes(api)
    reply = await gql(api, 'mutation { createItem(input: {fields: {name: "Gear", supplier: {createAndLink: '
                           '{name: "New"}}, related: {createAndAdd: [{name: "R1"}, {name: "R2"}]}}}) { item { '
                           'objectId supplier { name } related(order: [name_ASC]) { count edges { node { name } } } } } }',
                      master=True)
    assert reply.status == 200, reply.body
    item = reply.body["data"]["createItem"]["item"]
    assert item["supplier"] == {"name": "New"}
    assert item["related"] == {"count": 2, "edges": [{"node": {"name": "R1"}}, {"node": {"name": "R2"}}]}
    r1 = (await api.get("/classes/Supplier", params={"where": {"name": "R1"}}, master=True)).body["results"][0]
    reply = await gql(api, "mutation($id: ID!, $r: ID!) { updateItem(input: {id: $id, fields: {related: "
                           "{remove: [$r]}, supplier: null, price: null}}) { item { price supplier { name } "
                           "related { edges { node { name } } } } } }",
                      {"id": to_global_id("Item", item["objectId"]), "r": r1["objectId"]}, master=True)
    assert reply.body == {"data": {"updateItem": {"item": {"price": None, "supplier": None, "related": {
        "edges": [{"node": {"name": "R2"}}]}}}}}
    reply = await gql(api, 'mutation { createItem(input: {fields: {name: "X", supplier: {link: "a", '
                           'createAndLink: {name: "b"}}}}) { item { objectId } } }', master=True)
    assert reply.body["errors"][0]["message"] == \
        "You need to provide link OR createLink on the pointer mutation of field supplier"
    assert reply.body["errors"][0]["extensions"] == {"code": 106}
    reply = await gql(api, 'mutation { createItem(input: {fields: {name: "X", related: {}}}) { item { objectId } } }',
                      master=True)
    assert reply.body["errors"][0]["message"] == \
        "You need to provide at least one operation on the relation mutation of field related"


async def test_update_and_delete_answer_what_is_selected(api):
    await sample_classes(api)
    supplier = (await create_supplier(api, master=True))["data"]["createSupplier"]["supplier"]
    reply = await gql(api, 'mutation($id: ID!) { updateSupplier(input: {id: $id, fields: {name: "Acme 2"}, '
                           'clientMutationId: "u"}) { clientMutationId supplier { objectId updatedAt } } }',
                      {"id": supplier["objectId"]}, master=True)
    updated = reply.body["data"]["updateSupplier"]
    assert updated["clientMutationId"] == "u" and updated["supplier"]["objectId"] == supplier["objectId"]
    stored = await api.get(f"/classes/Supplier/{supplier['objectId']}", master=True)
    assert stored.body["name"] == "Acme 2" and stored.body["updatedAt"] == updated["supplier"]["updatedAt"]
    reply = await gql(api, "mutation($id: ID!) { deleteSupplier(input: {id: $id}) { supplier { id name } } }",
                      {"id": supplier["id"]}, master=True)
    assert reply.body == {"data": {"deleteSupplier": {"supplier": {"id": supplier["id"], "name": "Acme 2"}}}}
    assert (await api.get(f"/classes/Supplier/{supplier['objectId']}", master=True)).status == 404
    reply = await gql(api, 'mutation { deleteSupplier(input: {id: "gone"}) { supplier { id } } }', master=True)
    assert reply.body["errors"][0]["message"] == "Object not found."
    assert reply.body["errors"][0]["extensions"] == {"code": 101}


async def test_acl_input_and_permissions(api):
    await sample_classes(api)
    alice = await api.signup("alice")
    reply = await gql(api, "mutation($u: ID!) { createSupplier(input: {fields: {name: \"Mine\", ACL: {users: "
                           "[{userId: $u, read: true, write: true}], roles: [{roleName: \"staff\", read: true, "
                           "write: false}]}}}) { supplier { objectId ACL { users { userId read write } roles "
                           "{ roleName read write } public { read write } } } } }",
                      {"u": to_global_id("_User", alice["objectId"])}, token=alice["sessionToken"])
    assert reply.status == 200, reply.body
    created = reply.body["data"]["createSupplier"]["supplier"]
    assert created["ACL"] == {"users": [{"userId": to_global_id("_User", alice["objectId"]), "read": True,
                                         "write": True}],
                              "roles": [{"roleName": "staff", "read": True, "write": False}], "public": None}
    stored = await api.get(f"/classes/Supplier/{created['objectId']}", master=True)
    assert stored.body["ACL"] == {alice["objectId"]: {"read": True, "write": True},
                                  "role:staff": {"read": True}}
    reply = await gql(api, 'mutation($id: ID!) { updateSupplier(input: {id: $id, fields: {name: "x"}}) '
                           '{ supplier { objectId } } }', {"id": created["objectId"]})
    assert reply.body["errors"][0]["extensions"] == {"code": 101}


async def test_writes_publish_live_query_events(api):
    await sample_classes(api)
    events = []
    original = api.engine.hub.publish

    async def record(class_name, before, after):
        events.append((class_name, before is not None, after is not None))
        return await original(class_name, before, after)

    api.engine.hub.publish = record
    supplier = (await create_supplier(api, master=True))["data"]["createSupplier"]["supplier"]
    await gql(api, 'mutation($id: ID!) { updateSupplier(input: {id: $id, fields: {name: "B"}}) { supplier '
                   '{ objectId } } }', {"id": supplier["id"]}, master=True)
    await gql(api, "mutation($id: ID!) { deleteSupplier(input: {id: $id}) { supplier { objectId } } }",
              {"id": supplier["id"]}, master=True)
    assert events == [("Supplier", False, True), ("Supplier", True, True), ("Supplier", True, False)]
