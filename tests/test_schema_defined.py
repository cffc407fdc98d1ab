"""The ``schema`` option (Parse Server's defined schemas) applied through the
schema-files machinery, checked through the schema API."""

from __future__ import annotations

import json

import pytest
from conftest import make_settings

from bapp.config import ConfigError, Settings, apply_parse_config
from bapp.core import schema_defined

PRODUCT = {
    "className": "Product",
    "fields": {"name": {"type": "String", "required": True}, "price": {"type": "Number", "defaultValue": 0},
               "supplier": {"type": "Pointer", "targetClass": "Supplier"}},
    "indexes": {"name_1": {"name": 1}},
    "classLevelPermissions": {"find": {"*": True}, "get": {"*": True}, "create": {"*": True},
                              "update": {"*": True}, "delete": {"role:admin": True}, "count": {"*": True},
                              "addField": {"*": True}},
}
SUPPLIER = {"className": "Supplier", "fields": {"title": {"type": "String"}}}


def options(**overrides) -> dict:
    return schema_defined.check_options({"definitions": [PRODUCT, SUPPLIER], **overrides})


@pytest.fixture
def settings():
    return make_settings(schema_options=options(lockSchemas=True))


async def test_definitions_are_created_at_start_up(api):
    reply = await api.get("/schemas/Product", master=True)
    assert reply.status == 200, reply.body
    fields = reply.body["fields"]
    assert fields["name"] == {"type": "String", "required": True}
    assert fields["price"] == {"type": "Number", "defaultValue": 0}
    assert fields["supplier"] == {"type": "Pointer", "targetClass": "Supplier"}
    assert reply.body["indexes"]["name_1"] == {"name": 1}
    # addField is always emptied, as Parse Server's migrations do
    assert reply.body["classLevelPermissions"]["addField"] == {}
    assert reply.body["classLevelPermissions"]["find"] == {"*": True}
    assert reply.body["classLevelPermissions"]["delete"] == {"role:admin": True}
    # a role named in a CLP is not created (Parse Server does not create it either)
    assert (await api.get("/roles", master=True)).body["results"] == []
    created = await api.post("/classes/Product", {"name": "Widget"})
    assert created.status == 201, created.body
    assert (await api.get(f"/classes/Product/{created.body['objectId']}")).body["price"] == 0
    refused = await api.post("/classes/Product", {"name": "Gadget", "color": "red"})
    assert (refused.status, refused.body["code"]) == (400, 119)


async def test_lock_schemas(api):
    locked = (400, {"code": 119, "error": "Cannot perform this operation when schemas options is used."})
    assert tuple(await api.post("/schemas/Other", {"className": "Other"}, master=True)) == locked
    assert tuple(await api.put("/schemas/Product", {"fields": {"x": {"type": "String"}}}, master=True)) == locked
    # the master key is still required first
    assert (await api.post("/schemas/Other", {"className": "Other"})).status == 403
    assert (await api.get("/schemas", master=True)).status == 200


async def test_changes_to_existing_classes(api):
    engine = api.engine
    # a class as a previous deployment left it: an extra field, a field of another type, an extra index
    engine.settings.schema_options = None  # unlocked while the old state is built
    for body in ({"fields": {"legacy": {"type": "String"}}}, {"indexes": {"legacy_1": {"legacy": 1}}}):
        reply = await api.put("/schemas/Supplier", body, master=True)
        assert reply.status == 200, reply.body
    await api.post("/schemas/Loose", {"className": "Loose", "classLevelPermissions": {"addField": {"*": True}}},
                   master=True)
    await api.post("/classes/Supplier", {"title": "Acme", "legacy": "x"}, master=True)

    changed = dict(SUPPLIER, fields={"title": {"type": "Number"}})
    opts = schema_defined.check_options({"definitions": [PRODUCT, changed]})
    await schema_defined.migrate(engine, opts)
    schema = (await api.get("/schemas/Supplier", master=True)).body
    assert schema["fields"]["title"] == {"type": "String"}  # kept as stored
    assert "legacy" in schema["fields"]  # extra fields stay
    assert "legacy_1" not in schema.get("indexes", {})  # undeclared indexes go
    loose = (await api.get("/schemas/Loose", master=True)).body
    assert loose["classLevelPermissions"]["addField"] == {}

    opts = schema_defined.check_options({"definitions": [PRODUCT, changed], "deleteExtraFields": True,
                                         "recreateModifiedFields": True})
    await schema_defined.migrate(engine, opts)
    schema = (await api.get("/schemas/Supplier", master=True)).body
    assert schema["fields"]["title"] == {"type": "Number"}
    assert "legacy" not in schema["fields"]
    rows = (await api.get("/classes/Supplier", master=True)).body["results"]
    assert len(rows) == 1 and "title" not in rows[0] and "legacy" not in rows[0]
    # applying the same definitions again changes nothing
    await schema_defined.migrate(engine, opts)
    assert (await api.get("/schemas/Supplier", master=True)).body == schema


def write(tmp_path, schema) -> Settings:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "schema": schema}))
    settings = Settings()
    apply_parse_config(settings, path)
    return settings


def test_config_mapping(tmp_path):
    settings = write(tmp_path, {"definitions": [SUPPLIER], "strict": True})
    assert settings.schema_options["strict"] is True
    assert settings.schema_options["lockSchemas"] is False


@pytest.mark.parametrize("schema, message", [
    ("x", "Parse Server option schema must be an object."),
    ({"definitions": {}}, "Parse Server option schema.definitions must be an array."),
    ({"definitions": [], "strict": "yes"}, "Parse Server option schema.strict must be a boolean."),
    ({"definitions": [], "lockSchemas": 1}, "Parse Server option schema.lockSchemas must be a boolean."),
    ({"definitions": [SUPPLIER, SUPPLIER]}, 'contains duplicated "className"'),
    ({"definitions": [{"className": "A", "fields": {"x": {"type": "Text"}}}]}, "schema.definitions"),
    ({"definitions": [{"className": "A", "fields": {"p": {"type": "Pointer"}}}]}, "targetClass"),
])
def test_config_errors(tmp_path, schema, message):
    with pytest.raises(ConfigError, match=message.replace(".", "\\.")):
        write(tmp_path, schema)
