"""The schema API: create, change and delete classes, their fields, class-level
permissions and indexes, with Parse Server's checks, error codes and messages.

Every change is planned first (pure validation against the current schema,
no I/O) and only then applied, so a request that fails leaves nothing
half-done — a deliberate safer deviation from Parse Server, which can delete
fields before it notices a bad index. Planning is shared with the start-up
application of schema files (``schema_apply``).

The HTTP layer (``bapp/http/schemas.py``) adds the master-key, read-only and
class-name checks of Parse Server's router; everything else is here."""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.core.schema import CLP_KEYS, ClassSchema, builtin_fields
from bapp.errors import ParseError
from bapp.model import types
from bapp.model.types import js_text

if TYPE_CHECKING:
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.schema")

MISSING_REQUIRED_FIELD = 135  # Parse.Error.MISSING_REQUIRED_FIELD_ERROR
CHANGED_IMMUTABLE_FIELD = 136  # Parse.Error.CHANGED_IMMUTABLE_FIELD_ERROR
ID_INDEX = {"_id_": {"_id": 1}}

# Classes Parse Server keeps in memory only; GET /schemas/<name> still answers for them.
VOLATILE_SCHEMAS: dict[str, dict[str, dict]] = {
    "_JobStatus": types.CLASS_DEFAULT_FIELDS["_JobStatus"],
    "_PushStatus": types.CLASS_DEFAULT_FIELDS["_PushStatus"],
    "_JobSchedule": types.CLASS_DEFAULT_FIELDS["_JobSchedule"],
    "_Audience": types.CLASS_DEFAULT_FIELDS["_Audience"],
    "_Idempotency": types.CLASS_DEFAULT_FIELDS["_Idempotency"],
    "_Hooks": {"functionName": {"type": "String"}, "className": {"type": "String"},
               "triggerName": {"type": "String"}, "url": {"type": "String"}},
    "_GlobalConfig": {"params": {"type": "Object"}, "masterKeyOnly": {"type": "Object"}},
    "_GraphQLConfig": {"config": {"type": "Object"}},
}

_NON_POINTER_TYPES = frozenset(types.FIELD_TYPES) - {"Pointer", "Relation"}
_AUTO_ID = re.compile(r"^[a-zA-Z0-9]+$")
_ANY_ID = re.compile(r"^.+$", re.S)
_CLP_KEY = re.compile(r"^(?:pointerFields|\*|requiresAuthentication|role:.*)$", re.S)
_PROTECTED_KEY = re.compile(r"^(?:userField:.*|\*|authenticated|role:.*)$", re.S)


# ------------------------------------------------------------------ helpers

def invalid_class_name(name: Any) -> ParseError:
    return ParseError(errors.INVALID_CLASS_NAME,
                      f"Invalid classname: {js_text(name)}, classnames can only have alphanumeric characters "
                      "and _, and must start with an alpha character ")


def class_defaults(class_name: str) -> dict[str, dict]:
    """The class's own built-in fields, without objectId/createdAt/updatedAt/ACL."""
    return copy.deepcopy(types.CLASS_DEFAULT_FIELDS.get(class_name, {}))


def field_name_ok_for_class(name: str, class_name: str) -> bool:
    return (types.is_valid_field_name(name) and name not in types.DEFAULT_FIELDS
            and name not in types.CLASS_DEFAULT_FIELDS.get(class_name, {}))


def is_delete(spec: Any) -> bool:
    return isinstance(spec, dict) and spec.get("__op") == "Delete"


def field_type_error(spec: dict) -> ParseError | None:
    """Parse Server's fieldTypeIsInvalid."""
    kind, target = spec.get("type"), spec.get("targetClass")
    if kind in ("Pointer", "Relation"):
        if not target:
            return ParseError(MISSING_REQUIRED_FIELD, f"type {kind} needs a class name")
        if not isinstance(target, str):
            return ParseError(errors.INVALID_JSON, "invalid JSON")
        if not types.is_valid_class_name(target):
            return invalid_class_name(target)
        return None
    if not isinstance(kind, str):
        return ParseError(errors.INVALID_JSON, "invalid JSON")
    if kind not in _NON_POINTER_TYPES:
        return ParseError(errors.INCORRECT_TYPE, f"invalid field type: {kind}")
    return None


