"""The executable schema: SDL built by ``sdl``, resolvers attached, cached
per engine and rebuilt only when a class schema or the set of cloud
functions changes."""

from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, GraphQLObjectType, GraphQLSchema, build_ast_schema, parse

from bapp.core.schema import builtin_fields
from bapp.graphql import admin, files, mutations, objects, scalars, users
from bapp.graphql.sdl import GraphQLClass, SchemaText, select_classes
from bapp.model import types

if TYPE_CHECKING:
    from bapp.core.engine import Engine


class DocumentCache:
    """Parsed and validated documents by query text (clients send the same
    few queries over and over; validation costs more than most executions).
    Bounded, least recently used out first; per built schema, so a schema
    change never serves a document validated against the old one."""

    def __init__(self, size: int = 512, max_length: int = 100_000) -> None:
        self.size = size
        self.max_length = max_length
        self._items: OrderedDict[str, Any] = OrderedDict()

    def get(self, query: str) -> Any:
        found = self._items.get(query)
        if found is not None:
            self._items.move_to_end(query)
        return found

    def put(self, query: str, value: Any) -> None:
        if len(query) > self.max_length:
            return
        self._items[query] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)


@dataclass
class Built:
    schema: GraphQLSchema
    classes: dict[str, GraphQLClass]  # by Parse class name
    by_type: dict[str, GraphQLClass]  # by GraphQL type name
    signature: tuple
    documents: DocumentCache = field(default_factory=DocumentCache)


def signature(engine: Engine) -> tuple:
    """What the schema depends on: each class's field names, types, targets
    and required flags, and the cloud function names. Cheap enough to
    compute on every request."""
    classes = tuple(sorted(
        (name, tuple(sorted((f, s.get("type"), s.get("targetClass"), bool(s.get("required")))
                            for f, s in schema.fields.items())))
        for name, schema in engine.schemas.classes.items() if name not in types.VOLATILE_CLASSES))
    return classes, tuple(engine.triggers.functions)


def snapshot(engine: Engine) -> tuple[dict[str, dict[str, dict]], list[str], tuple]:
    """The inputs of a build, copied so a build may run off the event loop."""
    field_maps = {name: copy.deepcopy(schema.fields) for name, schema in engine.schemas.classes.items()
                  if name not in types.VOLATILE_CLASSES}
    for name in ("_User", "_Role"):
        field_maps.setdefault(name, builtin_fields(name))
    return field_maps, list(engine.triggers.functions), signature(engine)


@lru_cache(maxsize=512)
def _parsed(chunk: str) -> tuple:
    # Parsing SDL is the slow part of a build: unchanged pieces are reused.
    return parse(chunk, no_location=True).definitions


def build(field_maps: dict[str, dict[str, dict]], functions: list[str], sig: tuple) -> Built:
    classes = select_classes(field_maps)
    text = SchemaText(classes, functions)
    definitions = tuple(d for chunk in text.chunks() for d in _parsed(chunk))
    schema = build_ast_schema(DocumentNode(definitions=definitions), assume_valid_sdl=True)
    scalars.install(schema)
    built = Built(schema, {c.class_name: c for c in classes}, {c.name: c for c in classes}, sig)
    _attach(built, text)
    return built


class SchemaCache:
    """One built schema per engine, rebuilt when its signature changes. A
    build runs in a worker thread (the event loop keeps serving); callers
    arriving meanwhile wait for the same build."""

    def __init__(self) -> None:
        self._built: Built | None = None
        self._pending: tuple[tuple, asyncio.Task] | None = None
        self.builds = 0

    async def get(self, engine: Engine) -> Built:
        sig = signature(engine)
        if self._built is not None and self._built.signature == sig:
            return self._built
        if self._pending is None or self._pending[0] != sig:
            field_maps, functions, sig = snapshot(engine)
            task = asyncio.ensure_future(asyncio.to_thread(build, field_maps, functions, sig))
            self._pending = (sig, task)
        pending_sig, task = self._pending
        built = await asyncio.shield(task)
        if self._pending is not None and self._pending[0] == pending_sig:
            self._pending = None
            self._built = built
            self.builds += 1
        return built


