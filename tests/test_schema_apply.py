"""Applying schema files at start-up (``--schemas``): the seed apps end up in
GET /schemas as declared, restarts change nothing, conflicts change nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bapp.core import schema_apply
from bapp.core.auth import Auth
from bapp.core.engine import Engine
from bapp.core.schema_apply import SchemaApplyError
from bapp.model.query import parse_options
from bapp.server import attach_schema_files
from bapp.storage.mongo.memory import MemoryAdapter
from tests.conftest import Client, make_settings, start_server

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "schemas"
SEED_FILES = sorted(SEEDS.glob("*.json"))
EMPTY_CLP = {op: {} for op in ("find", "count", "get", "create", "update", "delete", "addField")} | {
    "protectedFields": {}}


@asynccontextmanager
async def serve(path: Path | str):
    settings = make_settings(schemas_path=str(path))
    server, session = await start_server(settings)
    try:
        yield Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    finally:
        await session.close()
        await server.close()


async def all_schemas(api) -> dict[str, dict]:
    reply = await api.get("/schemas", master=True)
    assert reply.status == 200, reply.body
    return {s["className"]: s for s in reply.body["results"]}


def seed(name: str) -> dict:
    return json.loads((SEEDS / f"{name}.json").read_text())


def declared(doc: dict, class_name: str) -> dict:
    alias = {"_User": "User", "_Role": "Role"}.get(class_name, class_name)
    return next(c for c in doc["classes"] if c["className"] in (class_name, alias))


def write(tmp_path: Path, name: str, doc: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


# ---------------------------------------------------------------- the seed apps

@pytest.mark.parametrize("path", SEED_FILES, ids=[p.stem for p in SEED_FILES])
async def test_each_seed_file_is_served_as_declared(path):
    doc = json.loads(path.read_text())
    async with serve(path) as api:
        schemas = await all_schemas(api)
        names = {"_User" if c["className"] == "User" else c["className"] for c in doc["classes"]}
        assert set(schemas) == names | {"_User", "_Role"}
        for cls in doc["classes"]:
            name = "_User" if cls["className"] == "User" else cls["className"]
            got = schemas[name]
            assert got["classLevelPermissions"] == {**EMPTY_CLP, **cls["classLevelPermissions"]}
            for fname, spec in cls["fields"].items():
                expected = {k: v for k, v in spec.items() if k != "description"}
                if "targetClass" in expected and expected["targetClass"] in ("User", "Role"):
                    expected["targetClass"] = "_" + expected["targetClass"]
                assert got["fields"][fname] == expected, (name, fname)
            if cls.get("indexes"):
                assert got["indexes"] == cls["indexes"]
                real = await api.engine.storage.indexes(name)
                assert set(cls["indexes"]) <= set(real)
            else:
                assert "indexes" not in got
        roles = await api.get("/roles", master=True)
        assert sorted((r["name"], r["ACL"]) for r in roles.body["results"]) == [(r, {}) for r in sorted(doc["roles"])]


async def test_supplier_ordering_details():
    async with serve(SEEDS / "supplier_ordering.json") as api:
        schemas = await all_schemas(api)
    assert sorted(schemas) == ["Automation", "Inventory", "Order", "Product", "PurchaseOrder", "Supplier",
                               "_Role", "_User"]
    order = schemas["Order"]
    assert order["fields"]["createdBy"] == {"type": "Pointer", "targetClass": "_User", "required": True}
    assert order["fields"]["status"] == {"type": "String", "required": True, "defaultValue": "pending"}
    assert order["classLevelPermissions"]["find"] == {"role:admin": True, "role:manager": True,
                                                      "pointerFields": ["createdBy"]}
    assert schemas["Product"]["fields"]["supplier"] == {"type": "Pointer", "targetClass": "Supplier", "required": True}
    assert schemas["Product"]["indexes"] == {"_p_supplier_1": {"_p_supplier": 1}, "name_1": {"name": 1}}
    user = schemas["_User"]
    assert user["fields"]["password"] == {"type": "String"} and user["fields"]["authData"] == {"type": "Object"}
    assert user["classLevelPermissions"] == {
        "find": {"role:admin": True}, "count": {"role:admin": True}, "get": {"requiresAuthentication": True},
        "create": {"*": True}, "update": {"requiresAuthentication": True},
        "delete": {"requiresAuthentication": True}, "addField": {},
        "protectedFields": {"*": ["email"], "role:admin": []}}
    assert schemas["_Role"]["classLevelPermissions"]["find"] == {"*": True}  # not declared: untouched


async def test_all_five_seed_files_in_one_server():
    async with serve(SEEDS) as api:
        schemas = await all_schemas(api)
        roles = await api.get("/roles", master=True)
    names = {"_User", "_Role"}
    for path in SEED_FILES:
        names |= {c["className"] for c in json.loads(path.read_text())["classes"] if c["className"] != "User"}
    assert set(schemas) == names
    assert sorted(r["name"] for r in roles.body["results"]) == ["admin", "manager", "staff"]
    # Fields of a class declared by several files are merged...
    product_fields = set()
    for path in SEED_FILES:
        doc = json.loads(path.read_text())
        if any(c["className"] == "Product" for c in doc["classes"]):
            product_fields |= set(declared(doc, "Product")["fields"])
    assert product_fields <= set(schemas["Product"]["fields"])
    # ...and the CLP of the file last in name order wins.
    last = declared(seed("supplier_ordering"), "Product")["classLevelPermissions"]
    assert schemas["Product"]["classLevelPermissions"] == {**EMPTY_CLP, **last}
    assert schemas["SKU"]["classLevelPermissions"] == {
        **EMPTY_CLP, **declared(seed("inventory_manager"), "SKU")["classLevelPermissions"]}


async def test_seed_schema_is_enforced_on_writes():
    async with serve(SEEDS / "supplier_ordering.json") as api:
        reply = await api.post("/classes/Supplier", {"phone": "1"}, master=True)
        assert (reply.status, reply.body) == (400, {"code": 142, "error": "name is required"})
        reply = await api.post("/classes/Supplier", {"name": 5}, master=True)
        assert reply.body == {"code": 111, "error": "schema mismatch for Supplier.name; expected String but got Number"}
        user = await api.signup("clerk")
        reply = await api.post("/classes/Supplier", {"name": "Acme"}, token=user["sessionToken"])
        assert reply.body == {"code": 119, "error": "Permission denied"}
        status, supplier = await api.post("/classes/Supplier", {"name": "Acme"}, master=True)
        ptr = {"__type": "Pointer", "className": "Supplier", "objectId": supplier["objectId"]}
        status, body = await api.post("/classes/Product", {"name": "Bolt", "supplier": ptr, "price": 2}, master=True)
        assert status == 201 and body["stock"] == 0


# ---------------------------------------------------------------- restarts and conflicts

async def start_engine(storage: MemoryAdapter, path: Path) -> Engine:
    engine = Engine(make_settings(schemas_path=str(path)), storage)
    attach_schema_files(engine)
    await engine.start()
    return engine


async def snapshot(storage: MemoryAdapter) -> tuple:
    docs = sorted(await storage.load_schemas(), key=lambda d: d["_id"])
    roles = await storage.db["_Role"].find({}, {"_id": 0, "name": 1}).to_list(None)
    indexes = {d["_id"]: await storage.indexes(d["_id"]) for d in docs}
    return docs, sorted(r["name"] for r in roles), indexes


async def test_restart_on_the_same_store_changes_nothing():
    storage = MemoryAdapter()
    await start_engine(storage, SEEDS)
    first = await snapshot(storage)
    assert first[1] == ["admin", "manager", "staff"]
    await start_engine(storage, SEEDS)
    assert await snapshot(storage) == first


async def test_restart_applies_new_declarations(tmp_path):
    storage = MemoryAdapter()
    doc = {"app": "shop", "roles": ["admin"], "classes": [
        {"className": "Item", "fields": {"name": {"type": "String"}}}]}
    await start_engine(storage, write(tmp_path, "shop.json", doc))
    doc["roles"].append("clerk")
    doc["classes"][0]["fields"]["name"]["required"] = True
    doc["classes"][0]["fields"]["price"] = {"type": "Number", "defaultValue": 0}
    doc["classes"][0]["classLevelPermissions"] = {"find": {"*": True}, "create": {"role:admin": True}}
    doc["classes"][0]["indexes"] = {"name_1": {"name": 1}}
    engine = await start_engine(storage, write(tmp_path, "shop.json", doc))
    item = engine.schemas.classes["Item"].to_api()
    assert item["fields"]["name"] == {"type": "String", "required": True}
    assert item["fields"]["price"] == {"type": "Number", "defaultValue": 0}
    assert item["classLevelPermissions"] == {**EMPTY_CLP, "find": {"*": True}, "create": {"role:admin": True}}
    assert item["indexes"] == {"name_1": {"name": 1}}
    assert "name_1" in await storage.indexes("Item")
    assert (await snapshot(storage))[1] == ["admin", "clerk"]


async def test_fields_added_outside_the_files_are_kept(tmp_path):
    storage = MemoryAdapter()
    path = write(tmp_path, "shop.json", {"app": "shop", "classes": [
        {"className": "Item", "fields": {"name": {"type": "String"}}}]})
    engine = await start_engine(storage, path)
    await engine.create("Item", {"name": "x", "extra": 1}, Auth.as_master())
    engine = await start_engine(storage, path)
    assert engine.schemas.classes["Item"].fields["extra"] == {"type": "Number"}
    found = await engine.find("Item", parse_options({}), Auth.as_master())
    assert [o["extra"] for o in found["results"]] == [1]


async def test_conflicting_type_change_is_refused_and_nothing_applied(tmp_path):
    storage = MemoryAdapter()
    shop = seed("ecommerce")
    await start_engine(storage, write(tmp_path, "shop.json", shop))
    before = await snapshot(storage)
    product = declared(shop, "Product")
    index = shop["classes"].index(product)
    product["fields"]["price"]["type"] = "String"
    product["fields"]["brandNew"] = {"type": "String"}
    product["indexes"] = {"brand_1": {"brandNew": 1}}
    shop["roles"].append("auditor")
    shop["classes"].append({"className": "Extra", "fields": {"a": {"type": "String"}}})
    declared(shop, "Cart")["classLevelPermissions"] = {"find": {"*": True}}
    path = write(tmp_path, "shop.json", shop)
    with pytest.raises(SchemaApplyError) as caught:
        await start_engine(storage, path)
    message = str(caught.value)
    assert f"{path}: $.classes[{index}].fields.price: Product.price is stored as Number but declared String" in message
    assert "nothing was changed" in message
    assert await snapshot(storage) == before


async def test_every_conflict_is_reported(tmp_path):
    storage = MemoryAdapter()
    doc = {"app": "a", "classes": [
        {"className": "A", "fields": {"x": {"type": "String"}, "g": {"type": "GeoPoint"}},
         "indexes": {"i": {"x": 1}}},
        {"className": "B", "fields": {"p": {"type": "Pointer", "targetClass": "A"}}}]}
    await start_engine(storage, write(tmp_path, "a.json", doc))
    doc["classes"][0]["fields"] = {"x": {"type": "Number"}, "g2": {"type": "GeoPoint"}}
    doc["classes"][0]["indexes"] = {"i": {"x": -1}}
    doc["classes"][1]["fields"]["p"]["targetClass"] = "B"
    with pytest.raises(SchemaApplyError) as caught:
        await start_engine(storage, write(tmp_path, "a.json", doc))
    problems = caught.value.problems
    assert len(problems) == 4
    assert "A.x is stored as String but declared Number" in problems[0]
    assert "A would have 2 GeoPoint fields (g, g2)" in problems[1]
    assert "index i of A exists with keys {'x': 1}" in problems[2]
    assert "B.p is stored as Pointer<A> but declared Pointer<B>" in problems[3]


async def test_files_disagreeing_on_a_type_are_refused(tmp_path):
    write(tmp_path, "a.json", {"app": "a", "classes": [{"className": "Item", "fields": {"n": {"type": "String"}}}]})
    write(tmp_path, "b.json", {"app": "b", "classes": [{"className": "Item", "fields": {"n": {"type": "Number"}}}]})
    storage = MemoryAdapter()
    with pytest.raises(SchemaApplyError) as caught:
        await start_engine(storage, tmp_path)
    assert caught.value.problems == [
        f"{tmp_path / 'b.json'}: $.classes[0].fields.n: Item.n is Number here but String in "
        f"{tmp_path / 'a.json'}: $.classes[0].fields.n"]
    assert "Item" not in {d["_id"] for d in await storage.load_schemas()}


async def test_same_keys_under_another_index_name_are_refused(tmp_path):
    storage = MemoryAdapter()
    engine = Engine(make_settings(), storage)
    await engine.start()
    await engine.create("Item", {"n": "x"}, Auth.as_master())
    await storage.ensure_index("Item", engine.schemas.fields_of("Item"), {"n": 1}, "by_n")
    path = write(tmp_path, "a.json", {"app": "a", "classes": [
        {"className": "Item", "fields": {"n": {"type": "String"}}, "indexes": {"n_1": {"n": 1}}}]})
    with pytest.raises(SchemaApplyError) as caught:
        await start_engine(storage, path)
    assert caught.value.problems == [f"{path}: $.classes[0].indexes.n_1: Item already has index by_n on the same keys"]


def test_merge_warns_when_a_later_file_overrides():
    a = {"app": "a", "classes": [{"className": "X", "fields": {"f": {"type": "String"}},
                                  "classLevelPermissions": {"find": {"*": True}}}]}
    b = {"app": "b", "classes": [{"className": "X", "fields": {"f": {"type": "String", "required": True}},
                                  "classLevelPermissions": {"find": {}}}]}
    classes, roles, warnings = schema_apply.merge_files([(Path("a.json"), a), (Path("b.json"), b)])
    assert classes["X"].fields["f"] == {"type": "String", "required": True}
    assert classes["X"].clp == {"find": {}}
    assert warnings == [
        "b.json: $.classes[0].fields.f: options of X.f override a.json: $.classes[0].fields.f",
        "b.json: $.classes[0].classLevelPermissions: classLevelPermissions of X override "
        "a.json: $.classes[0].classLevelPermissions",
    ]


# ---------------------------------------------------------------- the command line

def run_bapp(*args: str) -> subprocess.CompletedProcess:
    # The embedded store's data goes to a directory of its own, never the checkout.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BAPP_MASTER_KEY": "k",
           "BAPP_DATA_DIR": tempfile.mkdtemp(prefix="bapp-cli-")}
    return subprocess.run([sys.executable, "-m", "bapp", *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)


async def test_invalid_schema_file_stops_serve_with_exit_code_2(tmp_path):
    bad = write(tmp_path, "bad.json", {"app": "bad", "classes": [
        {"className": "Item", "fields": {"price": {"type": "Money"}}}]})
    result = await asyncio.to_thread(run_bapp, "serve", "--schemas", str(bad), "--port", "0")
    assert result.returncode == 2
    assert f"{bad}: $.classes[0].fields.price.type: unknown field type 'Money'" in result.stderr
    result = await asyncio.to_thread(run_bapp, "serve", "--schemas", str(tmp_path / "missing"), "--port", "0")
    assert result.returncode == 2 and "no such file or directory" in result.stderr


async def test_conflicting_schema_files_stop_serve_with_exit_code_2(tmp_path):
    write(tmp_path, "a.json", {"app": "a", "classes": [{"className": "Item", "fields": {"n": {"type": "String"}}}]})
    write(tmp_path, "b.json", {"app": "b", "classes": [{"className": "Item", "fields": {"n": {"type": "Number"}}}]})
    result = await asyncio.to_thread(run_bapp, "serve", "--schemas", str(tmp_path), "--port", "0")
    assert result.returncode == 2, result.stderr
    assert "Item.n is Number here but String in" in result.stderr
    assert "Traceback" not in result.stderr
