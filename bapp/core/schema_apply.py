"""Applying schema files (``bapp serve --schemas PATH``) to the database at start-up.

The files are the source of truth for what they declare, and only for that:

* a class that does not exist is created with its fields, CLPs and indexes;
* a declared field the class lacks is added; a declared field that exists
  with the same type takes the file's options (``required``, ``defaultValue``);
* a declared CLP replaces the stored one; a declared index is built if missing;
* roles listed in ``roles`` are created when missing, as ``_Role`` objects
  with an empty (master-only) ACL — users are added to them later with the
  master key, and role resolution for CLPs and ACLs works regardless;
* nothing is ever deleted: stored fields, indexes and classes the files do
  not mention stay as they are.

A change that conflicts with stored data — a field whose type changed, a
second GeoPoint field, an index name reused with other keys — is refused:
every conflict is collected first and start-up stops before anything is
written. Applying the same files again writes nothing.

When several files declare the same class (the five seed apps share
``_User``, ``Product``, ``Order``...), their fields are merged (types must
agree); for a field's options and for the CLP the file later in name order
wins, and a warning names both files.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bapp.core import schema_api
from bapp.core.auth import Auth
from bapp.core.schema import ClassSchema
from bapp.core.schema_files import json_path
from bapp.errors import ParseError
from bapp.model import types
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.schema")


class SchemaApplyError(Exception):
    """Schema files that cannot be applied to the stored schema; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("schema files not applied (nothing was changed):\n  " + "\n  ".join(problems))


@dataclass
class Declared:
    """One class as the files declare it, merged across files."""

    class_name: str
    fields: dict[str, dict] = field(default_factory=dict)
    field_at: dict[str, str] = field(default_factory=dict)
    clp: dict | None = None
    clp_at: str = ""
    indexes: dict[str, dict] = field(default_factory=dict)
    index_at: dict[str, str] = field(default_factory=dict)
    at: str = ""


@dataclass
class Plan:
    changes: list[schema_api.Change] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _where(path: Path | str, parts: list[Any]) -> str:
    return f"{path}: {json_path(parts)}"


def _label(spec: dict) -> str:
    return types.type_name(spec) if spec.get("targetClass") else spec["type"]


def _declared_field(spec: dict) -> dict:
    return schema_api.normalize_field({k: v for k, v in spec.items() if k != "description"})


def merge_files(files: list[tuple[Path, dict]]) -> tuple[dict[str, Declared], list[str], list[str]]:
    """Merges the files' classes: (classes by name, roles, warnings)."""
    classes: dict[str, Declared] = {}
    roles: list[str] = []
    warnings: list[str] = []
    problems: list[str] = []
    for path, doc in files:
        roles += [r for r in doc.get("roles", []) if r not in roles]
        for i, cls in enumerate(doc["classes"]):
            name = cls["className"]
            base: list[Any] = ["classes", i]
            target = classes.setdefault(name, Declared(name, at=_where(path, base)))
            for fname, spec in cls["fields"].items():
                at = _where(path, [*base, "fields", fname])
                new = _declared_field(spec)
                old = target.fields.get(fname)
                if old is not None and not types.same_type(old, new):
                    problems.append(f"{at}: {name}.{fname} is {_label(new)} here but {_label(old)} in "
                                    f"{target.field_at[fname]}")
                    continue
                if old is not None and old != new:
                    warnings.append(f"{at}: options of {name}.{fname} override {target.field_at[fname]}")
                target.fields[fname] = new
                target.field_at[fname] = at
            if "classLevelPermissions" in cls:
                at = _where(path, [*base, "classLevelPermissions"])
                if target.clp is not None and target.clp != cls["classLevelPermissions"]:
                    warnings.append(f"{at}: classLevelPermissions of {name} override {target.clp_at}")
                target.clp = copy.deepcopy(cls["classLevelPermissions"])
                target.clp_at = at
            for iname, ispec in cls.get("indexes", {}).items():
                at = _where(path, [*base, "indexes", iname])
                if iname in target.indexes and target.indexes[iname] != ispec:
                    problems.append(f"{at}: index {iname} of {name} has other keys in {target.index_at[iname]}")
                    continue
                target.indexes[iname] = copy.deepcopy(ispec)
                target.index_at[iname] = at
    if problems:
        raise SchemaApplyError(problems)
    return classes, roles, warnings


