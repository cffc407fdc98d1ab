"""GraphQL cloud functions, schema queries and mutations (master key only),
files and the global config, through HTTP."""

from __future__ import annotations

import textwrap

import aiohttp
import orjson
import pytest
from conftest import APP_ID, MASTER_KEY, make_settings
from graphql_support import gql, graphql_url

CLOUD = '''
from bapp import cloud


@cloud.define("hello")
def hello(req):
    return {"hi": req.params.get("name", "world"), "master": req.master}


@cloud.define("failWithCode")
def fail_with_code(req):
    raise cloud.Error(141, "nope")
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path), file_upload_public=True)


async def test_call_cloud_code(api):
    reply = await gql(api, 'mutation { callCloudCode(input: {functionName: hello, params: {name: "Ann"}, '
                           'clientMutationId: "k"}) { result clientMutationId } }')
    assert reply.body == {"data": {"callCloudCode": {"result": {"hi": "Ann", "master": False}, "clientMutationId": "k"}}}
    reply = await gql(api, "mutation { callCloudCode(input: {functionName: failWithCode}) { result } }")
    assert reply.body == {"errors": [{"message": "nope", "locations": [{"line": 1, "column": 12}],
                                      "path": ["callCloudCode"], "extensions": {"code": 141}}],
                          "data": {"callCloudCode": None}}
    reply = await gql(api, "mutation { callCloudCode(input: {functionName: missing}) { result } }")
    assert reply.status == 400
    assert reply.body["errors"][0]["message"] == 'Value "missing" does not exist in "CloudCodeFunction" enum.'


async def test_schema_mutations_need_the_master_key(api):
    reply = await gql(api, 'mutation { createClass(input:{name:"X"}) { class { name } } }')
    assert reply.body == {"errors": [{"message": "Permission denied", "locations": [{"line": 1, "column": 12}],
                                      "path": ["createClass"], "extensions": {"code": 119}}],
                          "data": {"createClass": None}}
    reply = await gql(api, "{ classes { name } }")
    assert reply.body["errors"][0]["extensions"] == {"code": 119}


async def test_create_update_delete_class(api):
    fields = "class { name schemaFields { name __typename ... on SchemaPointerField { targetClassName } } }"
    reply = await gql(api, 'mutation { createClass(input: {name: "Shelf", schemaFields: {addStrings: [{name: "label"}], '
                           'addPointers: [{name: "owner", targetClassName: "_User"}], addGeoPoint: {name: "spot"}}}) '
                           f"{{ {fields} }} }}", master=True)
    assert reply.status == 200, reply.body
    assert reply.body["data"]["createClass"]["class"] == {"name": "Shelf", "schemaFields": [
        {"name": "objectId", "__typename": "SchemaStringField"}, {"name": "createdAt", "__typename": "SchemaDateField"},
        {"name": "updatedAt", "__typename": "SchemaDateField"}, {"name": "ACL", "__typename": "SchemaACLField"},
        {"name": "label", "__typename": "SchemaStringField"},
        {"name": "spot", "__typename": "SchemaGeoPointField"},
        {"name": "owner", "__typename": "SchemaPointerField", "targetClassName": "_User"}]}
    stored = await api.get("/schemas/Shelf", master=True)
    assert stored.body["fields"]["owner"] == {"type": "Pointer", "targetClass": "_User"}
    # The new class is queryable at once.
    reply = await gql(api, "{ shelves { count } }", master=True)
    assert reply.body == {"data": {"shelves": {"count": 0}}}
    reply = await gql(api, 'mutation { updateClass(input: {name: "Shelf", schemaFields: {addNumbers: [{name: "size"}], '
                           'remove: [{name: "label"}]}}) { class { schemaFields { name } } } }', master=True)
    assert [f["name"] for f in reply.body["data"]["updateClass"]["class"]["schemaFields"]] == \
        ["objectId", "createdAt", "updatedAt", "ACL", "spot", "owner", "size"]
    reply = await gql(api, 'mutation { updateClass(input: {name: "Shelf", schemaFields: {addStrings: [{name: "size"}]}}) '
                           '{ class { name } } }', master=True)
    assert reply.body["errors"][0]["message"] == "Duplicated field name: size"
    assert reply.body["errors"][0]["extensions"] == {"code": 105}
    reply = await gql(api, 'mutation { deleteClass(input: {name: "Shelf"}) { class { name } } }', master=True)
    assert reply.body == {"data": {"deleteClass": {"class": {"name": "Shelf"}}}}
    reply = await gql(api, '{ class(name: "Shelf") { name } }', master=True)
    assert reply.body["errors"][0]["message"] == "Class Shelf does not exist."
    assert reply.body["errors"][0]["extensions"] == {"code": 103}


async def test_create_file_multipart(api):
    operations = {"query": "mutation($f: Upload!) { createFile(input: {upload: $f}) { fileInfo { name url } } }",
                  "variables": {"f": None}}
    form = aiohttp.FormData()
    form.add_field("operations", orjson.dumps(operations).decode())
    form.add_field("map", orjson.dumps({"0": ["variables.f"]}).decode())
    form.add_field("0", b"hello file", filename="note.txt", content_type="text/plain")
    async with api.session.post(graphql_url(api), data=form, headers={"X-Parse-Application-Id": APP_ID}) as resp:
        body = await resp.json()
    assert resp.status == 200, body
    info = body["data"]["createFile"]["fileInfo"]
    assert info["name"].endswith("_note.txt")
    assert info["url"] == f"{api.base}/files/{APP_ID}/{info['name']}"
    async with api.session.get(info["url"]) as resp:
        assert await resp.read() == b"hello file"


async def test_cloud_config(api):
    await api.put("/config", {"params": {"motd": "hi", "secret": {"a": 1}}, "masterKeyOnly": {"secret": True}},
                  master=True)
    reply = await gql(api, '{ a: cloudConfig(paramName: "motd") { value isMasterKeyOnly } '
                           'b: cloudConfig(paramName: "secret") { value isMasterKeyOnly } }')
    assert reply.body == {"data": {"a": {"value": "hi", "isMasterKeyOnly": False},
                                   "b": {"value": None, "isMasterKeyOnly": None}}}
    reply = await gql(api, 'mutation { updateCloudConfig(input: {paramName: "motd", value: "bye"}) '
                           '{ cloudConfig { value isMasterKeyOnly } } }', master=True)
    assert reply.body == {"data": {"updateCloudConfig": {"cloudConfig": {"value": "bye", "isMasterKeyOnly": False}}}}
    assert (await api.get("/config")).body["params"]["motd"] == "bye"
    reply = await gql(api, 'mutation { updateCloudConfig(input: {paramName: "motd", value: "x"}) { cloudConfig '
                           '{ value } } }')
    assert reply.body["errors"][0]["extensions"] == {"code": 119}
    assert MASTER_KEY not in orjson.dumps(reply.body).decode()
