"""``POST /functions/:name`` and ``POST /jobs[/:name]``: cloud functions and
background jobs.

Params are the JSON body merged with the URL query (the query wins, as in
Parse Server), without the JS SDK's envelope keys. Function and job names
are only ever looked up as dict keys."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from bapp.cloud import runtime as cloud_runtime
from bapp.errors import ParseError
from bapp.http.router import ApiRequest, ApiResponse, Router

_RESERVED = frozenset({
    "_ApplicationId", "_JavaScriptKey", "_ClientKey", "_RESTAPIKey", "_MasterKey", "_SessionToken",
    "_InstallationId", "_ClientVersion", "_context", "_ContentType", "_RevocableSession", "_noBody",
    "_method",
})


def _query_strings(req: ApiRequest) -> dict[str, Any]:
    """URL parameters as Parse Server's cloud routes see them: strings (a
    repeated key gives a list), not JSON-decoded."""
    if req.in_batch or req.raw is None:
        return dict(req.query)
    out: dict[str, Any] = {}
    for key in req.raw.query:
        if key in out:
            continue
        values = req.raw.query.getall(key)
        out[key] = values[0] if len(values) == 1 else list(values)
    return out


def call_params(req: ApiRequest) -> dict[str, Any]:
    body = req.body if isinstance(req.body, dict) else {}
    params = {**body, **_query_strings(req)}
    return {k: v for k, v in params.items() if k not in _RESERVED}


log = logging.getLogger("bapp.cloud")


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("********" if k == "password" else _masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _json(value: Any) -> str:
    return orjson.dumps(_masked(value), default=str).decode()


async def run_function(req: ApiRequest) -> ApiResponse:
    name = req.params["name"]
    params = call_params(req)
    user = (req.auth.user or {}).get("objectId")
    try:
        result = await cloud_runtime.call_function(req.engine, name, params, req.auth)
        response = cloud_runtime.function_response(result)
    except ParseError as exc:
        # The lines Parse Server logs for every call (its Logs page shows them).
        log.error("Failed running cloud function %s for user %s with:\n  Input: %s\n  Error: %s",
                  name, user, _json(params), _json({"code": exc.code, "message": exc.message}))
        raise
    log.info("Ran cloud function %s for user %s with:\n  Input: %s\n  Result: %s",
             name, user, _json(params), _json(response.get("result")))
    return ApiResponse(response)


async def _start_job(req: ApiRequest, name: Any) -> ApiResponse:
    # Deliberately stricter than Parse Server: a job can write, so the
    # read-only master key may not start one.
    req.require_master("perform this operation")
    job_id = await cloud_runtime.start_job(req.engine, name, call_params(req), req.auth)
    return ApiResponse({}, 200, {"X-Parse-Job-Status-Id": job_id})


async def start_named_job(req: ApiRequest) -> ApiResponse:
    return await _start_job(req, req.params["name"])


async def start_job(req: ApiRequest) -> ApiResponse:
    body = req.body if isinstance(req.body, dict) else {}
    return await _start_job(req, body.get("jobName"))


def register(router: Router) -> None:
    # A name with slashes (``/functions/a/../b``) is looked up whole, so it
    # is an unknown function (141) as in Parse Server, never another route.
    router.add("POST", "/functions/{name:path}", run_function)
    router.add("POST", "/jobs/{name}", start_named_job)
    router.add("POST", "/jobs", start_job)
