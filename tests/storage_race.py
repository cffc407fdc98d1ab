"""Simulating a writer in another server process, for the tests of the
bundled apps' conditional writes.

In one process an app's own locks serialise its read-then-write paths, and
the in-memory store rarely lets requests interleave, so the conditions that
protect several server processes sharing one database would go untested.
``race`` changes the stored object (raw, no hooks, as another process
would) just before the database update the test is about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def race(api: Any, class_name: str, when: Callable[[dict], bool], concurrent: dict) -> list:
    """Simulates a writer in another server process: just before the first
    database update of ``class_name`` whose change satisfies ``when``, the
    stored object is changed by ``concurrent`` (raw, no hooks). In one
    process the app's own locks serialise these paths, so this is how the
    conditional writes that protect several processes are put to the test."""
    storage = api.engine.storage
    plain = storage.update
    fired: list = []

    async def update(name, fields, where, change):
        if name == class_name and not fired and when(change):
            fired.append(change)
            await plain(name, fields, {"objectId": _object_id(where)}, concurrent)
        return await plain(name, fields, where, change)

    storage.update = update
    return fired


def _object_id(where: dict) -> str | None:
    if isinstance(where.get("objectId"), str):
        return where["objectId"]
    for part in where.get("$and", []):
        found = _object_id(part)
        if found:
            return found
    return None