def value_type(value: Any) -> dict | None:
    """The schema type of a REST value (Parse Server's getType), used for
    default values: of a typed value only the key that names the type is
    checked; everything else is typed as on write."""
    kind = value.get("__type") if isinstance(value, dict) else None
    if kind is None:
        return types.type_of(value)
    needs = {"Pointer": "className", "Relation": "className", "File": "name", "Date": "iso",
             "Bytes": "base64", "Polygon": "coordinates"}
    if kind in ("Pointer", "Relation") and value.get("className"):
        return {"type": kind, "targetClass": value["className"]}
    if kind == "GeoPoint" and value.get("latitude") is not None and value.get("longitude") is not None:
        return {"type": "GeoPoint"}
    if kind in needs and kind not in ("Pointer", "Relation") and value.get(needs[kind]):
        return {"type": kind}
    raise ParseError(errors.INCORRECT_TYPE, f"This is not a valid {js_text(kind)}")


def _label(spec: dict | None) -> str:
    """Parse Server's typeToString."""
    if not spec:
        return "undefined"
    return f"{spec['type']}<{spec['targetClass']}>" if spec.get("targetClass") else str(spec["type"])


def check_default_value(class_name: str, name: str, spec: dict) -> None:
    """A defaultValue must have the field's type (111 otherwise)."""
    if spec.get("defaultValue") is None:
        return
    got = value_type(spec["defaultValue"])
    if got is None or got["type"] != spec["type"] or got.get("targetClass") != spec.get("targetClass"):
        raise ParseError(errors.INCORRECT_TYPE,
                         f"schema mismatch for {class_name}.{name} default value; expected "
                         f"{_label(spec)} but got {_label(got)}")


def check_new_field(class_name: str, name: str, spec: Any) -> dict:
    """Validates a field being added; returns it as stored (type, targetClass
    for pointers and relations, every other key as a field option)."""
    if not types.is_valid_field_name(name):
        raise ParseError(errors.INVALID_KEY_NAME, f"invalid field name: {name}")
    if not field_name_ok_for_class(name, class_name):
        raise ParseError(CHANGED_IMMUTABLE_FIELD, f"field {name} cannot be added")
    if not isinstance(spec, dict):
        raise ParseError(errors.INVALID_JSON, "invalid JSON")
    problem = field_type_error(spec)
    if problem:
        raise problem
    stored = normalize_field(spec)
    if stored["type"] == "Relation":
        if "defaultValue" in stored:
            got = value_type(stored["defaultValue"])
            if got is not None and "targetClass" in got:
                raise ParseError(errors.INCORRECT_TYPE,
                                 f"The 'default value' option is not applicable for {types.type_name(stored)}")
        elif stored.get("required"):
            raise ParseError(errors.INCORRECT_TYPE,
                             f"The 'required' option is not applicable for {types.type_name(stored)}")
    check_default_value(class_name, name, stored)
    return stored


def normalize_field(spec: dict) -> dict:
    """The stored form of a submitted field: a null defaultValue means none
    (Parse Server would fail on it), targetClass only where it means something."""
    out: dict[str, Any] = {"type": spec.get("type")}
    if out["type"] in ("Pointer", "Relation"):
        out["targetClass"] = spec.get("targetClass")
    for key, value in spec.items():
        if key in ("type", "targetClass", "__op") or (key == "defaultValue" and value is None):
            continue
        out[key] = copy.deepcopy(value)
    return out


