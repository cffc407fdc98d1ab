"""The generated GraphQL schema: the same types, fields and descriptions as
the schema a real Parse Server 9.10 generated for the same classes and
cloud functions, the schema cache, and names Parse Server gives."""

from __future__ import annotations

import textwrap

import pytest
from conftest import make_settings
from graphql import build_client_schema, build_schema, get_introspection_query, print_type
from graphql_support import gql, reference_sdl, sample_classes

from bapp.graphql.names import from_global_id, offset_to_cursor, pluralize, to_global_id
from bapp.http.graphql import CACHE_KEY

CLOUD = '''
from bapp import cloud


@cloud.define("hello")
def hello(req):
    return "Hello"


@cloud.define("echo")
def echo(req):
    return req.params


@cloud.define("whoami")
def whoami(req):
    return req.user["username"] if req.user else None


@cloud.define("failWithCode")
def fail_with_code(req):
    raise cloud.Error(141, "nope")


@cloud.define("requireMaster")
def require_master(req):
    return req.master
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path))


async def introspect(api):
    reply = await gql(api, get_introspection_query(descriptions=True), master=True)
    assert reply.status == 200, reply.body
    assert "errors" not in reply.body
    return build_client_schema(reply.body["data"])


async def test_schema_matches_parse_server(api):
    await sample_classes(api)
    ours = await introspect(api)
    reference = build_schema(reference_sdl())
    names = {n for n in reference.type_map if not n.startswith("__")}
    assert names == {n for n in ours.type_map if not n.startswith("__")}
    different = [n for n in sorted(names) if print_type(ours.type_map[n]) != print_type(reference.type_map[n])]
    assert different == []


async def test_schema_is_cached_and_rebuilt_on_change(api):
    await sample_classes(api)
    cache = api.server.app[CACHE_KEY]
    reply = await gql(api, "{ suppliers { count } }", master=True)
    assert reply.body == {"data": {"suppliers": {"count": 0}}}
    builds = cache.builds
    await gql(api, "{ items { count } }", master=True)
    assert cache.builds == builds
    reply = await gql(api, "{ suppliers { edges { node { city } } } }", master=True)
    assert reply.status == 400
    changed = await api.put("/schemas/Supplier", {"className": "Supplier", "fields": {"city": {"type": "String"}}},
                            master=True)
    assert changed.status == 200
    reply = await gql(api, "{ suppliers { edges { node { city } } } }", master=True)
    assert reply.status == 200, reply.body
    assert reply.body == {"data": {"suppliers": {"edges": []}}}
    assert cache.builds == builds + 1


async def test_new_class_from_a_write_appears(api):
    await api.post("/classes/Gadget", {"size": 3}, master=True)
    reply = await gql(api, "{ gadgets { edges { node { size } } } }", master=True)
    assert reply.body == {"data": {"gadgets": {"edges": [{"node": {"size": 3}}]}}}


def test_names():
    assert [pluralize(w) for w in ("item", "supplier", "category", "box", "status", "person", "gameScore",
                                   "data", "key")] == \
        ["items", "suppliers", "categories", "boxes", "statuses", "people", "gameScores", "data", "keys"]
    assert to_global_id("Item", "yvpgIJAvEk") == "SXRlbTp5dnBnSUpBdkVr"
    assert from_global_id("U3VwcGxpZXI6V2pqRllobnVnSg==") == ("Supplier", "WjjFYhnugJ")
    assert from_global_id("WjjFYhnugJ") is None
    assert offset_to_cursor(0) == "YXJyYXljb25uZWN0aW9uOjA="
