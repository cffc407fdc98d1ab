"""Helpers shared by the GraphQL tests: a client for ``POST /graphql`` and
the sample classes of the Parse Server 9.10 reference schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from conftest import APP_ID, MASTER_KEY, Client, Reply

HERE = Path(__file__).resolve().parent
REFERENCE_COPY = HERE / "fixtures" / "graphql-parse-server-9.10.graphql"

SUPPLIER = {"className": "Supplier", "fields": {"name": {"type": "String"}}}
ITEM = {"className": "Item", "fields": {
    "name": {"type": "String", "required": True}, "price": {"type": "Number", "defaultValue": 0},
    "inStock": {"type": "Boolean"}, "releasedAt": {"type": "Date"}, "tags": {"type": "Array"},
    "dims": {"type": "Object"}, "supplier": {"type": "Pointer", "targetClass": "Supplier"},
    "related": {"type": "Relation", "targetClass": "Supplier"}, "location": {"type": "GeoPoint"},
    "area": {"type": "Polygon"}, "manual": {"type": "File"}, "raw": {"type": "Bytes"},
}}


def graphql_url(api: Client) -> str:
    return f"http://127.0.0.1:{api.server.port}/graphql"


async def gql(api: Client, query: str, variables: dict | None = None, *, master: bool = False,
              token: str | None = None, headers: dict | None = None, app_id: str | None = APP_ID,
              operation: str | None = None) -> Reply:
    sent: dict[str, str] = {"Content-Type": "application/json"}
    if app_id is not None:
        sent["X-Parse-Application-Id"] = app_id
    if master:
        sent["X-Parse-Master-Key"] = MASTER_KEY
    if token:
        sent["X-Parse-Session-Token"] = token
    sent.update(headers or {})
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation is not None:
        body["operationName"] = operation
    async with api.session.post(graphql_url(api), data=orjson.dumps(body), headers=sent) as resp:
        raw = await resp.read()
        return Reply(resp.status, orjson.loads(raw) if raw else None, resp.headers)


async def sample_classes(api: Client) -> None:
    for schema in (SUPPLIER, ITEM):
        reply = await api.post(f"/schemas/{schema['className']}", schema, master=True)
        assert reply.status == 200, reply.body


def reference_sdl() -> str:
    return REFERENCE_COPY.read_text()