def check_geopoints(fields: dict[str, dict]) -> None:
    geo = [n for n, s in fields.items() if isinstance(s, dict) and s.get("type") == "GeoPoint"]
    if len(geo) > 1:
        raise ParseError(errors.INCORRECT_TYPE,
                         f"currently, only one GeoPoint field may exist in an object. Adding {geo[1]} "
                         f"when {geo[0]} already exists.")


# ------------------------------------------------------------------ CLPs

def _invalid(message: str) -> ParseError:
    return ParseError(errors.INVALID_JSON, message)


def _check_pointer_field(name: Any, fields: dict[str, dict], where: Any) -> None:
    spec = fields.get(name) if isinstance(name, str) else None
    ok = spec is not None and (spec.get("type") == "Array" or (
        spec.get("type") == "Pointer" and spec.get("targetClass") == "_User"))
    if not ok:
        raise _invalid(f"'{js_text(name)}' is not a valid column for class level pointer permissions "
                       f"{js_text(where)}")


def _entries(value: Any) -> list[tuple[str, Any]]:
    """Keys and values as JavaScript's for-in sees them (arrays by index)."""
    if isinstance(value, list):
        return [(str(i), v) for i, v in enumerate(value)]
    return list(value.items())


def validate_clp(clp: Any, fields: dict[str, dict], *, custom_ids: bool = False) -> None:
    """Parse Server's validateCLP: keys, values, pointer and protected fields
    (107 with Parse Server's messages)."""
    if not clp:
        return
    if isinstance(clp, (bool, int, float)):
        return  # no keys to check: stored as a master-only CLP (stored_clp), as Parse Server reads it back
    if not isinstance(clp, (dict, list, str)):
        raise _invalid(f"'{js_text(clp)}' is not a valid value for class level permissions")
    user_id = _ANY_ID if custom_ids else _AUTO_ID
    # A string or an array is checked key by key as JavaScript's for-in sees it ("0", "1", ...).
    items = clp.items() if isinstance(clp, dict) else _entries(list(clp))
    for op_key, operation in items:
        if op_key not in CLP_KEYS:
            raise _invalid(f"{op_key} is not a valid operation for class level permissions")
        if op_key in ("readUserFields", "writeUserFields"):
            if not isinstance(operation, list):
                raise _invalid(f"'{js_text(operation)}' is not a valid value for class level permissions "
                               f"{op_key} - must be an array")
            for name in operation:
                _check_pointer_field(name, fields, op_key)
            continue
        if not isinstance(operation, (dict, list)):
            raise _invalid(f"'{js_text(operation)}' is not a valid value for class level permissions "
                           f"{op_key} - must be an object")
        if op_key == "protectedFields":
            _check_protected(operation, fields, user_id)
            continue
        for entity, permit in _entries(operation):
            if not (_CLP_KEY.match(entity) or user_id.match(entity)):
                raise _invalid(f"'{entity}' is not a valid key for class level permissions")
            if entity == "pointerFields":
                if not isinstance(permit, list):
                    raise _invalid(f"'{js_text(permit)}' is not a valid value for {op_key}[{entity}] - "
                                   "expected an array.")
                for name in permit:
                    # Parse Server's message names the operation object here.
                    _check_pointer_field(name, fields, operation)
                continue
            if op_key == "ACL":
                _check_acl_entry(permit)
            elif permit is not True:
                raise _invalid(f"'{js_text(permit)}' is not a valid value for class level permissions acl "
                               f"{op_key}:{entity}")


def _check_acl_entry(permit: Any) -> None:
    """One entry of the CLP ``ACL`` (the default ACL of new objects)."""
    if not isinstance(permit, dict):
        raise _invalid(f"'{js_text(permit)}' is not a valid value for class level permissions acl")
    bad_keys = [k for k in permit if k not in ("read", "write")]
    if bad_keys:
        raise _invalid(f"'{','.join(bad_keys)}' is not a valid key for class level permissions acl")
    bad_values = [v for v in permit.values() if not isinstance(v, bool)]
    if bad_values:
        raise _invalid(f"'{js_text(bad_values)}' is not a valid value for class level permissions acl")