# ------------------------------------------------------------------ resolvers

def _set(type_: Any, field: str, resolver: Any) -> None:
    if isinstance(type_, GraphQLObjectType) and field in type_.fields:
        type_.fields[field].resolve = resolver


def _order_values(enum: Any) -> None:
    """``price_DESC`` means ``-price`` (``id`` sorts by ``objectId``)."""
    for name, value in enum.values.items():
        field, _, direction = name.rpartition("_")
        field = "objectId" if field == "id" else field
        value.value = "-" + field if direction == "DESC" else field
    enum.__dict__.pop("_value_lookup", None)


def _resolve_class_type(built: Built):
    def resolve(value: Any, *_: Any) -> str | None:
        name = objects.class_name_of(value)
        found = built.classes.get(name or "")
        return found.name if found else None
    return resolve


def _resolve_array_item(built: Built):
    def resolve(value: Any, *_: Any) -> str:
        if isinstance(value, dict) and value.get("__type") == "Object":
            found = built.classes.get(value.get("className") or "")
            if found:
                return found.name
        return "Element"
    return resolve


def _attach(built: Built, text: SchemaText) -> None:
    schema = built.schema
    query, mutation = schema.query_type, schema.mutation_type
    for c in built.classes.values():
        out = schema.get_type(c.name)
        _set(out, "id", objects.global_id_resolver(c))
        _set(out, "ACL", objects.resolve_acl)
        for name, spec in c.fields.items():
            kind = spec.get("type")
            if kind == "Polygon":
                _set(out, name, objects.polygon_resolver(name))
            elif kind == "Array":
                _set(out, name, objects.array_resolver(name))
            elif kind == "Relation" and spec.get("targetClass") in built.classes:
                _set(out, name, objects.relation_resolver(c, name))
        _order_values(schema.get_type(f"{c.name}Order"))
        _set(query, c.query_name, objects.get_resolver(c))
        _set(query, c.find_name, objects.find_resolver(c))
        _set(mutation, f"create{c.name}", mutations.create_resolver(c))
        _set(mutation, f"update{c.name}", mutations.update_resolver(c))
        _set(mutation, f"delete{c.name}", mutations.delete_resolver(c))
    acl = schema.get_type("ACL")
    _set(acl, "users", objects.resolve_acl_users)
    _set(acl, "roles", objects.resolve_acl_roles)
    _set(acl, "public", objects.resolve_acl_public)
    for interface in ("Node", "ParseObject"):
        schema.get_type(interface).resolve_type = _resolve_class_type(built)
    schema.get_type("ArrayResult").resolve_type = _resolve_array_item(built)
    schema.get_type("SchemaField").resolve_type = admin.resolve_schema_field_type
    _set(query, "node", objects.resolve_node)
    _set(query, "health", lambda *_: True)
    _set(query, "viewer", users.resolve_viewer)
    _set(query, "class", admin.resolve_class)
    _set(query, "classes", admin.resolve_classes)
    _set(query, "cloudConfig", admin.resolve_cloud_config)
    for name, resolver in {
        "createFile": files.create_file, "signUp": users.sign_up, "logInWith": users.log_in_with,
        "logIn": users.log_in, "logOut": users.log_out, "resetPassword": users.reset_password,
        "confirmResetPassword": users.confirm_reset_password,
        "sendVerificationEmail": users.send_verification_email, "challenge": users.challenge,
        "callCloudCode": admin.call_cloud_code, "createClass": admin.create_class,
        "updateClass": admin.update_class, "deleteClass": admin.delete_class,
        "updateCloudConfig": admin.update_cloud_config,
    }.items():
        _set(mutation, name, resolver)
