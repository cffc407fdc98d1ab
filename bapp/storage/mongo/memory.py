"""The in-memory store: the MongoDB adapter on mongomock-motor.

mongomock has no geo operators, no ``$text`` and no collations, and runs
regexes without a time limit. Constraints that use them are lifted out of
the query, the rest runs in mongomock, and the lifted part is decided in
Python by the same matcher LiveQuery uses (regexes with a time budget).
Everything else is the production code path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.errors import OperationFailure

from bapp.model import geo, matcher
from bapp.model.text_search import TextSearch
from bapp.storage.base import Fields, FindOptions
from bapp.storage.mongo import memory_filter, transform
from bapp.storage.mongo.adapter import MongoAdapter, _operation_error


def _id_candidates(filt: Any) -> list | None:
    """The ``_id`` values a Mongo filter is limited to, when it says so at
    the top level (or in a top-level ``$and``); None when it does not."""
    if not isinstance(filt, dict):
        return None
    value = filt.get("_id")
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and set(value) == {"$in"} and isinstance(value["$in"], list):
        return [v for v in value["$in"] if isinstance(v, str)]
    for sub in filt.get("$and") or []:
        found = _id_candidates(sub)
        if found is not None:
            return found
    return None


def _install_id_lookup() -> None:
    """mongomock scans every document for every query; look up by ``_id``
    directly when the filter names the ids (gets, updates, deletes and
    includes), so the in-memory store stays fast as it grows."""
    from mongomock.collection import Collection
    from mongomock.filtering import filter_applies

    scan = Collection._iter_documents
    if getattr(scan, "_bapp_fast", False):
        return

    def iter_documents(self, filt):  # type: ignore[no-untyped-def]
        ids = _id_candidates(filt)
        store = self._store
        if ids is not None:
            docs = [store[i] for i in dict.fromkeys(ids) if i in store]
        elif store.is_empty:
            return scan(self, filt)
        else:
            docs = list(store.documents)
        predicate = memory_filter.compile_filter(filt) or (lambda doc: filter_applies(filt, doc))
        return (doc for doc in docs if predicate(doc))

    iter_documents._bapp_fast = True  # type: ignore[attr-defined]
    Collection._iter_documents = iter_documents


# $regex is decided by the matcher too: it runs patterns with a time budget,
# where mongomock's `re` would let a catastrophic pattern freeze the server.
_PY_OPS = frozenset({"$nearSphere", "$within", "$geoWithin", "$geoIntersects", "$text", "$regex"})


def _needs_python(value: Any) -> bool:
    """A field constraint mongomock cannot decide (geo, $text) or should not
    (regexes, also inside $all: the SDK's containsAllStartingWith)."""
    if not isinstance(value, dict):
        return False
    if _PY_OPS.intersection(value):
        return True
    items = value.get("$all")
    return isinstance(items, list) and any(isinstance(v, dict) and "$regex" in v for v in items)


def _split(where: dict) -> tuple[dict, dict]:
    """(part mongomock can run, part decided in Python)."""
    db_part: dict[str, Any] = {}
    py_part: dict[str, Any] = {}
    for key, value in where.items():
        if key == "$and":
            # Split each conjunct, so that ACL constraints stay in the database part.
            parts = [_split(sub) for sub in value]
            db_subs = [d for d, _ in parts if d]
            py_subs = [p for _, p in parts if p]
            if db_subs:
                db_part["$and"] = db_subs
            if py_subs:
                py_part["$and"] = py_subs
        elif key in ("$or", "$nor") and any(_split(sub)[1] for sub in value):
            py_part[key] = value
        elif _needs_python(value):
            py_part[key] = value
        else:
            db_part[key] = value
    return db_part, py_part


def _with_text_scores(rows: list[dict], py_part: dict) -> list[dict]:
    """Adds ``score`` (a $text query's relevance) to each row."""
    found = _find_operator(py_part, "$text")
    if found is None:
        return rows
    key, spec = found
    search = spec["$search"]
    text = TextSearch(search["$term"], search.get("$language"), bool(search.get("$caseSensitive")),
                      bool(search.get("$diacriticSensitive")))
    for row in rows:
        value = row.get(key)
        row["score"] = text.score([value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)])
    return rows