def stored_clp(clp: Any) -> dict | None:
    """The CLP a schema keeps: a non-empty non-object value (Parse Server
    stores it and reads it back as every operation master-only) is {}; an
    empty one (null, "", 0) resets to the public default."""
    if isinstance(clp, dict):
        return copy.deepcopy(clp)
    return {} if clp or isinstance(clp, list) else None


def _check_protected(operation: Any, fields: dict[str, dict], user_id: re.Pattern) -> None:
    for entity, hidden in _entries(operation):
        if not (_PROTECTED_KEY.match(entity) or user_id.match(entity)):
            raise _invalid(f"'{entity}' is not a valid key for class level permissions")
        if not isinstance(hidden, list):
            raise _invalid(f"'{js_text(hidden)}' is not a valid value for protectedFields[{entity}] - "
                           "expected an array.")
        for name in hidden:
            if isinstance(name, str) and name in types.DEFAULT_FIELDS:
                raise _invalid(f"Default field '{name}' can not be protected")
            if not isinstance(name, str) or name not in fields:
                raise _invalid(f"Field '{js_text(name)}' in protectedFields:{entity} does not exist")


# ------------------------------------------------------------------ indexes

def plan_indexes(submitted: Any, existing: dict[str, dict], fields: dict[str, dict]
                 ) -> tuple[dict[str, dict], dict[str, dict], list[str]]:
    """Parse Server's setIndexesWithSchemaFormat, without side effects:
    returns (all indexes after the change, indexes to build, names to drop)."""
    if not isinstance(submitted, dict):
        raise ParseError(errors.INVALID_JSON, "invalid JSON")
    result = copy.deepcopy(existing) if existing else copy.deepcopy(ID_INDEX)
    create: dict[str, dict] = {}
    drop: list[str] = []
    for name, spec in submitted.items():
        if name in result and not is_delete(spec):
            raise ParseError(errors.INVALID_QUERY, f"Index {name} exists, cannot update.")
        if name not in result and is_delete(spec):
            raise ParseError(errors.INVALID_QUERY, f"Index {name} does not exist, cannot delete.")
        if is_delete(spec):
            if name == "_id_":
                raise ParseError(errors.INVALID_QUERY, "Index _id_ cannot be deleted.")
            drop.append(name)
            result.pop(name)
            create.pop(name, None)
            continue
        if not isinstance(spec, dict) or not spec:
            raise ParseError(errors.INVALID_QUERY, f"Index {name} needs at least one field.")
        for key in spec:
            if (key[3:] if key.startswith("_p_") else key) not in fields:
                raise ParseError(errors.INVALID_QUERY, f"Field {key} does not exist, cannot add index.")
        result[name] = copy.deepcopy(spec)
        create[name] = copy.deepcopy(spec)
    return result, create, drop


# ------------------------------------------------------------------ plans

@dataclass
class Change:
    """A validated schema change, ready to apply."""

    schema: ClassSchema
    old_fields: dict[str, dict] = field(default_factory=dict)
    drop_fields: list[str] = field(default_factory=list)
    create_indexes: dict[str, dict] = field(default_factory=dict)
    drop_indexes: list[str] = field(default_factory=list)


