"""Compiled predicates for the in-memory store's most common filters.

mongomock interprets a filter generically for every document, which makes
scans slow. The shapes the engine sends most (equality, comparisons,
``$in``/``$nin``, ``$exists``, ``$all`` and the logical operators; regexes
never reach here, the matcher decides them with a time budget) are compiled here into closures with MongoDB's semantics; any
other shape compiles to None and mongomock decides, and a document whose
path crosses an array falls back to mongomock too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mongomock.filtering import filter_applies

Predicate = Callable[[dict], bool]
_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b,
}


class _Unsupported(Exception):
    """Compile time: this filter is left to mongomock."""


class _Fallback(Exception):
    """Match time: this document needs mongomock's rules."""


def compile_filter(filt: Any) -> Predicate | None:
    """A predicate for ``filt`` (falling back to mongomock per document when
    needed), or None when the filter uses anything not handled here."""
    try:
        compiled = _document(filt)
    except _Unsupported:
        return None

    def predicate(doc: dict) -> bool:
        try:
            return compiled(doc)
        except (_Fallback, TypeError):
            return filter_applies(filt, doc)

    return predicate


def _document(filt: Any) -> Predicate:
    if not isinstance(filt, dict):
        raise _Unsupported
    parts: list[Predicate] = []
    for key, value in filt.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list) or not value:
                raise _Unsupported
            subs = [_document(v) for v in value]
            if key == "$and":
                parts.append(lambda d, s=subs: all(p(d) for p in s))
            elif key == "$or":
                parts.append(lambda d, s=subs: any(p(d) for p in s))
            else:
                parts.append(lambda d, s=subs: not any(p(d) for p in s))
        elif key.startswith("$"):
            raise _Unsupported
        else:
            parts.append(_field(key, value))
    if len(parts) == 1:
        return parts[0]
    return lambda d: all(p(d) for p in parts)


def _getter(path: str) -> Callable[[dict], Any]:
    if "." not in path:
        return lambda doc: doc.get(path, _MISSING)
    parts = path.split(".")

    def get(doc: dict) -> Any:
        value: Any = doc
        for part in parts:
            if isinstance(value, list):
                raise _Fallback  # MongoDB fans paths out over arrays
            if not isinstance(value, dict):
                return _MISSING
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return _MISSING
        return value

    return get


def _field(path: str, cond: Any) -> Predicate:
    get = _getter(path)
    if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
        tests = [_operator(op, arg, cond) for op, arg in cond.items() if op != "$options"]
        if len(tests) == 1:
            test = tests[0]
            return lambda doc: test(get(doc))
        return lambda doc: all(t(get(doc)) for t in tests)
    if isinstance(cond, dict) and any(k.startswith("$") for k in cond):
        raise _Unsupported
    test = _equals(cond)
    return lambda doc: test(get(doc))


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, datetime))


def _same(a: Any, b: Any) -> bool:
    # BSON types: true is not 1.
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _equals(target: Any) -> Callable[[Any], bool]:
    if target is None:
        return lambda v: v is _MISSING or v is None or (isinstance(v, list) and None in v)
    if not _plain(target):
        raise _Unsupported  # embedded documents and arrays: exact BSON rules

    def test(value: Any) -> bool:
        if value is _MISSING:
            return False
        if isinstance(value, list):
            return any(_same(item, target) for item in value)
        return _same(value, target)

    return test


def _bracket(a: Any, b: Any) -> bool:
    """Range operators only compare values of the same type bracket."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return True
    return type(a) is type(b) and isinstance(a, (str, datetime))


def _operator(op: str, arg: Any, cond: dict) -> Callable[[Any], bool]:
    if op in _COMPARE:
        if not _plain(arg) or arg is None or isinstance(arg, bool):
            raise _Unsupported
        compare = _COMPARE[op]

        def ranged(value: Any) -> bool:
            items = value if isinstance(value, list) else (value,)
            return any(v is not _MISSING and _bracket(v, arg) and compare(v, arg) for v in items)

        return ranged
    if op == "$eq":
        return _equals(arg)
    if op == "$ne":
        equal = _equals(arg)
        return lambda v: not equal(v)
    if op in ("$in", "$nin"):
        if not isinstance(arg, list):
            raise _Unsupported
        tests = [_equals(a) for a in arg]

        def member(value: Any) -> bool:
            return any(t(value) for t in tests)

        return member if op == "$in" else (lambda v: not member(v))
    if op == "$exists":
        want = bool(arg)
        return lambda v: (v is not _MISSING) == want
    if op == "$all":
        if not isinstance(arg, list) or not arg:
            raise _Unsupported
        tests = [_equals(a) for a in arg]
        return lambda v: all(t(v) for t in tests)
    raise _Unsupported
