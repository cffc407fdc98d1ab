"""``POST /batch``: sub-requests replayed in-process with the outer auth.

Sub-requests run concurrently, as in Parse Server, but bounded so one batch
cannot monopolise the database pool."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from urllib.parse import urlsplit

from bapp import errors
from bapp.errors import HTTPError, ParseError
from bapp.http.app import DISPATCHER_KEY
from bapp.http.router import ApiRequest, ApiResponse, Router

CONCURRENCY = 16


def _prefixes(req: ApiRequest) -> list[str]:
    settings = req.settings
    out = [settings.mount_path.rstrip("/")]
    for url in (settings.server_url, settings.public_server_url, req.mount_url):
        if url:
            out.append(urlsplit(url).path.rstrip("/"))
    return sorted(set(out), key=len, reverse=True)


def _route_path(req: ApiRequest, path: object) -> str:
    if not isinstance(path, str):
        raise ParseError(errors.INVALID_JSON, "batch request path must be a string")
    for prefix in _prefixes(req):
        if path.startswith(prefix + "/"):
            return path[len(prefix):]
    raise ParseError(errors.INVALID_JSON, f"cannot route batch path {path}")


async def batch(req: ApiRequest) -> ApiResponse:
    if req.in_batch:
        raise ParseError(errors.INVALID_JSON, "Nested batch requests are not allowed.")
    requests = req.body.get("requests") if isinstance(req.body, dict) else None
    if not isinstance(requests, list):
        raise ParseError(errors.INVALID_JSON, "requests must be an array")
    limit = req.settings.limits.batch_size
    if limit and len(requests) > limit:
        raise ParseError(errors.INVALID_JSON,
                         f"Batch request contains {len(requests)} sub-requests, which exceeds the limit of {limit}.")
    dispatcher = req.raw.app[DISPATCHER_KEY]
    subs = []
    for item in requests:
        if not isinstance(item, dict):
            raise ParseError(errors.INVALID_JSON, "batch request must be an object")
        method = item.get("method")
        if not isinstance(method, str):
            raise ParseError(errors.INVALID_JSON, "batch request method must be a string")
        path = _route_path(req, item.get("path"))
        if path.rstrip("/") == "/batch":
            raise ParseError(errors.INVALID_JSON, "Nested batch requests are not allowed.")
        method = method.upper()
        if dispatcher.router.resolve(method, path) is None:
            raise ParseError(errors.INVALID_JSON, f"cannot route {method} {path}")
        body = item.get("body")
        subs.append(replace(req, method=method, path=path, params={}, query={},
                            body=body if body is not None else {}, in_batch=True))
    gate = asyncio.Semaphore(CONCURRENCY)
    sanitize = req.settings.sanitized_errors

    async def run(sub: ApiRequest) -> dict:
        async with gate:
            try:
                result = await dispatcher.run(sub)
            except ParseError as exc:
                return {"error": exc.to_json(sanitize)}
            except HTTPError as exc:
                return {"error": {"code": errors.OPERATION_FORBIDDEN, "error": errors.client_message(exc, sanitize)}}
            return {"success": result.body}

    return ApiResponse(list(await asyncio.gather(*(run(s) for s in subs))))


def register(router: Router) -> None:
    router.add("POST", "/batch", batch)
