"""``_SCHEMA`` rows in Parse Server's SQL form, and the storage interface's
schema documents (Parse Server's MongoDB ``_SCHEMA`` form, which the
engine's schema cache reads and writes).

Parse Server stores ``{"className", "fields", "classLevelPermissions",
"indexes"}``; ``fields`` is in storage form (``_rperm``/``_wperm``, and on
``_User`` ``_hashed_password``), or, after a field deletion, in API form
(``ACL``, ``password``). Both are read."""

from __future__ import annotations

import copy
from typing import Any

_TO_DOC = {
    "String": "string", "Number": "number", "Boolean": "boolean", "Date": "date", "Object": "object",
    "Array": "array", "GeoPoint": "geopoint", "File": "file", "Bytes": "bytes", "Polygon": "polygon",
}
_FROM_DOC = {v: k for k, v in _TO_DOC.items()} | {"map": "Object"}
_DEFAULT = {"objectId": {"type": "String"}, "createdAt": {"type": "Date"}, "updatedAt": {"type": "Date"}}
_PERMS = {"type": "Array", "contents": {"type": "String"}}
# Keys of a field spec that are its type, not its options.
_TYPE_KEYS = ("type", "targetClass", "contents")
_SKIP_ON_READ = frozenset({"objectId", "createdAt", "updatedAt", "ACL", "_rperm", "_wperm", "_hashed_password",
                           "password"})


def spec_from_doc(text: Any) -> dict | None:
    if not isinstance(text, str):
        return None
    if text.startswith("*"):
        return {"type": "Pointer", "targetClass": text[1:]}
    if text.startswith("relation<") and text.endswith(">"):
        return {"type": "Relation", "targetClass": text[len("relation<"):-1]}
    kind = _FROM_DOC.get(text)
    return {"type": kind} if kind else None


def spec_to_doc(spec: dict) -> str | None:
    kind = spec.get("type")
    if kind == "Pointer":
        return "*" + str(spec.get("targetClass"))
    if kind == "Relation":
        return f"relation<{spec.get('targetClass')}>"
    return _TO_DOC.get(kind)


def fields_of_doc(doc: dict) -> dict[str, dict]:
    """The fields a schema document declares (no defaults, no ACL)."""
    options = (doc.get("_metadata") or {}).get("fields_options") or {}
    out: dict[str, dict] = {}
    for key, value in doc.items():
        if key.startswith("_") or key in ("objectId", "createdAt", "updatedAt", "ACL"):
            continue
        spec = spec_from_doc(value)
        if spec is None:
            continue
        extra = options.get(key)
        if isinstance(extra, dict):
            spec.update({k: copy.deepcopy(v) for k, v in extra.items() if k not in ("type", "targetClass")})
        out[key] = spec
    return out


def row_from_doc(doc: dict) -> dict:
    """A schema document as Parse Server's ``_SCHEMA.schema`` value (storage form)."""
    class_name = doc["_id"]
    fields: dict[str, dict] = copy.deepcopy(_DEFAULT)
    for key, spec in fields_of_doc(doc).items():
        if class_name == "_User" and key == "password":
            continue
        fields[key] = spec
    fields["_rperm"] = copy.deepcopy(_PERMS)
    fields["_wperm"] = copy.deepcopy(_PERMS)
    if class_name == "_User":
        fields["_hashed_password"] = {"type": "String"}
    row: dict[str, Any] = {"className": class_name, "fields": fields}
    meta = doc.get("_metadata") or {}
    if "class_permissions" in meta:
        row["classLevelPermissions"] = copy.deepcopy(meta["class_permissions"])
    if meta.get("indexes"):
        row["indexes"] = copy.deepcopy(meta["indexes"])
    return row


def doc_from_row(class_name: str, row: Any) -> dict:
    """A ``_SCHEMA`` row (either of Parse Server's shapes) as a schema document."""
    row = row if isinstance(row, dict) else {}
    doc: dict[str, Any] = {"_id": class_name, "objectId": "string", "updatedAt": "string", "createdAt": "string"}
    options: dict[str, dict] = {}
    for key, spec in (row.get("fields") or {}).items():
        if key in _SKIP_ON_READ or not isinstance(spec, dict):
            continue
        text = spec_to_doc(spec)
        if text is None:
            continue
        doc[key] = text
        extra = {k: copy.deepcopy(v) for k, v in spec.items() if k not in _TYPE_KEYS}
        if extra:
            options[key] = extra
    meta: dict[str, Any] = {}
    if isinstance(row.get("classLevelPermissions"), dict):
        meta["class_permissions"] = copy.deepcopy(row["classLevelPermissions"])
    indexes = row.get("indexes") or {}
    if isinstance(indexes, dict) and indexes:
        meta["indexes"] = copy.deepcopy(indexes)
    if options:
        meta["fields_options"] = options
    if meta:
        doc["_metadata"] = meta
    return doc
