"""App schema files: loading, validation and documentation.

A schema file (``schemas/<app>.json``) declares an app's classes in the Parse
Server schema-API format (``className``, ``fields``, ``classLevelPermissions``,
``indexes``) plus the ``roles`` the app needs; ``schema_meta.json`` describes it.

Validation has two stages: the structure is checked against
``schema_meta.json`` (JSON Schema draft 2020-12), then the checks that need
more than one part of the document run here. Every problem is reported as a
:class:`SchemaFileError` naming the file and a JSON path into it.

Classes named ``User`` and ``Role`` are the built-in ``_User`` and ``_Role``;
loaded documents use the ``_`` names in ``className`` and ``targetClass``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

__all__ = ["BUILTIN_CLASSES", "DEFAULT_FIELDS", "FIELD_TYPES", "SchemaFileError",
           "data_dictionary", "load_schema_dir", "load_schema_file", "load_schema_path", "mermaid_er",
           "render_docs", "validate_schema_document"]

FIELD_TYPES = ("String", "Number", "Boolean", "Date", "Object", "Array", "GeoPoint",
               "File", "Bytes", "Polygon", "Pointer", "Relation")
DEFAULT_FIELDS = {"objectId": "String", "createdAt": "Date", "updatedAt": "Date", "ACL": "ACL"}
#: Fields every built-in class already has, with their types.
BUILTIN_FIELDS: dict[str, dict[str, str]] = {
    "_User": {"username": "String", "password": "String", "email": "String",
              "emailVerified": "Boolean", "authData": "Object"},
    "_Role": {"name": "String", "users": "Relation<_User>", "roles": "Relation<_Role>"},
    "_Session": {"user": "Pointer<_User>", "installationId": "String", "sessionToken": "String",
                 "expiresAt": "Date", "createdWith": "Object"},
    "_Installation": {name: "String" for name in (
        "installationId", "deviceToken", "deviceType", "pushType", "GCMSenderId", "timeZone",
        "localeIdentifier", "appVersion", "appName", "appIdentifier", "parseVersion")}
    | {"channels": "Array", "badge": "Number"},
}
BUILTIN_CLASSES = frozenset(BUILTIN_FIELDS)
CLASS_ALIASES = {"User": "_User", "Role": "_Role"}
_OPERATIONS = ("find", "get", "count", "create", "update", "delete", "addField")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REST_TYPES = {"Date", "GeoPoint", "File", "Bytes", "Polygon", "Pointer", "Relation"}


class SchemaFileError(Exception):
    """A schema file that cannot be used, with the place of the problem.

    ``path`` is the file, ``json_path`` a JSON path into the document
    (``$.classes[2].fields.price.type``) and ``message`` what is wrong.
    """

    def __init__(self, path: str | Path, json_path: str, message: str) -> None:
        self.path = str(path)
        self.json_path = json_path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.json_path}: {self.message}"


def class_name(name: str) -> str:
    """Normalise a class name: ``User`` -> ``_User``, ``Role`` -> ``_Role``."""
    return CLASS_ALIASES.get(name, name)


def json_path(parts: Iterable[str | int]) -> str:
    """Render path parts as a JSON path (``$.a[0].b``, odd keys as ``['k:y']``)."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}"
        else:
            out += "[" + json.dumps(part).replace('"', "'") + "]"
    return out


