"""``POST /functions/:name`` and ``POST /jobs[/:name]``: cloud functions and
background jobs.

Params are the JSON body merged with the URL query (the query wins, as in
Parse Server), without the JS SDK's envelope keys. Function and job names
are only ever looked up as dict keys."""

from __future__ import annotations

from typing import Any

from bapp.cloud import runtime as cloud_runtime
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


async def run_function(req: ApiRequest) -> ApiResponse:
    result = await cloud_runtime.call_function(req.engine, req.params["name"], call_params(req), req.auth)
    return ApiResponse(cloud_runtime.function_response(result))


async def jobs_data(req: ApiRequest) -> ApiResponse:
    """``GET /cloud_code/jobs/data`` (the SDK's ``Parse.Cloud.getJobsData``):
    the defined job names and those a ``_JobSchedule`` entry uses."""
    req.require_master()
    return ApiResponse(await cloud_runtime.jobs_data(req.engine))


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
    router.add("GET", "/cloud_code/jobs/data", jobs_data)
    router.add("POST", "/jobs/{name}", start_named_job)
    router.add("POST", "/jobs", start_job)