def plan_class(declared: Declared, stored: ClassSchema | None, existing: dict[str, ClassSchema],
               problems: list[str], *, custom_ids: bool) -> schema_api.Change | None:
    """The change one declared class needs (None when it is up to date);
    conflicts are appended to ``problems``."""
    if stored is None:
        body = {"fields": declared.fields, "classLevelPermissions": declared.clp, "indexes": declared.indexes}
        try:
            return schema_api.plan_create(declared.class_name, body, existing, custom_ids=custom_ids)
        except ParseError as exc:
            problems.append(f"{declared.at}: {exc.message}")
            return None
    name = declared.class_name
    new = stored.copy()
    count = len(problems)
    for fname, spec in declared.fields.items():
        at = declared.field_at[fname]
        old = stored.fields.get(fname)
        if old is None:
            try:
                new.fields[fname] = schema_api.check_new_field(name, fname, spec)
            except ParseError as exc:
                problems.append(f"{at}: {exc.message}")
        elif not types.same_type(old, spec):
            problems.append(f"{at}: {name}.{fname} is stored as {_label(old)} but declared {_label(spec)}; "
                            f"a type change is refused (migrate the data, then delete the field with "
                            f"PUT /schemas/{name} {{\"fields\": {{\"{fname}\": {{\"__op\": \"Delete\"}}}}}})")
        elif old != spec:
            new.fields[fname] = copy.deepcopy(spec)
    geo = [n for n, s in new.fields.items() if s.get("type") == "GeoPoint"]
    if len(geo) > 1:
        problems.append(f"{declared.at}: {name} would have {len(geo)} GeoPoint fields ({', '.join(geo)}); "
                        "only one is allowed")
    if declared.clp is not None and declared.clp != stored.clp:
        try:
            schema_api.validate_clp(declared.clp, new.fields, custom_ids=custom_ids)
            new.clp = copy.deepcopy(declared.clp)
        except ParseError as exc:
            problems.append(f"{declared.clp_at}: {exc.message}")
    create: dict[str, dict] = {}
    for iname, ispec in declared.indexes.items():
        have = stored.indexes.get(iname)
        if have is None:
            create[iname] = copy.deepcopy(ispec)
        elif have != ispec:
            problems.append(f"{declared.index_at[iname]}: index {iname} of {name} exists with keys "
                            f"{have}; an index cannot be changed (delete it first)")
    new.indexes.update(copy.deepcopy(create))
    if len(problems) > count or (new == stored and not create):
        return None
    return schema_api.Change(new, create_indexes=create)


def _index_keys(fields: dict[str, dict], spec: dict) -> list[tuple[str, Any]]:
    return [("_p_" + k if fields.get(k, {}).get("type") == "Pointer" else k, v) for k, v in spec.items()]


async def _check_real_indexes(engine: Engine, change: schema_api.Change, problems: list[str],
                              declared: Declared) -> None:
    """An index the database already has under another name would make the
    build fail half-way; refuse it up front."""
    if not change.create_indexes:
        return
    schema = change.schema
    have = await engine.storage.indexes(schema.class_name)
    by_keys = {tuple(_index_keys({}, spec)): name for name, spec in have.items()}
    for iname, ispec in change.create_indexes.items():
        other = by_keys.get(tuple(_index_keys(schema.fields, ispec)))
        if other is not None and other != iname:
            at = declared.index_at.get(iname, declared.at)
            problems.append(f"{at}: {schema.class_name} already has index {other} on the same keys")


async def plan_files(engine: Engine, files: list[tuple[Path, dict]]) -> Plan:
    """Everything the files need, checked against the stored schema; raises
    SchemaApplyError listing every conflict. Writes nothing."""
    declared, roles, warnings = merge_files(files)
    plan = Plan(roles=roles, warnings=warnings)
    problems: list[str] = []
    existing = engine.schemas.classes
    custom_ids = engine.settings.allow_custom_object_id
    for name, item in declared.items():
        stored = existing.get(name)
        change = plan_class(item, stored, existing, problems, custom_ids=custom_ids)
        if change is None:
            continue
        await _check_real_indexes(engine, change, problems, item)
        plan.changes.append(change)
        (plan.updated if stored else plan.created).append(name)
    if problems:
        raise SchemaApplyError(problems)
    return plan


async def missing_roles(engine: Engine, names: list[str]) -> list[str]:
    fields = engine.schemas.fields_of("_Role")
    out = []
    for name in names:
        found = await engine.storage.find("_Role", fields, {"name": name}, FindOptions(limit=1))
        if not found:
            out.append(name)
    return out


async def apply_files(engine: Engine, files: list[tuple[Path, dict]]) -> Plan:
    """Plans, then applies: schema changes first, then the missing roles
    (created through the normal write pipeline, so hooks run)."""
    async with engine.schemas.lock:
        await engine.schemas.load_locked()
        plan = await plan_files(engine, files)
        for change in plan.changes:
            await schema_api.apply_change(engine, change)
    for warning in plan.warnings:
        log.warning("schema files: %s", warning)
    created_roles = []
    for role in await missing_roles(engine, plan.roles):
        await engine.create("_Role", {"name": role, "ACL": {}}, Auth.as_master())
        created_roles.append(role)
    plan.roles = created_roles
    log.info("schema files: %d class(es) created, %d updated, %d role(s) created",
             len(plan.created), len(plan.updated), len(created_roles))
    return plan


def startup_task(files: list[tuple[Path, dict]]) -> Callable[[Engine], Awaitable[None]]:
    """An ``Engine.startup_tasks`` entry applying already validated files."""

    async def run(engine: Engine) -> None:
        await apply_files(engine, files)

    return run
