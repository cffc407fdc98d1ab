"""Parse Server's defined schemas (the ``schema`` option: ``definitions``,
``strict``, ``deleteExtraFields``, ``recreateModifiedFields``,
``lockSchemas``), applied at start-up through the schema-files machinery
(``schema_files`` validates, ``schema_apply`` creates classes, fields, CLPs,
indexes).

What Parse Server's SchemaMigrations do on top of a schema file, done here:

- a defined class's CLP is the definition's with ``addField`` emptied, and
  classes without a definition get ``addField: {}`` too (no client adds a
  column once schemas are defined);
- indexes of a defined class that the definition lacks (or declares with
  other keys) are dropped, the system ones excepted;
- a field whose type differs from the stored one is kept as stored (with a
  warning under ``strict``) unless ``recreateModifiedFields``, which deletes
  it, data included, and adds it with the new type;
- stored fields the definition lacks stay (a warning under ``strict``)
  unless ``deleteExtraFields`` deletes them;
- ``lockSchemas`` refuses schema creation and changes through the API (119).

``beforeMigration``/``afterMigration`` are JavaScript callbacks in Parse
Server and cannot come from a JSON config."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bapp.core import schema_api, schema_apply, schema_files
from bapp.model import types

if TYPE_CHECKING:
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.schema")
SOURCE = Path("schema.definitions")
LOCKED_MESSAGE = "Cannot perform this operation when schemas options is used."
_PROTECTED_INDEXES = {
    "_User": {"case_insensitive_username", "case_insensitive_email", "username_1", "email_1"},
    "_Role": {"name_1"},
    "_Idempotency": {"reqId_1"},
}
_BOOL_KEYS = ("strict", "deleteExtraFields", "recreateModifiedFields", "lockSchemas")


def check_options(value: Any) -> dict:
    """Parse Server's validateSchemaOptions, plus the definitions' own checks."""
    if not isinstance(value, dict):
        raise ValueError("Parse Server option schema must be an object.")
    out = dict(value)
    out.setdefault("definitions", [])
    if not isinstance(out["definitions"], list):
        raise ValueError("Parse Server option schema.definitions must be an array.")
    for key in _BOOL_KEYS:
        out.setdefault(key, False)
        if not isinstance(out[key], bool):
            raise ValueError(f"Parse Server option schema.{key} must be a boolean.")
    for key in ("beforeMigration", "afterMigration"):
        if out.get(key) is not None:
            raise ValueError(f"Parse Server option schema.{key} must be a function (not possible in a config file).")
    names = [d.get("className") for d in out["definitions"] if isinstance(d, dict)]
    if len(set(names)) != len(names):
        raise ValueError(f'The list of schemas provided contains duplicated "className" "{", ".join(names)}"')
    try:
        if out["definitions"]:
            schema_files.validate_schema_document(to_document(out["definitions"]), SOURCE)
    except schema_files.SchemaFileError as exc:
        raise ValueError(str(exc)) from None
    return out


def _is_protected_field(class_name: str, name: str) -> bool:
    return name in types.DEFAULT_FIELDS or name in types.CLASS_DEFAULT_FIELDS.get(class_name, {})


def _is_protected_index(class_name: str, name: str) -> bool:
    return name == "_id_" or name in _PROTECTED_INDEXES.get(class_name, set())


def to_document(definitions: list) -> dict:
    """The definitions as a bapp schema file (system fields and indexes left out)."""
    classes = []
    for item in definitions:
        if not isinstance(item, dict):
            classes.append(item)  # reported by the file validator
            continue
        name = item.get("className")
        entry = {"className": name,
                 "fields": {k: v for k, v in (item.get("fields") or {}).items()
                            if not _is_protected_field(str(name), k)}}
        clp = copy.deepcopy(item.get("classLevelPermissions") or {})
        clp["addField"] = {}
        entry["classLevelPermissions"] = clp
        indexes = {k: v for k, v in (item.get("indexes") or {}).items() if not _is_protected_index(str(name), k)}
        if indexes:
            entry["indexes"] = indexes
        classes.append(entry)
    # Roles named in CLPs are listed so the file checks pass; they are not
    # created (Parse Server does not create them either, see migrate).
    return {"app": "parse_server_schema", "roles": sorted(_clp_roles(classes)), "classes": classes}


def _clp_roles(classes: list) -> set[str]:
    roles = set()
    for entry in classes:
        clp = entry.get("classLevelPermissions") if isinstance(entry, dict) else None
        for perms in (clp or {}).values():
            if isinstance(perms, dict):
                roles.update(k[len("role:"):] for k in perms if isinstance(k, str) and k.startswith("role:"))
    return roles


def _same_type(a: dict, b: dict) -> bool:
    return a.get("type") == b.get("type") and a.get("targetClass") == b.get("targetClass")


def _label(spec: dict) -> str:
    return spec["type"] + (f" ({spec['targetClass']})" if spec.get("targetClass") else "")


async def _prepare_class(engine: Engine, options: dict, definition: dict, entry: dict) -> None:
    """Deletions a definition asks of an existing class, before it is applied."""
    name = definition["className"]
    stored = engine.schemas.classes.get(name)
    if stored is None:
        return
    declared = entry["fields"]
    delete_fields: dict[str, dict] = {}
    for field_name, spec in stored.fields.items():
        if _is_protected_field(name, field_name):
            continue
        wanted = declared.get(field_name)
        if wanted is None:
            if options["deleteExtraFields"]:
                delete_fields[field_name] = {"__op": "Delete"}
            elif options["strict"]:
                log.warning('The following fields exist in the database for "%s", but are missing in the schema : '
                            '"%s"', name, field_name)
        elif not _same_type(spec, wanted):
            if options["recreateModifiedFields"]:
                delete_fields[field_name] = {"__op": "Delete"}
            else:
                if options["strict"]:
                    log.warning('The field "%s" type differ between the schema and the database for "%s"; Schema '
                                'is defined as "%s" and current database type is "%s"', field_name, name,
                                _label(wanted), _label(spec))
                declared[field_name] = dict(spec)  # kept as stored, as Parse Server does
    delete_indexes = {}
    wanted_indexes = entry.get("indexes") or {}
    for index_name, keys in (stored.indexes or {}).items():
        if _is_protected_index(name, index_name):
            continue
        if index_name not in wanted_indexes or wanted_indexes[index_name] != keys:
            delete_indexes[index_name] = {"__op": "Delete"}
    if delete_fields or delete_indexes:
        body: dict[str, Any] = {}
        if delete_fields:
            body["fields"] = delete_fields
        if delete_indexes:
            body["indexes"] = delete_indexes
        await schema_api.update_schema(engine, name, body)


async def migrate(engine: Engine, options: dict) -> None:
    definitions = options["definitions"]
    await engine.schemas.load()
    if definitions:
        document = schema_files.validate_schema_document(to_document(definitions), SOURCE)
        document["roles"] = []
        for definition, entry in zip(definitions, document["classes"], strict=True):
            await _prepare_class(engine, options, definition, entry)
        await schema_apply.apply_files(engine, [(SOURCE, document)])
    defined = {d["className"] for d in definitions}
    for name, stored in list(engine.schemas.classes.items()):
        if name in defined:
            continue
        clp = copy.deepcopy(stored.permissions)
        if clp.get("addField") != {}:
            clp["addField"] = {}
            await schema_api.update_schema(engine, name, {"classLevelPermissions": clp})
    if options["strict"]:
        extra = sorted(n for n in engine.schemas.classes if n not in defined and n not in types.SYSTEM_CLASSES)
        if extra:
            log.warning('The following schemas are currently present in the database, but not explicitly defined '
                        'in a schema: "%s"', '", "'.join(extra))


def startup_task(options: dict):
    async def run(engine: Engine) -> None:
        await migrate(engine, options)

    return run
