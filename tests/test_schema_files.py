"""Tests for the app schema files and their loader (bapp.core.schema_files)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bapp.core.schema_files import (
    SchemaFileError,
    data_dictionary,
    load_schema_dir,
    load_schema_file,
    mermaid_er,
    render_docs,
    validate_schema_document,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

EXPECTED_CLASSES = {
    "ecommerce": ["_User", "Product", "SKU", "Cart", "Order", "Customer"],
    "ecommerce_admin": ["_User", "Product", "Inventory", "Order", "AccessLog"],
    "inventory_manager": ["_User", "SKU", "Location", "Inventory", "Alert", "Notification"],
    "multi_store_inventory": ["_User", "Store", "Product", "Inventory", "Transaction", "Order"],
    "supplier_ordering": ["_User", "Supplier", "Product", "Inventory", "Order", "PurchaseOrder",
                          "Automation"],
}

OPERATIONS = ("find", "get", "count", "create", "update", "delete", "addField")

BASE: dict[str, Any] = {
    "app": "shop",
    "description": "test app",
    "roles": ["admin"],
    "classes": [
        {"className": "User", "fields": {"phone": {"type": "String"}}},
        {
            "className": "Product",
            "fields": {
                "name": {"type": "String", "required": True},
                "price": {"type": "Number", "defaultValue": 0},
                "owner": {"type": "Pointer", "targetClass": "User"},
                "tags": {"type": "Array"},
            },
            "classLevelPermissions": {
                "find": {"*": True}, "get": {"*": True}, "count": {"*": True},
                "create": {"role:admin": True}, "update": {"role:admin": True},
                "delete": {"role:admin": True}, "addField": {},
                "protectedFields": {"*": []},
            },
            "indexes": {"name_1": {"name": 1}},
        },
    ],
}


def write(tmp_path: Path, doc: Any, name: str = "shop.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def product(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["classes"][1]


def error_for(tmp_path: Path, doc: Any) -> SchemaFileError:
    path = write(tmp_path, doc)
    with pytest.raises(SchemaFileError) as info:
        load_schema_file(path)
    assert info.value.path == str(path)
    return info.value


# --------------------------------------------------------------------------- shipped files


def test_shipped_files_load_with_expected_classes() -> None:
    docs = load_schema_dir(SCHEMAS)
    assert [d["app"] for d in docs] == sorted(EXPECTED_CLASSES)
    for doc in docs:
        assert [c["className"] for c in doc["classes"]] == EXPECTED_CLASSES[doc["app"]]
        assert doc["description"]


@pytest.mark.parametrize("app", sorted(EXPECTED_CLASSES))
def test_shipped_file_conventions(app: str) -> None:
    doc = load_schema_file(SCHEMAS / f"{app}.json")
    assert doc["app"] == app
    assert "admin" in doc["roles"]
    for cls in doc["classes"]:
        clp = cls["classLevelPermissions"]
        # every operation is stated explicitly: a missing one would silently mean master-only
        assert all(op in clp for op in OPERATIONS), cls["className"]
        assert clp["addField"] == {}, "clients must not change the schema"
        for field in cls["fields"].values():
            if field["type"] in ("Pointer", "Relation"):
                assert not field["targetClass"].startswith("User")


def test_shipped_user_classes_keep_signup_open_and_hide_email() -> None:
    for doc in load_schema_dir(SCHEMAS):
        user = next(c for c in doc["classes"] if c["className"] == "_User")
        clp = user["classLevelPermissions"]
        assert clp["create"] == {"*": True}
        assert "email" in clp["protectedFields"]["*"]


def clp_of(app: str, class_name: str) -> dict[str, Any]:
    doc = load_schema_file(SCHEMAS / f"{app}.json")
    return next(c for c in doc["classes"] if c["className"] == class_name)[
        "classLevelPermissions"]


def test_owner_rules_are_pointer_permissions() -> None:
    order = clp_of("ecommerce", "Order")
    assert order["find"] == {"role:admin": True, "pointerFields": ["user"]}
    assert order["create"] == {"requiresAuthentication": True}
    alert = clp_of("inventory_manager", "Alert")
    assert alert["readUserFields"] == ["createdBy"]
    assert alert["writeUserFields"] == ["createdBy"]
    assert alert["update"] == {} and alert["delete"] == {}
    assert clp_of("supplier_ordering", "Order")["get"]["pointerFields"] == ["createdBy"]
    assert clp_of("multi_store_inventory", "Store")["update"]["pointerFields"] == ["manager"]


def test_admin_only_writes_and_signed_in_reads() -> None:
    product_clp = clp_of("ecommerce_admin", "Product")
    assert product_clp["find"] == {"requiresAuthentication": True}
    assert product_clp["create"] == product_clp["delete"] == {"role:admin": True}
    assert clp_of("ecommerce", "Product")["find"] == {"*": True}
    ledger = clp_of("multi_store_inventory", "Transaction")
    assert ledger["update"] == {} and ledger["delete"] == {}


# --------------------------------------------------------------------------- loader


def test_valid_document_is_normalised(tmp_path: Path) -> None:
    doc = load_schema_file(write(tmp_path, base()))
    assert [c["className"] for c in doc["classes"]] == ["_User", "Product"]
    assert product(doc)["fields"]["owner"]["targetClass"] == "_User"


def test_underscore_names_and_aliases_both_accepted() -> None:
    doc = base()
    doc["classes"][0]["className"] = "_User"
    doc["classes"].append({"className": "Role", "fields": {"level": {"type": "Number"}}})
    doc.pop("roles")
    product(doc).pop("classLevelPermissions")
    out = validate_schema_document(doc)
    assert [c["className"] for c in out["classes"]] == ["_User", "Product", "_Role"]
    assert out["roles"] == []


def test_alias_and_builtin_name_are_duplicates(tmp_path: Path) -> None:
    doc = base()
    doc["classes"].append({"className": "_User", "fields": {}})
    err = error_for(tmp_path, doc)
    assert err.json_path == "$.classes[2].className"
    assert "already defined" in err.message


def test_error_renders_file_path_and_message(tmp_path: Path) -> None:
    doc = base()
    product(doc)["fields"]["price"]["type"] = "Money"
    err = error_for(tmp_path, doc)
    assert str(err) == f"{tmp_path / 'shop.json'}: {err.json_path}: {err.message}"


@pytest.mark.parametrize(
    ("mutate", "json_path", "words"),
    [
        pytest.param(lambda d: product(d)["fields"]["price"].update(type="Money"),
                     "$.classes[1].fields.price.type", "unknown field type 'Money'",
                     id="unknown-type"),
        pytest.param(lambda d: product(d)["fields"]["owner"].pop("targetClass"),
                     "$.classes[1].fields.owner.targetClass", "needs a targetClass",
                     id="pointer-without-target"),
        pytest.param(lambda d: product(d)["fields"].update({"1st": {"type": "String"}}),
                     "$.classes[1].fields['1st']", "invalid name '1st'",
                     id="bad-field-name"),
        pytest.param(lambda d: product(d)["fields"].update({"length": {"type": "Number"}}),
                     "$.classes[1].fields.length", "reserved",
                     id="reserved-field-name"),
        pytest.param(lambda d: product(d)["classLevelPermissions"].update(read={"*": True}),
                     "$.classes[1].classLevelPermissions.read", "unknown key 'read'",
                     id="bad-clp-key"),
        pytest.param(lambda d: product(d)["classLevelPermissions"].update(get={"*": False}),
                     "$.classes[1].classLevelPermissions.get['*']", "must be true",
                     id="clp-value-not-true"),
        pytest.param(lambda d: product(d)["fields"]["price"].update(defaultValue="free"),
                     "$.classes[1].fields.price.defaultValue", "not a valid Number",
                     id="default-wrong-type"),
        pytest.param(lambda d: product(d)["fields"]["name"].update(defaultValue=True),
                     "$.classes[1].fields.name.defaultValue", "not a valid String",
                     id="default-bool-for-string"),
        pytest.param(lambda d: d["classes"][0]["fields"].update(email={"type": "String"}),
                     "$.classes[0].fields.email", "built-in field of _User",
                     id="builtin-user-field"),
        pytest.param(lambda d: product(d)["fields"].update(objectId={"type": "String"}),
                     "$.classes[1].fields.objectId", "default field",
                     id="default-field"),
        pytest.param(lambda d: product(d)["fields"].update(a={"type": "GeoPoint"},
                                                           b={"type": "GeoPoint"}),
                     "$.classes[1].fields.b", "only one GeoPoint",
                     id="two-geopoints"),
        pytest.param(lambda d: d.update(version=2), "$.version", "unknown key 'version'",
                     id="unknown-top-level-key"),
        pytest.param(lambda d: d.pop("classes"), "$.classes", "'classes' is required",
                     id="missing-classes"),
        pytest.param(lambda d: product(d)["fields"]["owner"].update(targetClass="Nope"),
                     "$.classes[1].fields.owner.targetClass", "unknown class 'Nope'",
                     id="unknown-target-class"),
        pytest.param(lambda d: product(d)["fields"]["name"].update(targetClass="Product"),
                     "$.classes[1].fields.name.targetClass", "not allowed on a String",
                     id="target-on-string"),
        pytest.param(lambda d: product(d)["fields"].update(
                         fans={"type": "Relation", "targetClass": "_User", "required": True}),
                     "$.classes[1].fields.fans.required", "Relation",
                     id="required-relation"),
        pytest.param(lambda d: product(d)["fields"].update(
                         fans={"type": "Relation", "targetClass": "_User", "defaultValue": []}),
                     "$.classes[1].fields.fans.defaultValue", "not allowed on a Relation",
                     id="default-relation"),
        pytest.param(lambda d: product(d)["classLevelPermissions"].update(
                         find={"pointerFields": ["name"]}),
                     "$.classes[1].classLevelPermissions.find.pointerFields[0]",
                     "Pointer<_User> or Array",
                     id="pointer-permission-on-string"),
        pytest.param(lambda d: product(d)["classLevelPermissions"].update(
                         readUserFields=["missing"]),
                     "$.classes[1].classLevelPermissions.readUserFields[0]",
                     "Pointer<_User> or Array",
                     id="read-user-field-unknown"),
        pytest.param(lambda d: product(d)["classLevelPermissions"].update(
                         update={"role:editor": True}),
                     "$.classes[1].classLevelPermissions.update['role:editor']",
                     "not listed in $.roles",
                     id="undeclared-role"),
        pytest.param(lambda d: product(d)["classLevelPermissions"].update(
                         protectedFields={"*": ["createdAt"]}),
                     "$.classes[1].classLevelPermissions.protectedFields['*'][0]",
                     "cannot be protected",
                     id="protect-default-field"),
        pytest.param(lambda d: product(d)["indexes"].update(bad={"colour": 1}),
                     "$.classes[1].indexes.bad.colour", "unknown field 'colour'",
                     id="index-unknown-field"),
        pytest.param(lambda d: product(d)["indexes"].update(bad={"_p_name": 1}),
                     "$.classes[1].indexes.bad._p_name", "unknown field",
                     id="index-storage-key-of-non-pointer"),
        pytest.param(lambda d: product(d)["indexes"].update(bad={"name": 2}),
                     "$.classes[1].indexes.bad.name", "is not one of",
                     id="index-bad-direction"),
    ],
)
def test_invalid_documents(tmp_path: Path, mutate, json_path: str, words: str) -> None:
    doc = base()
    mutate(doc)
    err = error_for(tmp_path, doc)
    assert err.json_path == json_path, err
    assert words in err.message, err


def test_valid_defaults_of_rest_types(tmp_path: Path) -> None:
    doc = base()
    product(doc)["fields"].update({
        "since": {"type": "Date", "defaultValue": {"__type": "Date",
                                                   "iso": "2024-01-01T00:00:00.000Z"}},
        "where": {"type": "GeoPoint",
                  "defaultValue": {"__type": "GeoPoint", "latitude": 1.5, "longitude": 2}},
        "maker": {"type": "Pointer", "targetClass": "User",
                  "defaultValue": {"__type": "Pointer", "className": "_User",
                                   "objectId": "abc"}},
        "meta": {"type": "Object", "defaultValue": {"a": 1}},
        "live": {"type": "Boolean", "defaultValue": False},
    })
    product(doc)["indexes"]["owner_1"] = {"_p_owner": 1, "createdAt": -1}
    load_schema_file(write(tmp_path, doc))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ({"type": "Date"}, {"__type": "Date", "iso": "yesterday"}),
        ({"type": "Date"}, "2024-01-01T00:00:00Z"),
        ({"type": "GeoPoint"}, {"__type": "GeoPoint", "latitude": 91, "longitude": 0}),
        ({"type": "Pointer", "targetClass": "Product"},
         {"__type": "Pointer", "className": "_User", "objectId": "x"}),
        ({"type": "Object"}, {"__type": "Date", "iso": "2024-01-01T00:00:00Z"}),
        ({"type": "Number"}, True),
        ({"type": "Array"}, {}),
    ],
)
def test_invalid_defaults_of_rest_types(tmp_path: Path, field: dict, value: Any) -> None:
    doc = base()
    product(doc)["fields"]["extra"] = {**field, "defaultValue": value}
    err = error_for(tmp_path, doc)
    assert err.json_path == "$.classes[1].fields.extra.defaultValue"


def test_malformed_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "app": "shop",\n  "classes": [\n    {"className": "A",}\n  ]\n}\n')
    with pytest.raises(SchemaFileError) as info:
        load_schema_file(path)
    assert info.value.json_path == "$"
    assert "line 4" in info.value.message
    assert str(info.value).startswith(f"{path}: $: invalid JSON at line 4 column")


def test_duplicate_json_keys_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{"app": "shop", "app": "other", "classes": []}')
    with pytest.raises(SchemaFileError, match="duplicate key 'app'"):
        load_schema_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaFileError, match="cannot read file"):
        load_schema_file(tmp_path / "nope.json")


def test_load_schema_dir_sorted_and_rejects_duplicate_apps(tmp_path: Path) -> None:
    second = base()
    second["app"] = "another"
    write(tmp_path, base(), "b.json")
    write(tmp_path, second, "a.json")
    (tmp_path / "notes.txt").write_text("ignored")
    assert [d["app"] for d in load_schema_dir(tmp_path)] == ["another", "shop"]
    write(tmp_path, base(), "c.json")
    with pytest.raises(SchemaFileError) as info:
        load_schema_dir(tmp_path)
    assert info.value.path == str(tmp_path / "c.json")
    assert info.value.json_path == "$.app"


# --------------------------------------------------------------------------- docs


def test_docs_contain_diagram_classes_and_relationships() -> None:
    doc = load_schema_file(SCHEMAS / "supplier_ordering.json")
    docs = render_docs(doc)
    assert "erDiagram" in docs
    for cls in EXPECTED_CLASSES["supplier_ordering"]:
        assert cls in docs
    assert 'Supplier ||--o{ Product : "supplier"' in docs
    assert 'User ||--o{ Order : "createdBy"' in docs
    assert "| threshold | Number | yes | `0` |" in docs


def test_mermaid_and_dictionary_for_every_shipped_file() -> None:
    for doc in load_schema_dir(SCHEMAS):
        er = mermaid_er(doc)
        assert er.startswith("erDiagram\n")
        table = data_dictionary(doc)
        for cls in doc["classes"]:
            assert f"    {cls['className'].lstrip('_')} {{" in er
            assert f"### {cls['className']}" in table


def test_relation_is_many_to_many_and_pointer_many_to_one() -> None:
    doc = base()
    product(doc)["fields"]["fans"] = {"type": "Relation", "targetClass": "_User"}
    er = mermaid_er(validate_schema_document(doc))
    assert 'Product }o--o{ User : "fans"' in er
    assert 'User ||--o{ Product : "owner"' in er
    assert "Pointer owner FK" in er
    table = data_dictionary(validate_schema_document(doc))
    assert "| owner | `Pointer<_User>` | no |  |  |" in table
    assert "| username | String | built-in |" in table
