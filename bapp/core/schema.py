"""Class schemas: Parse Server's ``_SCHEMA`` format, an in-process cache and
the type checks every write goes through.

The cache is loaded once and updated by every schema change this process
makes; an unknown class triggers one reload so classes created by another
server instance are found."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bapp import errors
from bapp.errors import ParseError
from bapp.model import types

CLP_OPERATIONS = ("find", "count", "get", "create", "update", "delete", "addField")
CLP_KEYS = frozenset(CLP_OPERATIONS) | {"ACL", "readUserFields", "writeUserFields", "protectedFields"}


def default_clp() -> dict:
    # Parse Server 9's defaults, including the ACL new objects get (public).
    clp: dict[str, Any] = {"ACL": {"*": {"read": True, "write": True}}}
    clp.update({op: {"*": True} for op in CLP_OPERATIONS})
    clp["protectedFields"] = {"*": []}
    return clp


@dataclass
class ClassSchema:
    class_name: str
    fields: dict[str, dict] = field(default_factory=dict)
    clp: dict | None = None  # None: never stored, so every operation is public
    indexes: dict[str, dict] = field(default_factory=dict)

    @property
    def permissions(self) -> dict:
        """Effective CLPs: a stored CLP without an operation means master-only."""
        if self.clp is None:
            return default_clp()
        out = {op: self.clp.get(op, {}) for op in CLP_OPERATIONS}
        out["protectedFields"] = self.clp.get("protectedFields", {})
        for extra in ("ACL", "readUserFields", "writeUserFields"):
            if extra in self.clp:
                out[extra] = self.clp[extra]
        return out

    def to_api(self) -> dict:
        fields_out: dict[str, dict] = {}
        for name, spec in self.fields.items():
            fields_out[name] = {k: v for k, v in spec.items() if v is not None}
        out: dict[str, Any] = {
            "className": self.class_name,
            "fields": fields_out,
            "classLevelPermissions": copy.deepcopy(self.permissions),
        }
        if self.indexes:
            out["indexes"] = copy.deepcopy(self.indexes)
        return out

    def relation_fields(self) -> list[str]:
        return [n for n, s in self.fields.items() if s.get("type") == "Relation"]

    def copy(self) -> ClassSchema:
        return copy.deepcopy(self)


def builtin_fields(class_name: str) -> dict[str, dict]:
    out = copy.deepcopy(types.DEFAULT_FIELDS)
    out.update(copy.deepcopy(types.CLASS_DEFAULT_FIELDS.get(class_name, {})))
    return out


# ------------------------------------------------------------ _SCHEMA format

_TYPE_TO_DB = {
    "String": "string", "Number": "number", "Boolean": "boolean", "Date": "date",
    "Object": "object", "Array": "array", "GeoPoint": "geopoint", "File": "file",
    "Bytes": "bytes", "Polygon": "polygon",
}
_DB_TO_TYPE = {v: k for k, v in _TYPE_TO_DB.items()} | {"map": "Object"}


def type_to_db(spec: dict) -> str:
    if spec["type"] == "Pointer":
        return "*" + spec["targetClass"]
    if spec["type"] == "Relation":
        return f"relation<{spec['targetClass']}>"
    return _TYPE_TO_DB[spec["type"]]


def type_from_db(text: str) -> dict | None:
    if not isinstance(text, str):
        return None
    if text.startswith("*"):
        return {"type": "Pointer", "targetClass": text[1:]}
    if text.startswith("relation<") and text.endswith(">"):
        return {"type": "Relation", "targetClass": text[len("relation<"):-1]}
    kind = _DB_TO_TYPE.get(text)
    return {"type": kind} if kind else None


def from_db(doc: dict) -> ClassSchema:
    name = doc["_id"]
    fields = builtin_fields(name)
    meta = doc.get("_metadata") or {}
    options = meta.get("fields_options") or {}
    for key, value in doc.items():
        if key.startswith("_") or key in ("objectId", "createdAt", "updatedAt", "ACL"):
            continue
        spec = type_from_db(value)
        if spec is None:
            continue
        # Parse Server merges every stored field option over the type.
        extra = options.get(key)
        if isinstance(extra, dict):
            spec.update({k: copy.deepcopy(v) for k, v in extra.items() if k not in ("type", "targetClass")})
        fields[key] = spec
    return ClassSchema(
        class_name=name,
        fields=fields,
        clp=copy.deepcopy(meta["class_permissions"]) if "class_permissions" in meta else None,
        indexes=copy.deepcopy(meta.get("indexes") or {}),
    )


def to_db(schema: ClassSchema) -> dict:
    doc: dict[str, Any] = {"_id": schema.class_name, "objectId": "string", "updatedAt": "string", "createdAt": "string"}
    options: dict[str, dict] = {}
    for name, spec in schema.fields.items():
        if name in types.DEFAULT_FIELDS:
            continue
        if schema.class_name == "_User" and name == "password":
            continue
        doc[name] = type_to_db(spec)
        opts = {k: copy.deepcopy(v) for k, v in spec.items() if k not in ("type", "targetClass")}
        if opts:
            options[name] = opts
    meta: dict[str, Any] = {}
    if schema.clp is not None:
        meta["class_permissions"] = copy.deepcopy(schema.clp)
    if schema.indexes:
        meta["indexes"] = copy.deepcopy(schema.indexes)
    if options:
        meta["fields_options"] = options
    if meta:
        doc["_metadata"] = meta
    return doc


# ------------------------------------------------------------ the cache

class SchemaCache:
    """All class schemas of the app, kept in memory."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.classes: dict[str, ClassSchema] = {}
        self._lock = asyncio.Lock()
        self._loaded_at = 0.0
        self.loads = 0  # database loads, for round-trip tests
        # Told the class name after every stored change (other instances
        # reload on hearing of it: ``bapp.cluster``).
        self.on_change: Callable[[str], None] | None = None

    @property
    def lock(self) -> asyncio.Lock:
        """Held by every read-modify-write of a schema (schema on write, the
        schema API, start-up application), so changes never overwrite each other."""
        return self._lock

    async def load(self) -> None:
        async with self._lock:
            await self.load_locked()

    async def load_locked(self) -> None:
        """Reloads from the database; the caller holds :attr:`lock`."""
        docs = await self.storage.load_schemas()
        self.loads += 1
        self.classes = {d["_id"]: from_db(d) for d in docs if isinstance(d.get("_id"), str)}
        self._loaded_at = time.monotonic()

    async def get(self, class_name: str) -> ClassSchema | None:
        found = self.classes.get(class_name)
        if found is None and time.monotonic() - self._loaded_at > 1.0:
            await self.load()
            found = self.classes.get(class_name)
        return found

    def fields_of(self, class_name: str) -> dict[str, dict]:
        found = self.classes.get(class_name)
        return found.fields if found else builtin_fields(class_name)

    async def save(self, schema: ClassSchema) -> None:
        self.classes[schema.class_name] = schema
        if schema.class_name not in types.VOLATILE_CLASSES:
            await self.storage.save_schema(schema.class_name, to_db(schema))
            self._changed(schema.class_name)

    async def ensure_class(self, class_name: str) -> ClassSchema:
        async with self._lock:
            found = self.classes.get(class_name)
            if found is None:
                found = ClassSchema(class_name, builtin_fields(class_name))
                await self.save(found)
            return found

    async def add_fields(self, class_name: str, new_fields: dict[str, dict]) -> ClassSchema:
        """Adds inferred fields; a concurrent writer that added the same field
        with another type wins and this write gets the mismatch error."""
        async with self._lock:
            schema = self.classes.get(class_name) or ClassSchema(class_name, builtin_fields(class_name))
            changed = False
            for name, spec in new_fields.items():
                existing = schema.fields.get(name)
                if existing is None:
                    schema.fields[name] = spec
                    changed = True
                elif not types.same_type(existing, spec):
                    raise mismatch(class_name, name, existing, spec)
            if changed or class_name not in self.classes:
                await self.save(schema)
            return schema

    async def drop(self, class_name: str) -> None:
        self.classes.pop(class_name, None)
        self._changed(class_name)

    def _changed(self, class_name: str) -> None:
        if self.on_change is not None:
            self.on_change(class_name)


def mismatch(class_name: str, name: str, expected: dict, got: dict | None) -> ParseError:
    return ParseError(
        errors.INCORRECT_TYPE,
        f"schema mismatch for {class_name}.{name}; expected {types.type_name(expected)} but got {types.type_name(got)}",
    )


def geopoint_conflict(schema_fields: dict[str, dict], name: str) -> bool:
    return any(s.get("type") == "GeoPoint" and n != name for n, s in schema_fields.items())
