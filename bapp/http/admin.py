"""Master-key routes Parse Dashboard reads: ``/scriptlog`` (the logs API),
``/push_audiences`` (saved push audiences in ``_Audience``) and
``/cloud_code/jobs`` (job schedules in ``_JobSchedule``), plus two bapp
additions for consoles: ``/cloud_code/functions`` (the loaded cloud code)
and ``/users/me/roles`` (the caller's roles)."""

from __future__ import annotations

from typing import Any

import orjson

from bapp import errors
from bapp.errors import ParseError
from bapp.http import classes
from bapp.http.router import ApiRequest, ApiResponse, Router
from bapp.model import types
from bapp.model.query import parse_options


async def script_log(req: ApiRequest) -> ApiResponse:
    req.require_master()
    return ApiResponse(req.engine.logs.query(req.query))


# ------------------------------------------------------------------ push audiences

def _decode_audience(obj: dict) -> dict:
    # Stored as a JSON string (as Parse Server stores it), answered decoded.
    if isinstance(obj.get("query"), str):
        try:
            obj["query"] = orjson.loads(obj["query"])
        except orjson.JSONDecodeError:
            pass
    return obj


async def find_audiences(req: ApiRequest) -> ApiResponse:
    req.require_master()
    found = await req.engine.find("_Audience", parse_options(req.options()), req.auth)
    found["results"] = [_decode_audience(o) for o in found["results"]]
    return ApiResponse(found)


async def get_audience(req: ApiRequest) -> ApiResponse:
    req.require_master()
    obj = await req.engine.get("_Audience", req.params["objectId"], parse_options(req.options(), single=True),
                               req.auth)
    return ApiResponse(_decode_audience(obj))


async def create_audience(req: ApiRequest) -> ApiResponse:
    req.require_master("perform this operation")
    return await classes.create_object(req, "_Audience")


async def update_audience(req: ApiRequest) -> ApiResponse:
    req.require_master("perform this operation")
    return await classes.update_object(req, "_Audience", req.params["objectId"])


async def delete_audience(req: ApiRequest) -> ApiResponse:
    req.require_master("perform this operation")
    return await classes.delete_object(req, "_Audience", req.params["objectId"])


# ------------------------------------------------------------------ job schedules

async def list_schedules(req: ApiRequest) -> ApiResponse:
    req.require_master()
    found = await req.engine.find("_JobSchedule", parse_options({}), req.auth)
    return ApiResponse(found["results"])


async def jobs_data(req: ApiRequest) -> ApiResponse:
    req.require_master()
    found = await req.engine.find("_JobSchedule", parse_options({}), req.auth)
    return ApiResponse({"in_use": [job.get("jobName") for job in found["results"]],
                        "jobs": sorted(req.engine.triggers.jobs)})


class _NotDeployed(ParseError):
    """Parse Server's code 1 for an unknown job, answered with 400 instead of
    its 500: the client named a job that does not exist (a deliberate
    deviation; a 5xx would make clients retry)."""

    @property
    def status(self) -> int:
        return 400


def _schedule(req: ApiRequest) -> dict[str, Any]:
    body = req.body if isinstance(req.body, dict) else {}
    schedule = body.get("job_schedule")
    if not isinstance(schedule, dict):
        raise ParseError(errors.INVALID_JSON, "job_schedule must be an object")
    name = schedule.get("jobName")
    if name is not None and req.engine.triggers.job(name) is None:
        raise _NotDeployed(errors.INTERNAL_SERVER_ERROR, "Cannot Schedule a job that is not deployed")
    schedule = dict(schedule)
    schedule.setdefault("startAfter", types.iso(types.now()))
    return schedule


async def create_schedule(req: ApiRequest) -> ApiResponse:
    # Stored for clients that manage schedules; bapp, like Parse Server, does
    # not run scheduled jobs itself.
    req.require_master("perform this operation")
    created = await req.engine.create("_JobSchedule", _schedule(req), req.auth)
    return ApiResponse(created, 201)


async def update_schedule(req: ApiRequest) -> ApiResponse:
    req.require_master("perform this operation")
    return ApiResponse(await req.engine.update("_JobSchedule", req.params["objectId"], _schedule(req), req.auth))


async def delete_schedule(req: ApiRequest) -> ApiResponse:
    req.require_master("perform this operation")
    return ApiResponse(await req.engine.delete("_JobSchedule", req.params["objectId"], req.auth))


async def list_functions(req: ApiRequest) -> ApiResponse:
    """bapp's addition: the cloud functions and jobs the server can run
    (webhook functions included), for consoles."""
    req.require_master()
    registry = req.engine.triggers
    names = sorted(set(registry.functions) | set(registry.web_functions))
    functions = [{"name": n, "webhook": n in registry.web_functions} for n in names]
    triggers = sorted({f"{kind}:{name}" for kind, name in registry.triggers} |
                      {f"{kind}:{name}" for kind, name in registry.web_triggers})
    return ApiResponse({"functions": functions, "jobs": sorted(registry.jobs), "triggers": triggers})


async def my_roles(req: ApiRequest) -> ApiResponse:
    """bapp's addition: the names of the caller's roles, inherited ones
    included, as the server resolves them for permissions (role objects are
    often readable by the master key only). Consoles use it to admit
    members of an admin role."""
    if not req.auth.user:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
    roles = await req.engine.auth.roles_of(req.auth)
    return ApiResponse({"results": sorted(r.removeprefix("role:") for r in roles)})


def register(router: Router) -> None:
    router.add("GET", "/users/me/roles", my_roles)
    router.add("GET", "/scriptlog", script_log)
    router.add("GET", "/push_audiences", find_audiences)
    router.add("POST", "/push_audiences", create_audience)
    router.add("GET", "/push_audiences/{objectId}", get_audience)
    router.add("PUT", "/push_audiences/{objectId}", update_audience)
    router.add("DELETE", "/push_audiences/{objectId}", delete_audience)
    router.add("GET", "/cloud_code/jobs", list_schedules)
    router.add("GET", "/cloud_code/jobs/data", jobs_data)
    router.add("POST", "/cloud_code/jobs", create_schedule)
    router.add("PUT", "/cloud_code/jobs/{objectId}", update_schedule)
    router.add("DELETE", "/cloud_code/jobs/{objectId}", delete_schedule)
    router.add("GET", "/cloud_code/functions", list_functions)
