"""Names Parse Server's GraphQL API gives to classes, queries and ids.

Relay global ids are ``base64("<className>:<objectId>")``; connection
cursors are ``base64("arrayconnection:<offset>")`` (graphql-relay's format,
which clients decode)."""

from __future__ import annotations

import base64
import binascii
import re

GRAPHQL_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
CURSOR_PREFIX = "arrayconnection:"

# Type names the generated class types may not take (Parse Server's list,
# plus every fixed type bapp's base schema defines).
RESERVED_TYPE_NAMES = frozenset({
    "String", "Boolean", "Int", "Float", "ID", "ArrayResult", "Query", "Mutation", "Subscription",
    "CreateFileInput", "CreateFilePayload", "Viewer", "SignUpInput", "SignUpPayload", "LogInInput",
    "LogInPayload", "LogOutInput", "LogOutPayload", "CloudCodeFunction", "CallCloudCodeInput",
    "CallCloudCodePayload", "CreateClassInput", "CreateClassPayload", "UpdateClassInput",
    "UpdateClassPayload", "DeleteClassInput", "DeleteClassPayload", "PageInfo",
})
RESERVED_QUERY_NAMES = frozenset({"health", "viewer", "class", "classes", "node", "cloudConfig"})


def graphql_class_name(class_name: str) -> str:
    """``_User`` -> ``User``, ``item`` -> ``Item``."""
    name = class_name[1:] if class_name.startswith("_") else class_name
    return name[:1].upper() + name[1:]


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


# The rules of the ``pluralize`` npm package Parse Server names its find
# queries with, for the words class names are made of.
_UNCOUNTABLE = frozenset({
    "data", "equipment", "information", "rice", "money", "species", "series", "fish", "sheep",
    "deer", "news", "metadata", "feedback", "software", "media", "staff", "traffic", "music",
})
_IRREGULAR = {
    "person": "people", "man": "men", "woman": "women", "child": "children", "tooth": "teeth",
    "foot": "feet", "mouse": "mice", "goose": "geese", "ox": "oxen", "status": "statuses",
    "index": "indices", "matrix": "matrices", "vertex": "vertices", "criterion": "criteria",
    "analysis": "analyses", "datum": "data", "quiz": "quizzes", "leaf": "leaves", "life": "lives",
    "knife": "knives", "wife": "wives", "half": "halves", "wolf": "wolves", "shelf": "shelves",
}


def pluralize(word: str) -> str:
    """The plural of a camelCase name; only its last word changes."""
    match = re.search(r"([A-Z]?[a-z0-9]*)$", word)
    head, last = word[: match.start()], match.group(1)
    lower = last.lower()
    if not lower or lower in _UNCOUNTABLE:
        return word
    if lower in _IRREGULAR:
        plural = _IRREGULAR[lower]
        return head + (plural[0].upper() + plural[1:] if last[:1].isupper() else plural)
    if re.search(r"[^aeiou]y$", lower):
        return head + last[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", lower):
        return head + last + "es"
    return head + last + "s"


def to_global_id(class_name: str, object_id: str) -> str:
    return base64.b64encode(f"{class_name}:{object_id}".encode()).decode()


def from_global_id(value: str) -> tuple[str, str] | None:
    """(className, objectId) of a global id; None for a plain objectId."""
    if not isinstance(value, str) or len(value) % 4:
        return None
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    class_name, sep, object_id = text.partition(":")
    if not sep or not class_name or not object_id:
        return None
    return class_name, object_id


def object_id_of(value: str, class_name: str) -> str:
    """An id argument as Parse Server reads it: a global id of this class
    gives its objectId, anything else is taken as an objectId."""
    found = from_global_id(value)
    if found and found[0] == class_name:
        return found[1]
    return value


def offset_to_cursor(offset: int) -> str:
    return base64.b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode()


def cursor_to_offset(cursor: str) -> int | None:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith(CURSOR_PREFIX):
        return None
    try:
        return int(text[len(CURSOR_PREFIX):])
    except ValueError:
        return None
