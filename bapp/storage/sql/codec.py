"""Rows of a SQL store as REST objects, for every dialect: the dialect turns
driver values into REST values; this adds what needs the schema (a
Pointer's class, a File's URL, Relation fields, the ACL)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from bapp.model import types
from bapp.storage.sql.columns import USER_INTERNAL, column_for
from bapp.storage.sql.compiler import perms_to_acl
from bapp.storage.sql.dialect import Dialect


def _with_file_urls(value: Any, file_url: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        if value.get("__type") == "File" and isinstance(value.get("name"), str):
            return {"__type": "File", "name": value["name"], "url": file_url(value["name"])}
        return {k: _with_file_urls(v, file_url) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_file_urls(v, file_url) for v in value]
    return value


def _has_file(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get("__type") == "File" or any(_has_file(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_file(v) for v in value)
    return False


class RowDecoder:
    """Decodes the rows of one class with one schema."""

    def __init__(self, dialect: Dialect, class_name: str, fields: dict[str, dict],
                 file_url: Callable[[str], str]) -> None:
        self.d = dialect
        self.class_name = class_name
        self.fields = fields
        self.file_url = file_url
        self.relations = [(name, spec.get("targetClass")) for name, spec in fields.items()
                          if spec.get("type") == "Relation"]
        self._columns: dict[str, Any] = {}

    def _column(self, key: str) -> Any:
        if key not in self._columns:
            self._columns[key] = column_for(self.class_name, self.fields, key)
        return self._columns[key]

    def row(self, record: Iterable[tuple[str, Any]]) -> dict:
        out: dict[str, Any] = {}
        rperm = wperm = None
        for key, raw in record:
            if raw is None:
                continue
            if key == "objectId" or key == "score":
                out[key] = raw
            elif key in ("createdAt", "updatedAt"):
                out[key] = types.iso(raw)
            elif key == "_rperm":
                rperm = raw
            elif key == "_wperm":
                wperm = raw
            elif key.startswith("_"):
                out[key] = self._internal(key, raw)
            else:
                out[key] = self._value(key, raw)
        if rperm is not None or wperm is not None:
            out["ACL"] = perms_to_acl(rperm, wperm)
        for name, target in self.relations:
            out[name] = {"__type": "Relation", "className": target}
        return out

    def _internal(self, key: str, raw: Any) -> Any:
        # Hidden _User columns keep the engine's forms (naive UTC datetimes,
        # as the MongoDB driver returns them).
        if isinstance(raw, datetime):
            return raw.astimezone(UTC).replace(tzinfo=None)
        if USER_INTERNAL.get(key) == "Number":
            return self.d.from_db("Number", raw)
        return raw

    def _value(self, key: str, raw: Any) -> Any:
        col = self._column(key)
        kind = col.kind if col is not None else None
        if kind == "Pointer":
            return types.pointer(col.target or "", raw)
        if kind == "File":
            return {"__type": "File", "name": raw, "url": self.file_url(raw)}
        if kind in ("Object", "Array", "Bytes"):
            return _with_file_urls(raw, self.file_url) if _has_file(raw) else raw
        if kind is None:
            if isinstance(raw, datetime):
                return types.date_json(raw)
            if isinstance(raw, float):
                return self.d.from_db("Number", raw)
            return raw
        return self.d.from_db(kind, raw)
