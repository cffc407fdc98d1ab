"""Which event a subscriber gets for one write, and the event's frame.

Parse Server's rule: the object before the write "matches" when it
satisfies the subscription's where AND the subscriber could read it; the
same for the object after.  Both -> ``update``, before only -> ``leave``,
after only -> ``enter`` (or ``create`` when there was no object before),
neither -> nothing.  A delete is the object before, matched the same way.
``watch`` then suppresses ``create``/``update`` events whose watched fields
did not change."""

from __future__ import annotations

from typing import Any

CREATE, ENTER, UPDATE, LEAVE, DELETE = "create", "enter", "update", "leave", "delete"
WITH_ORIGINAL = frozenset({ENTER, UPDATE, LEAVE})

_UNSET = object()


def decide(original: dict | None, current: dict | None, before: bool, after: bool) -> str | None:
    """``before``/``after``: the object before/after the write matched the
    query and is visible to the subscriber.  ``current`` None is a delete."""
    if current is None:
        return DELETE if before else None
    if before and after:
        return UPDATE
    if before:
        return LEAVE
    if after:
        return ENTER if original is not None else CREATE
    return None


def watched_changed(watch: tuple[str, ...] | None, original: dict | None, current: dict | None) -> bool:
    """True when no watch list is set, or a watched field differs between
    the two states (a field absent before counts as changed once set)."""
    if not watch:
        return True
    before = original or {}
    after = current or {}
    return any(_differs(before.get(name, _UNSET), after.get(name, _UNSET)) for name in watch)


def _differs(a: Any, b: Any) -> bool:
    if a is _UNSET or b is _UNSET:
        return a is not b
    if isinstance(a, bool) or isinstance(b, bool):  # JSON: true is not 1
        return type(a) is not type(b) or a != b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):  # 1 and 1.0 are one number
        return a != b
    if type(a) is not type(b):
        return True
    if isinstance(a, dict):
        return a.keys() != b.keys() or any(_differs(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) != len(b) or any(_differs(x, y) for x, y in zip(a, b, strict=True))
    return a != b


def applies_watch(event: str) -> bool:
    return event in (CREATE, UPDATE)
