"""``POST /batch``: sub-requests replayed in-process with the outer auth.

Sub-requests run concurrently, as in Parse Server, but bounded so one batch
cannot monopolise the database pool."""

from __future__ import annotations

import asyncio
import posixpath
from dataclasses import replace
from urllib.parse import urlsplit

from bapp import errors
from bapp.errors import HTTPError, ParseError
from bapp.http.app import DISPATCHER_KEY
from bapp.http.router import ApiRequest, ApiResponse, Router
from bapp.model.query import js_string

CONCURRENCY = 16


def _prefixes(req: ApiRequest) -> list[str]:
    settings = req.settings
    out = [settings.mount_path.rstrip("/")]
    for url in (settings.server_url, settings.public_server_url, req.mount_url):
        if url:
            out.append(urlsplit(url).path.rstrip("/"))
    return sorted(set(out), key=len, reverse=True)


def _route_path(req: ApiRequest, path: str) -> str:
    for prefix in _prefixes(req):
        if path.startswith(prefix + "/"):
            return _normalize(path[len(prefix):])
    raise ParseError(errors.INVALID_JSON, f"cannot route batch path {path}")


def _normalize(path: str) -> str:
    """The path as Parse Server joins it (``path.posix.join('/', rest)``):
    ``.`` and ``..`` segments and repeated slashes resolved, a trailing
    slash kept."""
    joined = posixpath.normpath("/" + path)
    if joined.startswith("//"):
        joined = "/" + joined.lstrip("/")
    return joined + "/" if path.endswith("/") and joined != "/" else joined


async def batch(req: ApiRequest) -> ApiResponse:
    if req.in_batch:
        raise ParseError(errors.INVALID_JSON, "nested batch requests are not allowed")
    requests = req.body.get("requests") if isinstance(req.body, dict) else None
    if not isinstance(requests, list):
        raise ParseError(errors.INVALID_JSON, "requests must be an array")
    limit = req.settings.limits.batch_size
    if limit and len(requests) > limit:
        raise ParseError(errors.INVALID_JSON,
                         f"Batch request contains {len(requests)} sub-requests, which exceeds the limit of {limit}.")
    dispatcher = req.raw.app[DISPATCHER_KEY]
    # Parse Server's checks, in its order and with its messages; unlike
    # Parse Server, every sub-request is checked before any runs, so a bad
    # one never leaves the ones before it half-applied.
    for item in requests:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ParseError(errors.INVALID_JSON, "batch request path must be a string")
    subs = []
    for item in requests:
        path = _route_path(req, item["path"])
        method = item.get("method")
        if isinstance(method, str) and method.upper() == "POST" and path.rstrip("/") == "/batch":
            raise ParseError(errors.INVALID_JSON, "nested batch requests are not allowed")
        # A lower-case method is routed (Parse Server matches case-sensitively).
        method = method.upper() if isinstance(method, str) else method
        if not isinstance(method, str) or dispatcher.router.resolve(method, path) is None:
            shown = js_string(method) if "method" in item else "undefined"  # JavaScript's String(undefined)
            raise ParseError(errors.INVALID_JSON, f"cannot route {shown} {path}")
        body = item.get("body")
        subs.append(replace(req, method=method, path=path, params={}, query={},
                            body=body if body is not None else {}, in_batch=True))
    transaction = getattr(req.engine.storage, "transaction", None)
    if isinstance(req.body, dict) and req.body.get("transaction") is True and transaction is not None:
        return ApiResponse(await _in_transaction(dispatcher, subs, transaction))
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


async def _in_transaction(dispatcher, subs: list[ApiRequest], transaction) -> list[dict]:
    """``transaction: true`` on a store with transactions: the sub-requests
    run one after the other in one database transaction; the first error
    rolls everything back and is the answer (as Parse Server does)."""
    results = []
    try:
        async with transaction():
            for sub in subs:
                results.append({"success": (await dispatcher.run(sub)).body})
    except HTTPError as exc:
        raise ParseError(errors.OPERATION_FORBIDDEN, exc.message) from None
    return results


def register(router: Router) -> None:
    router.add("POST", "/batch", batch)