def plan_create(class_name: Any, body: dict, existing: dict[str, ClassSchema], *,
                custom_ids: bool = False) -> Change:
    """POST /schemas: Parse Server's addClassIfNotExists."""
    if isinstance(class_name, str) and (class_name in existing or class_name in VOLATILE_SCHEMAS):
        raise ParseError(errors.INVALID_CLASS_NAME, f"Class {class_name} already exists.")
    if not types.is_valid_class_name(class_name):
        raise invalid_class_name(class_name)
    submitted = body.get("fields")
    if submitted is None:
        submitted = {}
    if not isinstance(submitted, dict):
        raise ParseError(errors.INVALID_JSON, "invalid JSON")
    added = {name: check_new_field(class_name, name, spec) for name, spec in submitted.items()}
    declared = {**added, **class_defaults(class_name)}
    check_geopoints(declared)
    clp = body.get("classLevelPermissions")
    validate_clp(clp, declared, custom_ids=custom_ids)
    fields = {**builtin_fields(class_name), **added}
    schema = ClassSchema(class_name, fields, stored_clp(clp))
    change = Change(schema)
    indexes = body.get("indexes")
    if indexes is not None:
        _, change.create_indexes, _ = plan_indexes(indexes, {}, fields)
        # On create Parse Server stores only the submitted indexes (no _id_).
        schema.indexes = copy.deepcopy(change.create_indexes)
    return change


def plan_update(current: ClassSchema, body: dict, *, custom_ids: bool = False) -> Change:
    """PUT /schemas/<class>: Parse Server's updateClass, checks in its order."""
    class_name = current.class_name
    submitted = body.get("fields")
    if submitted is None:
        submitted = {}
    if not isinstance(submitted, dict):
        raise ParseError(errors.INVALID_JSON, "invalid JSON")
    existing = current.fields
    for name, spec in submitted.items():
        deleting = is_delete(spec)
        kind = spec.get("type") if isinstance(spec, dict) else None
        if name in existing and existing[name].get("type") != kind and not deleting:
            raise ParseError(errors.INVALID_SCHEMA_OPERATION, f"Field {name} exists, cannot update.")
        if name not in existing and deleting:
            raise ParseError(errors.INVALID_SCHEMA_OPERATION, f"Field {name} does not exist, cannot delete.")
    merged: dict[str, dict] = {
        name: spec for name, spec in existing.items()
        if name not in types.DEFAULT_FIELDS and not is_delete(submitted.get(name))
    }
    added: dict[str, dict] = {}
    for name, spec in submitted.items():
        if name == "objectId" or is_delete(spec):
            continue
        if name not in existing:
            added[name] = check_new_field(class_name, name, spec)
        merged[name] = added.get(name, spec)
    declared = {**merged, **class_defaults(class_name)}
    check_geopoints(declared)
    has_clp = "classLevelPermissions" in body
    clp = body.get("classLevelPermissions")
    validate_clp(clp, declared, custom_ids=custom_ids)
    deleted = [name for name, spec in submitted.items() if is_delete(spec)]
    for name in deleted:
        if not types.is_valid_field_name(name):
            raise ParseError(errors.INVALID_KEY_NAME, f"invalid field name: {name}")
        if not field_name_ok_for_class(name, class_name):
            raise ParseError(CHANGED_IMMUTABLE_FIELD, f"field {name} cannot be changed")

    schema = current.copy()
    for name in deleted:
        schema.fields.pop(name, None)
    for name, spec in submitted.items():
        if is_delete(spec) or name in added or name in types.DEFAULT_FIELDS:
            continue
        schema.fields[name] = _redeclare(class_name, name, existing[name], spec)
    schema.fields.update(added)
    if has_clp:
        # A null (or other empty) value resets the class to the public default.
        schema.clp = stored_clp(clp)
    change = Change(schema, old_fields=existing, drop_fields=deleted)
    indexes = body.get("indexes")
    if indexes is not None:
        schema.indexes, change.create_indexes, change.drop_indexes = plan_indexes(
            indexes, current.indexes, schema.fields)
    return change


def _redeclare(class_name: str, name: str, old: dict, spec: dict) -> dict:
    """An existing field sent again: same type required; its options are
    replaced by the ones sent (Parse Server's updateFieldOptions)."""
    new = normalize_field(spec)
    check_default_value(class_name, name, new)
    if new.get("targetClass") != old.get("targetClass"):
        raise ParseError(errors.INCORRECT_TYPE, f"schema mismatch for {class_name}.{name}; expected "
                                                f"{_label(old)} but got {_label(new)}")
    return new