def _find_operator(py_part: dict, op: str) -> tuple[str, Any] | None:
    """The first field constrained by ``op`` (top level or in a top-level
    $and) and that operator's argument."""
    for key, value in py_part.items():
        if key == "$and":
            for sub in value:
                found = _find_operator(sub, op)
                if found:
                    return found
        elif isinstance(value, dict) and op in value:
            return key, value[op]
    return None


class MemoryAdapter(MongoAdapter):
    def __init__(self, file_url: Callable[[str], str] | None = None) -> None:
        from mongomock_motor import AsyncMongoMockClient

        _install_id_lookup()
        super().__init__(AsyncMongoMockClient(), "bapp", file_url)

    async def find(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> list[dict]:
        db_part, py_part = _split(where)
        if not py_part:
            return self._select(class_name, fields, where, options)
        everything = FindOptions(order=options.order, hint=options.hint)
        rows = self._select(class_name, fields, db_part, everything)
        compiled = matcher.compile_where(py_part)
        rows = [row for row in rows if compiled.matches(row)]
        if "$score" in options.order or "$score" in (options.keys or []):
            rows = _with_text_scores(rows, py_part)
            if "$score" in options.order:
                rows.sort(key=lambda row: -row.get("score", 0.0))
        near = _find_operator(py_part, "$nearSphere")
        if near and not options.order:
            key, center = near
            rows.sort(key=lambda row: geo.distance_key(row.get(key), center))
        rows = rows[options.skip or 0:]
        if options.limit is not None:
            rows = rows[: options.limit]
        if options.keys is not None:
            keep = {k.split(".", 1)[0] for k in options.keys} | {"objectId", "createdAt", "updatedAt", "ACL", "score"}
            rows = [{k: v for k, v in row.items() if k in keep or k.startswith("_")} for row in rows]
        return rows

    def _select(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> list[dict]:
        """A find without mongomock's cursor, which copies every matching
        document before applying skip and limit: match, sort, slice, and only
        then decode (decoding builds fresh containers, so nothing the caller
        changes can reach the store)."""
        from mongomock.filtering import resolve_sort_key

        collection = self._col(class_name)._AsyncMongoMockCollection__collection
        try:
            docs = list(collection._iter_documents(transform.encode_where(fields, where)))
        except OperationFailure as exc:
            raise _operation_error(exc) from None
        for key, direction in reversed(transform.encode_sort(fields, options.order)):
            if isinstance(direction, dict):
                continue  # relevance: find() sorts by score after matching $text
            docs.sort(key=lambda doc, k=key: resolve_sort_key(k, doc), reverse=direction < 0)
        start = options.skip or 0
        docs = docs[start:] if options.limit is None else docs[start:start + options.limit]
        if options.keys is not None:
            wanted = transform.encode_projection(fields, options.keys)
            docs = [{k: v for k, v in doc.items() if k in wanted}
                    for doc in docs]
        return [transform.decode_object(fields, doc, self.file_url) for doc in docs]

    async def explain(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> dict:
        """mongomock has no query planner: describe what this store does."""
        db_part, py_part = _split(where)
        return {"queryPlanner": {"namespace": f"bapp.{class_name}",
                                 "winningPlan": {"stage": "COLLSCAN", "decidedInPython": sorted(py_part)}},
                "store": "in-memory"}

    async def count(self, class_name: str, fields: Fields, where: dict) -> int:
        db_part, py_part = _split(where)
        if not py_part:
            return await super().count(class_name, fields, where)
        rows = await self.find(class_name, fields, where, FindOptions())
        return len(rows)

    async def ensure_index(self, class_name: str, fields: Fields, spec: dict, name: str | None = None,
                           unique: bool = False, case_insensitive: bool = False) -> None:
        # mongomock cannot build collation, text or geo indexes; queries that
        # need them are answered in Python above, so only plain indexes matter.
        if case_insensitive or any(v in ("text", "2dsphere", "2d") for v in spec.values()):
            return
        await super().ensure_index(class_name, fields, spec, name, unique)