@lru_cache(maxsize=1)
def meta_schema() -> dict[str, Any]:
    """The JSON Schema every schema file must satisfy (``schema_meta.json``)."""
    if __package__:
        text = resources.files(__package__).joinpath("schema_meta.json").read_text("utf-8")
    else:  # loaded as a plain module
        text = Path(__file__).with_name("schema_meta.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = meta_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# --------------------------------------------------------------------------- loading


def load_schema_file(path: str | Path) -> dict[str, Any]:
    """Read, validate and normalise one schema file; raise SchemaFileError if unusable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaFileError(path, "$", f"cannot read file: {exc}") from exc
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise SchemaFileError(
            path, "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except ValueError as exc:
        raise SchemaFileError(path, "$", f"invalid JSON: {exc}") from exc
    return validate_schema_document(doc, path)


def load_schema_dir(path: str | Path) -> list[dict[str, Any]]:
    """Load every ``*.json`` file of a directory, sorted by file name."""
    return [doc for _, doc in _load_dir(Path(path))]


def load_schema_path(path: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """(file, document) for a schema file or every ``*.json`` of a directory
    (sorted by name): what ``bapp serve --schemas PATH`` applies."""
    target = Path(path)
    if target.is_dir():
        return _load_dir(target)
    if target.is_file():
        return [(target, load_schema_file(target))]
    raise SchemaFileError(path, "$", "no such file or directory")


def _load_dir(path: Path) -> list[tuple[Path, dict[str, Any]]]:
    out: list[tuple[Path, dict[str, Any]]] = []
    seen: dict[str, Path] = {}
    for file in sorted(path.glob("*.json"), key=lambda p: p.name):
        doc = load_schema_file(file)
        if doc["app"] in seen:
            raise SchemaFileError(file, "$.app", f"app {doc['app']!r} is also defined in "
                                                 f"{seen[doc['app']].name}")
        seen[doc["app"]] = file
        out.append((file, doc))
    return out


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def validate_schema_document(doc: Any, path: str | Path = "<document>") -> dict[str, Any]:
    """Validate a parsed schema document; return a normalised deep copy."""
    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        parts, message = _describe(error)
        raise SchemaFileError(path, json_path(parts), message)
    _Checker(doc, path).run()
    out = copy.deepcopy(doc)
    out.setdefault("roles", [])
    for cls in out["classes"]:
        cls["className"] = class_name(cls["className"])
        for field in cls["fields"].values():
            if "targetClass" in field:
                field["targetClass"] = class_name(field["targetClass"])
    return out


def _describe(error: ValidationError) -> tuple[list[str | int], str]:
    """Turn a jsonschema error into (path parts, readable message)."""
    parts: list[str | int] = list(error.absolute_path)
    kind, value, inst = error.validator, error.validator_value, error.instance
    if "propertyNames" in error.absolute_schema_path:
        parts.append(inst)
        if kind == "not":
            return parts, f"{inst!r} is a reserved name"
        return parts, f"invalid name {inst!r}" + (
            f" (must match {value})" if kind == "pattern" else f": {error.message}")
    if kind == "required":
        missing = next(k for k in value if k not in inst)
        parts.append(missing)
        if missing == "targetClass":
            return parts, f"type {inst.get('type')} needs a targetClass"
        return parts, f"{missing!r} is required"
    if kind == "additionalProperties" and value is False:
        known = error.schema.get("properties", {})
        extra = next(k for k in inst if k not in known)
        parts.append(extra)
        return parts, f"unknown key {extra!r} (expected one of: {', '.join(known)})"
    if kind == "not" and isinstance(value, dict) and "required" in value:
        key = value["required"][0]
        parts.append(key)
        return parts, f"{key!r} is not allowed on a {inst.get('type')} field"
    if kind == "not" and value == {"type": "null"}:
        return parts, "must not be null"
    if kind == "const" and parts and parts[-1] == "required":
        return parts, "'required' cannot be true on a Relation field"
    if kind == "const":
        return parts, f"must be {json.dumps(value)}"
    if kind == "enum" and parts and parts[-1] == "type":
        return parts, f"unknown field type {inst!r} (expected one of: {', '.join(FIELD_TYPES)})"
    return parts, error.message


# --------------------------------------------------------------------------- semantic checks


class _Checker:
    """Cross-reference checks that the meta-schema cannot express."""

    def __init__(self, doc: dict[str, Any], path: str | Path) -> None:
        self.doc = doc
        self.path = path
        self.names = [class_name(c["className"]) for c in doc["classes"]]
        self.roles = set(doc.get("roles", []))

    def fail(self, parts: Iterable[str | int], message: str) -> SchemaFileError:
        return SchemaFileError(self.path, json_path(parts), message)

    def run(self) -> None:
        seen: dict[str, int] = {}
        for i, name in enumerate(self.names):
            if name in seen:
                raise self.fail(["classes", i, "className"],
                                f"class {name} is already defined at $.classes[{seen[name]}]")
            seen[name] = i
        for i, cls in enumerate(self.doc["classes"]):
            self.check_class(i, self.names[i], cls)

    def check_class(self, i: int, name: str, cls: dict[str, Any]) -> None:
        base: list[str | int] = ["classes", i]
        fields: dict[str, dict[str, Any]] = cls["fields"]
        builtin = BUILTIN_FIELDS.get(name, {})
        geopoints: list[str] = []
        for fname, field in fields.items():
            at = [*base, "fields", fname]
            if fname in DEFAULT_FIELDS:
                raise self.fail(at, f"{fname!r} is a default field of every class and cannot "
                                    "be redeclared")
            if fname in builtin:
                raise self.fail(at, f"{fname!r} is a built-in field of {name} and cannot be "
                                    "redeclared")
            target = field.get("targetClass")
            if target is not None:
                target = class_name(target)
                if target not in self.names and target not in BUILTIN_CLASSES:
                    raise self.fail([*at, "targetClass"], f"unknown class {target!r} (not "
                                    "defined in this file and not a built-in class)")
            if "defaultValue" in field:
                problem = _default_problem(field["type"], target, field["defaultValue"])
                if problem:
                    raise self.fail([*at, "defaultValue"], problem)
            if field["type"] == "GeoPoint":
                geopoints.append(fname)
                if len(geopoints) > 1:
                    raise self.fail(at, f"class {name} can have only one GeoPoint field "
                                        f"({', '.join(geopoints)})")
        self.check_clp(base, name, fields, cls.get("classLevelPermissions", {}))
        for iname, spec in cls.get("indexes", {}).items():
            for key in spec:
                if not self.field_exists(name, fields, key):
                    raise self.fail([*base, "indexes", iname, key],
                                    f"index on unknown field {key!r} of class {name}")

    def field_exists(self, name: str, fields: dict[str, Any], key: str) -> bool:
        if key.startswith("_p_"):
            field = fields.get(key[3:])
            return field is not None and field["type"] == "Pointer"
        return key in fields or key in DEFAULT_FIELDS or key in BUILTIN_FIELDS.get(name, {})

    def check_clp(self, base: list[str | int], name: str, fields: dict[str, Any],
                  clp: dict[str, Any]) -> None:
        at = [*base, "classLevelPermissions"]

        def user_field(parts: list[str | int], fname: str) -> None:
            field = fields.get(fname)
            if field is None:
                ok = BUILTIN_FIELDS.get(name, {}).get(fname) in ("Array", "Pointer<_User>")
            else:
                ok = field["type"] == "Array" or (
                    field["type"] == "Pointer" and class_name(field["targetClass"]) == "_User")
            if not ok:
                raise self.fail(parts, f"{fname!r} must be a Pointer<_User> or Array field of "
                                       f"class {name}")

        def role(parts: list[str | int], key: str) -> None:
            if key.startswith("role:") and key[5:] not in self.roles:
                raise self.fail(parts, f"role {key[5:]!r} is not listed in $.roles")

        for op in _OPERATIONS:
            for key, value in clp.get(op, {}).items():
                role([*at, op, key], key)
                if key == "pointerFields":
                    for j, fname in enumerate(value):
                        user_field([*at, op, key, j], fname)
        for key in ("readUserFields", "writeUserFields"):
            for j, fname in enumerate(clp.get(key, [])):
                user_field([*at, key, j], fname)
        for key, hidden in clp.get("protectedFields", {}).items():
            role([*at, "protectedFields", key], key)
            if key.startswith("userField:"):
                user_field([*at, "protectedFields", key], key[len("userField:"):])
            for j, fname in enumerate(hidden):
                parts = [*at, "protectedFields", key, j]
                if fname in DEFAULT_FIELDS:
                    raise self.fail(parts, f"default field {fname!r} cannot be protected")
                if not self.field_exists(name, fields, fname):
                    raise self.fail(parts, f"unknown field {fname!r} of class {name}")


def _default_problem(ftype: str, target: str | None, value: Any) -> str | None:
    """Why ``value`` is not a valid default for a field of ``ftype`` (None if it is)."""
    def rest(kind: str) -> bool:
        return isinstance(value, dict) and value.get("__type") == kind

    def num(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    ok: bool
    if ftype == "String":
        ok = isinstance(value, str)
    elif ftype == "Number":
        ok = num(value)
    elif ftype == "Boolean":
        ok = isinstance(value, bool)
    elif ftype == "Array":
        ok = isinstance(value, list)
    elif ftype == "Object":
        ok = isinstance(value, dict) and value.get("__type") not in _REST_TYPES
    elif ftype == "Date":
        ok = rest("Date") and isinstance(value.get("iso"), str) and _is_iso(value["iso"])
    elif ftype == "GeoPoint":
        ok = (rest("GeoPoint") and num(value.get("latitude")) and num(value.get("longitude"))
              and -90 <= value["latitude"] <= 90 and -180 <= value["longitude"] <= 180)
    elif ftype == "File":
        ok = rest("File") and isinstance(value.get("name"), str)
    elif ftype == "Bytes":
        ok = rest("Bytes") and isinstance(value.get("base64"), str)
    elif ftype == "Polygon":
        coords = value.get("coordinates") if rest("Polygon") else None
        ok = (isinstance(coords, list) and len(coords) >= 3
              and all(isinstance(p, list) and len(p) == 2 and all(map(num, p)) for p in coords))
    elif ftype == "Pointer":
        ok = (rest("Pointer") and class_name(str(value.get("className"))) == target
              and isinstance(value.get("objectId"), str))
    else:
        return f"a {ftype} field cannot have a defaultValue"
    if ok:
        return None
    return f"defaultValue {json.dumps(value)} is not a valid {_type_label(ftype, target)}"


def _is_iso(text: str) -> bool:
    try:
        return bool(datetime.fromisoformat(text))
    except ValueError:
        return False


def _type_label(ftype: str, target: str | None) -> str:
    return f"{ftype}<{target}>" if target else ftype


# --------------------------------------------------------------------------- documentation


def data_dictionary(doc: dict[str, Any]) -> str:
    """Markdown data dictionary: one table per class (field, type, required, default)."""
    out: list[str] = []
    for cls in doc["classes"]:
        name = class_name(cls["className"])
        out.append(f"### {name}\n")
        if cls.get("description"):
            out.append(cls["description"] + "\n")
        out.append("| Field | Type | Required | Default | Description |")
        out.append("|---|---|---|---|---|")
        rows = [("objectId", "String", "auto", "", "Unique identifier")]
        rows += [(f, _code(t) if "<" in t else t, "built-in", "", f"Built-in field of {name}")
                 for f, t in BUILTIN_FIELDS.get(name, {}).items()]
        for fname, field in cls["fields"].items():
            target = field.get("targetClass")
            default = json.dumps(field["defaultValue"]) if "defaultValue" in field else ""
            label = _type_label(field["type"], target and class_name(target))
            rows.append((fname, _code(label) if target else label,
                         "yes" if field.get("required") else "no", _code(default),
                         field.get("description", "")))
        rows += [("createdAt", "Date", "auto", "", "Creation time"),
                 ("updatedAt", "Date", "auto", "", "Last update time"),
                 ("ACL", "ACL", "auto", "", "Object access control list")]
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        out.append(f"\n{len(rows)} fields in {name}\n")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def mermaid_er(doc: dict[str, Any]) -> str:
    """Mermaid ``erDiagram``: entities with fields, Pointer (N:1) and Relation (N:M) links."""
    def ent(name: str) -> str:  # _User is drawn as User, as in Parse dashboards
        return name.lstrip("_") or name

    rels: list[str] = []
    blocks: list[str] = []
    for cls in doc["classes"]:
        name = class_name(cls["className"])
        lines = [f"    {ent(name)} {{", "        String objectId PK"]
        lines += [f"        {t.split('<')[0]} {f}" for f, t in BUILTIN_FIELDS.get(name, {}).items()
                  if f not in ("password", "authData")]
        for fname, field in cls["fields"].items():
            ftype = field["type"]
            target = class_name(field["targetClass"]) if "targetClass" in field else None
            lines.append(f"        {ftype} {fname}" + (" FK" if ftype == "Pointer" else ""))
            if ftype == "Pointer":
                rels.append(f'    {ent(target)} ||--o{{ {ent(name)} : "{fname}"')
            elif ftype == "Relation":
                rels.append(f'    {ent(name)} }}o--o{{ {ent(target)} : "{fname}"')
        lines += ["        Date createdAt", "        Date updatedAt", "    }"]
        blocks.append("\n".join(lines))
    return "\n".join(["erDiagram", *rels, "", "\n\n".join(blocks)]) + "\n"


def render_docs(doc: dict[str, Any]) -> str:
    """Markdown page for an app: title, description, roles, ER diagram, data dictionary."""
    parts = [f"# {doc['app']}\n"]
    if doc.get("description"):
        parts.append(doc["description"] + "\n")
    if doc.get("roles"):
        parts.append("Roles: " + ", ".join(f"`{r}`" for r in doc["roles"]) + "\n")
    parts += ["## ER diagram\n", "```mermaid", mermaid_er(doc).rstrip("\n"), "```\n",
              "## Data dictionary\n", data_dictionary(doc)]
    return "\n".join(parts)
