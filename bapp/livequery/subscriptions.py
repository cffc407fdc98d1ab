"""Subscriptions and their index.

Identical ``(className, where)`` pairs share one ``QueryRecord`` (one
compiled matcher); each client subscription points at a record.  Records
are indexed per class, and a record whose ``where`` pins a top-level field
to one scalar or pointer (``{"room": "a"}``, ``{"objectId": "x"}``) is also
filed under that value, so a write only evaluates the records that could
possibly match it plus the ones without such an equality."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from bapp.model.matcher import CompiledWhere

if TYPE_CHECKING:
    from bapp.livequery.server import LiveClient

ValueKey = tuple
_MISSING = object()
# Top-level fields compared as dates (ISO strings on the object): not indexed.
_DATE_FIELDS = frozenset({"createdAt", "updatedAt", "expiresAt"})


def canonical(where: dict) -> str:
    """Order-insensitive text of a where clause (the record key)."""
    return orjson.dumps(where, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def _scalar_key(value: Any) -> ValueKey | None:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, dict) and value.get("__type") in ("Pointer", "Object"):
        oid = value.get("objectId")
        # The matcher lets a bare objectId string equal a pointer, so pointers
        # and strings share one key space (by id).
        return ("s", oid) if isinstance(oid, str) else None
    return None


def where_key(value: Any) -> ValueKey | None:
    """The index key of an equality constraint's value, None if not indexable."""
    if isinstance(value, dict) and set(value) == {"$eq"}:
        value = value["$eq"]
    return _scalar_key(value)


def object_keys(value: Any) -> list[ValueKey] | None:
    """Index keys an object's field value can be equal to; None when the
    value's type is not indexed (every record on that field must be tried)."""
    if value is _MISSING or value is None:
        return []
    if isinstance(value, list):
        out: list[ValueKey] = []
        for item in value:
            if item is None:
                continue
            key = _scalar_key(item)
            if key is None:
                return None
            out.append(key)
        return out
    key = _scalar_key(value)
    return None if key is None else [key]


def pick_index(where: dict, fields: dict) -> tuple[str, ValueKey] | None:
    """The equality constraint a record is filed under (objectId first)."""
    names = sorted(where, key=lambda n: (n != "objectId", n))
    for name in names:
        if name.startswith("$") or "." in name or name in _DATE_FIELDS:
            continue
        if fields.get(name, {}).get("type") in ("Relation", "Date", "Object"):
            continue
        key = where_key(where[name])
        if key is not None:
            return name, key
    return None


@dataclass(eq=False)
class QueryRecord:
    """One distinct ``(className, where)`` and everyone subscribed to it."""

    class_name: str
    hash: str
    where: dict
    matcher: CompiledWhere
    clp_op: str
    index: tuple[str, ValueKey] | None
    subscriptions: dict[tuple[str, Any], Subscription] = field(default_factory=dict)


@dataclass(eq=False)
class Subscription:
    """One ``(client, requestId)``."""

    client: LiveClient
    request_id: Any
    record: QueryRecord
    keys: tuple[str, ...] | None
    watch: tuple[str, ...] | None
    session_token: str | None  # the per-subscription token, if any
    identity: tuple = ("anonymous",)  # who the events are filtered for (see access.identity)

    @property
    def key(self) -> tuple[str, Any]:
        return (self.client.id, self.request_id)


class _ClassIndex:
    def __init__(self) -> None:
        self.records: dict[str, QueryRecord] = {}
        self.scan: dict[str, QueryRecord] = {}
        self.by_value: dict[str, dict[ValueKey, dict[str, QueryRecord]]] = {}

    def add(self, record: QueryRecord) -> None:
        self.records[record.hash] = record
        if record.index is None:
            self.scan[record.hash] = record
        else:
            name, key = record.index
            self.by_value.setdefault(name, {}).setdefault(key, {})[record.hash] = record

    def remove(self, record: QueryRecord) -> None:
        self.records.pop(record.hash, None)
        if record.index is None:
            self.scan.pop(record.hash, None)
            return
        name, key = record.index
        table = self.by_value.get(name, {})
        bucket = table.get(key, {})
        bucket.pop(record.hash, None)
        if not bucket:
            table.pop(key, None)
        if not table:
            self.by_value.pop(name, None)

    def candidates(self, objects: list[dict]) -> list[QueryRecord]:
        found: dict[str, QueryRecord] = dict(self.scan)
        for name, table in self.by_value.items():
            for obj in objects:
                keys = object_keys(obj.get(name, _MISSING))
                if keys is None:
                    for bucket in table.values():
                        found.update(bucket)
                    break
                for key in keys:
                    bucket = table.get(key)
                    if bucket:
                        found.update(bucket)
        return list(found.values())


class SubscriptionIndex:
    """All live subscriptions of this server, by class and equality value."""

    def __init__(self) -> None:
        self._classes: dict[str, _ClassIndex] = {}

    def has_class(self, class_name: str) -> bool:
        return class_name in self._classes

    def record_for(self, class_name: str, where: dict, make: Any) -> QueryRecord:
        """The shared record for this where, created by ``make(hash)`` if new."""
        key = canonical(where)
        index = self._classes.get(class_name)
        if index is not None and key in index.records:
            return index.records[key]
        record = make(key)
        self._classes.setdefault(class_name, _ClassIndex()).add(record)
        return record

    def add(self, sub: Subscription) -> None:
        sub.record.subscriptions[sub.key] = sub

    def remove(self, sub: Subscription) -> None:
        record = sub.record
        if record.subscriptions.get(sub.key) is sub:
            del record.subscriptions[sub.key]
        if not record.subscriptions:
            index = self._classes.get(record.class_name)
            if index is not None and index.records.get(record.hash) is record:
                index.remove(record)
                if not index.records:
                    del self._classes[record.class_name]

    def candidates(self, class_name: str, original: dict | None, current: dict | None) -> list[QueryRecord]:
        index = self._classes.get(class_name)
        if index is None:
            return []
        return index.candidates([o for o in (original, current) if o is not None])

    def class_count(self) -> int:
        """Classes with at least one subscription."""
        return len(self._classes)

    def counts(self) -> tuple[int, int]:
        """(distinct queries, subscriptions)."""
        records = [r for i in self._classes.values() for r in i.records.values()]
        return len(records), sum(len(r.subscriptions) for r in records)
