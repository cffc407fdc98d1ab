"""LiveQuery wire protocol: parsing client messages and building the
server's frames, field for field as Parse Server sends them.

Parsing is deliberately lenient where old or current SDKs differ from
Parse Server's strict JSON schema (``fields`` instead of ``keys``,
comma-separated ``keys``, ``sessionToken: null``, extra top-level
properties): a strict rejection with ``reconnect: true`` turns into a
reconnect storm in the JS SDK, so request-scoped errors are sent with
``reconnect: false``. One rejection is kept as Parse Server sends it: an
unknown property inside a subscription's ``query`` answers "Additional
properties not allowed" (code 1, ``reconnect: true``, no requestId), the
answer the JS SDK's resubscribe flow is built on (it reconnects without
``installationId`` and resubscribes every subscription it holds)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

# Error codes on the socket (Parse Server's LiveQuery server).
BAD_MESSAGE = 1  # malformed JSON, wrong shape, unknown op
NOT_CONNECTED = 2  # subscribe/unsubscribe before connect, unknown requestId
INVALID_KEYS = 4  # connect with a wrong application id or client key

KEY_FIELDS = ("javascriptKey", "clientKey", "restAPIKey", "windowsKey", "masterKey")
# Parse Server's subscribe schema for ``query``, plus the pre-7 ``fields``.
QUERY_FIELDS = frozenset({"className", "where", "keys", "watch", "fields"})
ADDITIONAL_PROPERTIES = "Additional properties not allowed"


class ProtocolError(Exception):
    """A message the server answers with an ``error`` frame."""

    def __init__(self, code: int, message: str, request_id: Any = None, reconnect: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.reconnect = reconnect


@dataclass
class Connect:
    application_id: str
    keys: dict[str, str]
    session_token: str | None
    installation_id: str | None


@dataclass
class Subscribe:
    op: str  # "subscribe" or "update"
    request_id: int | float
    class_name: str
    where: dict
    keys: list[str] | None
    watch: list[str] | None
    session_token: str | None


@dataclass
class Unsubscribe:
    request_id: int | float


@dataclass
class QueryOp:
    """``{op: "query", requestId}``: the current results of a subscription."""

    request_id: int | float


Message = Connect | Subscribe | Unsubscribe | QueryOp


def decode(raw: str | bytes) -> dict:
    """One frame's JSON object; ProtocolError for anything else."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError(BAD_MESSAGE, "Invalid JSON: the message could not be parsed") from None
    if not isinstance(data, dict):
        raise ProtocolError(BAD_MESSAGE, "Invalid message: expected a JSON object")
    return data


def parse(data: dict) -> Message:
    """Validates a decoded client message; raises ProtocolError."""
    op = data.get("op")
    if not isinstance(op, str):
        raise ProtocolError(BAD_MESSAGE, "Missing required property: op", _request_id_or_none(data))
    if op == "connect":
        return _connect(data)
    if op in ("subscribe", "update"):
        return _subscribe(op, data)
    if op == "unsubscribe":
        return Unsubscribe(_request_id(data))
    if op == "query":
        return QueryOp(_request_id(data))
    raise ProtocolError(BAD_MESSAGE, f"Unknown op: {op[:100]}", _request_id_or_none(data))


def _optional_string(data: dict, name: str, request_id: Any = None) -> str | None:
    value = data.get(name)
    if value is None:  # old SDKs send ``sessionToken: null``
        return None
    if not isinstance(value, str):
        raise ProtocolError(BAD_MESSAGE, f"Invalid type for {name}: expected a string", request_id)
    return value


def _connect(data: dict) -> Connect:
    app_id = data.get("applicationId")
    if not isinstance(app_id, str):
        raise ProtocolError(BAD_MESSAGE, "Missing required property: applicationId")
    keys = {}
    for name in KEY_FIELDS:
        value = _optional_string(data, name)
        if value:
            keys[name] = value
    return Connect(app_id, keys, _optional_string(data, "sessionToken") or None,
                   _optional_string(data, "installationId"))


def _is_request_id(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def _request_id_or_none(data: dict) -> Any:
    value = data.get("requestId")
    return value if _is_request_id(value) else None


def _request_id(data: dict) -> int | float:
    if "requestId" not in data:
        raise ProtocolError(BAD_MESSAGE, "Missing required property: requestId")
    value = data["requestId"]
    if not _is_request_id(value):
        raise ProtocolError(BAD_MESSAGE, "Invalid type for requestId: expected a number")
    return value


def _subscribe(op: str, data: dict) -> Subscribe:
    request_id = _request_id(data)
    query = data.get("query")
    if not isinstance(query, dict):
        raise ProtocolError(BAD_MESSAGE, "Missing required property: query", request_id)
    if any(key not in QUERY_FIELDS for key in query):
        # Parse Server's schema error: connection-scoped, with reconnect.
        raise ProtocolError(BAD_MESSAGE, ADDITIONAL_PROPERTIES, reconnect=True)
    class_name = query.get("className")
    if not isinstance(class_name, str) or not class_name:
        raise ProtocolError(BAD_MESSAGE, "Missing required property: query.className", request_id)
    where = query.get("where", {})
    if where is None:
        where = {}
    if not isinstance(where, dict):
        raise ProtocolError(BAD_MESSAGE, "Invalid type for query.where: expected an object", request_id)
    # ``fields`` is what SDKs before Parse Server 7 sent for ``keys``.
    keys = _name_list(query.get("keys", query.get("fields")), "query.keys", request_id)
    watch = _name_list(query.get("watch"), "query.watch", request_id)
    token = _optional_string(data, "sessionToken", request_id) or None
    return Subscribe(op, request_id, class_name, where, keys, watch, token)


def _name_list(value: Any, name: str, request_id: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):  # Parse Server splits a comma string too
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(BAD_MESSAGE, f"Invalid type for {name}: expected an array of strings", request_id)
    names = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    return names or None


# ------------------------------------------------------------------ frames

def client_head(client_id: str, installation_id: str | None) -> str:
    """The ``"clientId":...,"installationId":...`` part every frame of a
    client repeats, serialised once per connection."""
    head = '"clientId":' + orjson.dumps(client_id).decode()
    if installation_id is not None:
        head += ',"installationId":' + orjson.dumps(installation_id).decode()
    return head


def frame(op: str, head: str, request_id: Any = None) -> str:
    """``connected`` / ``subscribed`` / ``unsubscribed``."""
    text = '{"op":"' + op + '",' + head
    if request_id is not None:
        text += ',"requestId":' + orjson.dumps(request_id).decode()
    return text + "}"


def event_frame(op: str, head: str, request_id: Any, obj_json: str, original_json: str | None) -> str:
    """An event: ``{op, clientId, installationId, requestId, object, original?}``
    with the object JSON already serialised (shared between subscribers)."""
    text = ('{"op":"' + op + '",' + head + ',"requestId":' + orjson.dumps(request_id).decode()
            + ',"object":' + obj_json)
    if original_json is not None:
        text += ',"original":' + original_json
    return text + "}"


def error_frame(code: int, message: str, reconnect: bool = False, request_id: Any = None) -> str:
    """``{op: "error", error, code, reconnect, requestId}`` -- no clientId,
    as Parse Server sends it; requestId is null for connection errors."""
    return orjson.dumps({"op": "error", "error": message, "code": code, "reconnect": reconnect,
                         "requestId": request_id}).decode()


def result_frame(head: str, request_id: Any, results_json: list[str]) -> str:
    return ('{"op":"result",' + head + ',"requestId":' + orjson.dumps(request_id).decode()
            + ',"results":[' + ",".join(results_json) + "]}")