async def apply_change(engine: Engine, change: Change) -> None:
    """Writes a planned change: indexes first (the step the database may
    refuse), then dropped field data, then the schema document."""
    schema = change.schema
    storage = engine.storage
    for name in change.drop_indexes:
        try:
            await storage.drop_index(schema.class_name, name)
        except ParseError:
            raise
        except Exception as exc:  # the index may exist in _SCHEMA only
            log.warning("dropping index %s of %s: %s", name, schema.class_name, exc)
    for name, spec in change.create_indexes.items():
        await storage.ensure_index(schema.class_name, schema.fields, spec, name)
    for name in change.drop_fields:
        await storage.delete_field(schema.class_name, change.old_fields, name)
    await engine.schemas.save(schema)


# ------------------------------------------------------------------ entry points

def volatile_schema(class_name: str) -> dict:
    fields = copy.deepcopy(types.DEFAULT_FIELDS)
    fields.update(copy.deepcopy(VOLATILE_SCHEMAS[class_name]))
    return {"className": class_name, "fields": fields, "classLevelPermissions": {}}


async def all_schemas(engine: Engine) -> dict:
    """GET /schemas: every stored class, read fresh from the database."""
    await engine.schemas.load()
    return {"results": [s.to_api() for s in engine.schemas.classes.values()]}


async def get_schema(engine: Engine, class_name: str) -> dict:
    if class_name in VOLATILE_SCHEMAS:
        return volatile_schema(class_name)
    await engine.schemas.load()
    found = engine.schemas.classes.get(class_name)
    if found is None:
        raise ParseError(errors.INVALID_CLASS_NAME, f"Class {class_name} does not exist.")
    return found.to_api()


async def create_schema(engine: Engine, class_name: Any, body: dict) -> dict:
    async with engine.schemas.lock:
        await engine.schemas.load_locked()
        change = plan_create(class_name, body, engine.schemas.classes,
                             custom_ids=engine.settings.allow_custom_object_id)
        await apply_change(engine, change)
    return change.schema.to_api()


async def update_schema(engine: Engine, class_name: str, body: dict) -> dict:
    async with engine.schemas.lock:
        await engine.schemas.load_locked()
        current = engine.schemas.classes.get(class_name)
        if current is None:
            raise ParseError(errors.INVALID_CLASS_NAME, f"Class {class_name} does not exist.")
        change = plan_update(current, body, custom_ids=engine.settings.allow_custom_object_id)
        await apply_change(engine, change)
    out = change.schema.to_api()
    # Parse Server answers an update from its cache, where the protectedFields
    # server option is merged into the CLP (a later GET shows the stored CLP).
    extra = (engine.settings.protected_fields or {}).get(class_name) or {}
    protected = out["classLevelPermissions"].setdefault("protectedFields", {})
    for who, names in extra.items():
        protected[who] = list(dict.fromkeys([*(protected.get(who) or []), *(names or [])]))
    return out


async def delete_schema(engine: Engine, class_name: Any) -> dict:
    """DELETE /schemas/<class>: only an empty class; a missing one is fine."""
    if not types.is_valid_class_name(class_name):
        raise invalid_class_name(class_name)
    async with engine.schemas.lock:
        await engine.schemas.load_locked()
        found = engine.schemas.classes.get(class_name)
        fields = found.fields if found else builtin_fields(class_name)
        count = await engine.storage.count(class_name, fields, {})
        if count > 0:
            raise ParseError(errors.INVALID_SCHEMA_OPERATION,
                             f"Class {class_name} is not empty, contains {count} objects, cannot drop schema.")
        relations = found.relation_fields() if found else []
        await engine.storage.drop_class(class_name, relations)
        await engine.schemas.drop(class_name)
    if class_name == "_Role":
        engine.auth.forget_roles()
    return {}
