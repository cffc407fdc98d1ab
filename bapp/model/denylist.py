"""Parse Server 9's request keyword denylist (``requestKeywordDenylist``).

Request data is deep-scanned for each entry in turn. An entry names a key,
a value or both; a string in an entry is a regular expression searched in
the key or value (so ``constructor`` also matches ``myconstructor``), any
other entry value must be equal. These are Parse Server's default entries
and its matching rules, copied on purpose so a request refused there is
refused here with the same message."""

from __future__ import annotations

import re
from typing import Any

import orjson

from bapp import errors
from bapp.errors import ParseError

DEFAULT_DENYLIST: tuple[dict, ...] = (
    {"key": "_bsontype", "value": "Code"},
    {"key": "constructor"},
    {"key": "__proto__"},
)


def _matches(candidate: Any, pattern: Any) -> bool:
    if isinstance(candidate, str) and isinstance(pattern, str) and re.search(pattern, candidate):
        return True
    return type(candidate) is type(pattern) and candidate == pattern


def contains(data: Any, entry: dict) -> bool:
    """Whether ``entry`` matches a key, a value or a key/value pair anywhere
    in ``data`` (objects and arrays; array positions are keys "0", "1", ...)."""
    key, value = entry.get("key"), entry.get("value")
    has_key, has_value = "key" in entry, "value" in entry
    stack = [data]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            items = current.items()
        elif isinstance(current, list):
            items = ((str(i), v) for i, v in enumerate(current))
        else:
            continue
        for k, v in items:
            key_hit = has_key and _matches(k, key)
            value_hit = has_value and _matches(v, value)
            if (has_key and has_value and key_hit and value_hit) or (has_key and not has_value and key_hit) \
                    or (has_value and not has_key and value_hit):
                return True
            if isinstance(v, (dict, list)):
                stack.append(v)
    return False


def check(data: Any, denylist: tuple[dict, ...] = DEFAULT_DENYLIST) -> None:
    """105 ``Prohibited keyword in request data: <entry as JSON>.`` for the
    first entry that matches."""
    for entry in denylist:
        if contains(data, entry):
            shown = orjson.dumps(entry).decode()
            raise ParseError(errors.INVALID_KEY_NAME, f"Prohibited keyword in request data: {shown}.")
