"""``POST <graphql_path>`` (``/graphql`` at the origin by default, Parse
Server's ``graphQLPath``): the GraphQL API with Parse Server's HTTP
contract (the same ``X-Parse-*`` headers as REST, JSON or multipart
bodies), ``GET`` queries, and the GraphiQL playground for a browser."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from bapp import errors
from bapp.errors import ParseError
from bapp.graphql import playground
from bapp.graphql.context import Context
from bapp.graphql.execute import Answer, bad_request, run
from bapp.graphql.limits import GraphQLLimits
from bapp.graphql.scalars import Upload
from bapp.graphql.schema import SchemaCache
from bapp.http import envelope
from bapp.http.app import DISPATCHER_KEY, ENGINE_KEY
from bapp.http.router import ApiRequest

CACHE_KEY = web.AppKey("graphql_schema", SchemaCache)


def _wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "query" not in request.query


async def _multipart_body(request: web.Request, max_size: int) -> Any:
    """The GraphQL multipart request spec: ``operations``, ``map``, files."""
    reader = await request.multipart()
    operations: Any = None
    mapping: Any = None
    uploads: dict[str, Upload] = {}
    while (part := await reader.next()) is not None:
        name = part.name or ""
        if name == "operations":
            operations = _json_part(await part.read(decode=False))
        elif name == "map":
            mapping = _json_part(await part.read(decode=False))
        else:
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > max_size:
                    raise ParseError(errors.FILE_TOO_LARGE, f"File size exceeds maximum allowed: {max_size} bytes.")
            uploads[name] = Upload(part.filename or name, part.headers.get("Content-Type"), bytes(data))
    if not isinstance(operations, dict) or not isinstance(mapping, dict):
        raise ParseError(errors.INVALID_JSON, "Invalid multipart GraphQL request.")
    for key, paths in mapping.items():
        if key not in uploads or not isinstance(paths, list):
            raise ParseError(errors.INVALID_JSON, "Invalid multipart GraphQL request.")
        for path in paths:
            _place(operations, path, uploads[key])
    return operations


def _json_part(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ParseError(errors.INVALID_JSON, "Invalid multipart GraphQL request.") from None


def _place(operations: dict, path: Any, upload: Upload) -> None:
    if not isinstance(path, str):
        raise ParseError(errors.INVALID_JSON, "Invalid multipart GraphQL request.")
    parts = path.split(".")
    holder: Any = operations
    for part in parts[:-1]:
        holder = holder[int(part)] if isinstance(holder, list) else holder.get(part) if isinstance(holder, dict) else None
        if holder is None:
            raise ParseError(errors.INVALID_JSON, "Invalid multipart GraphQL request.")
    last = parts[-1]
    if isinstance(holder, list) and last.isdigit() and int(last) < len(holder):
        holder[int(last)] = upload
    elif isinstance(holder, dict):
        holder[last] = upload
    else:
        raise ParseError(errors.INVALID_JSON, "Invalid multipart GraphQL request.")


def _get_body(request: web.Request) -> dict:
    body: dict[str, Any] = {"query": request.query.get("query")}
    for key in ("variables", "extensions"):
        if key in request.query:
            try:
                body[key] = orjson.loads(request.query[key])
            except orjson.JSONDecodeError:
                raise ParseError(errors.INVALID_JSON, f"`{key}` in the URL query is not valid JSON.") from None
    if "operationName" in request.query:
        body["operationName"] = request.query["operationName"]
    return body


async def handle(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE_KEY]
    settings = engine.settings
    if request.method == "GET" and _wants_html(request):
        if not settings.graphql_playground:
            raise web.HTTPNotFound()
        return playground.page(request.path, settings.app_id)
    if request.method not in ("GET", "POST"):
        return _answer(Answer(405, {"errors": [{"message": "GraphQL only supports GET and POST requests.",
                                                "extensions": {"code": "BAD_REQUEST"}}]}))
    if request.method == "GET":
        body: Any = _get_body(request)
    elif request.content_type.startswith("multipart/"):
        body = await _multipart_body(request, settings.max_upload_size)
    else:
        raw = await request.read()
        body = envelope.parse_json_body(raw) if raw else None
    creds, body = envelope.read_credentials(request, body)
    auth = await envelope.authenticate(engine, creds, request, settings.graphql_path)
    if body is None:
        return _answer(bad_request("POST body missing, invalid Content-Type, or JSON object has no keys."))
    dispatcher = request.app[DISPATCHER_KEY]
    mount_url = dispatcher.mount_url(request)

    async def rest(method: str, path: str, payload: Any) -> Any:
        api = ApiRequest(method=method, path=path, engine=engine, auth=auth, body=payload,
                         headers=dict(request.headers), mount_url=mount_url)
        return (await dispatcher.run(api)).body

    built = await request.app[CACHE_KEY].get(engine)
    ctx = Context(engine=engine, auth=auth, classes=built.classes, mount_url=mount_url, rest=rest)
    limits = GraphQLLimits(settings.limits.graphql_depth, settings.limits.graphql_fields)
    answer = await run(built, ctx, body, limits, allow_mutations=request.method == "POST")
    return _answer(answer)


def _answer(answer: Answer) -> web.Response:
    return envelope.json_response(answer.body, answer.status)


def register(app: web.Application, _mount: str) -> None:
    """Adds the GraphQL route at the configured path (before the catch-all)."""
    engine = app[ENGINE_KEY]
    settings = engine.settings
    if not settings.mount_graphql:
        return
    cache = SchemaCache()
    app[CACHE_KEY] = cache
    path = "/" + settings.graphql_path.strip("/")

    app.router.add_route("*", path, handle)
    playground.register(app, path)
