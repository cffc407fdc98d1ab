"""``/hooks/functions`` and ``/hooks/triggers``: Parse Server's hooks API
(webhooks), master key only; a PUT of ``{"__op": "Delete"}`` deletes."""

from __future__ import annotations

from bapp import errors
from bapp.core import webhooks
from bapp.errors import ParseError
from bapp.http.router import ApiRequest, ApiResponse, Router


def _body(req: ApiRequest) -> dict:
    return req.body if isinstance(req.body, dict) else {}


def _require(req: ApiRequest, writing: bool = False) -> None:
    # The read-only master key may list hooks but never change them.
    req.require_master("perform this operation" if writing else None)


async def list_functions(req: ApiRequest) -> ApiResponse:
    _require(req)
    return ApiResponse(await webhooks.functions(req.engine))


async def get_function(req: ApiRequest) -> ApiResponse:
    _require(req)
    name = req.params["functionName"]
    found = await webhooks.get_function(req.engine, name)
    if not found:
        raise ParseError(errors.INVALID_IMAGE_DATA, f"no function named: {name} is defined")
    return ApiResponse(found)


async def list_triggers(req: ApiRequest) -> ApiResponse:
    _require(req)
    return ApiResponse(await webhooks.triggers(req.engine))


async def get_trigger(req: ApiRequest) -> ApiResponse:
    _require(req)
    class_name, trigger_name = req.params["className"], req.params["triggerName"]
    found = await webhooks.get_trigger(req.engine, class_name, trigger_name)
    if not found:
        raise ParseError(errors.INVALID_IMAGE_DATA, f"class {class_name} does not exist")
    return ApiResponse(found)


async def create(req: ApiRequest) -> ApiResponse:
    """Either route takes either kind, as in Parse Server."""
    _require(req, writing=True)
    body = _body(req)
    if body.get("functionName"):
        hook = webhooks.function_hook(body["functionName"], body.get("url"))
    elif body.get("className") and body.get("triggerName"):
        hook = webhooks.trigger_hook(body["className"], body["triggerName"], body.get("url"))
    else:
        raise ParseError(errors.INVALID_IMAGE_DATA, webhooks.INVALID)
    return ApiResponse(await webhooks.create(req.engine, hook))


async def put_function(req: ApiRequest) -> ApiResponse:
    _require(req, writing=True)
    body, name = _body(req), req.params["functionName"]
    if body.get("__op") == "Delete":
        await webhooks.delete_function(req.engine, name)
        return ApiResponse({})
    if not body.get("url"):
        raise ParseError(errors.INVALID_IMAGE_DATA, webhooks.INVALID)
    return ApiResponse(await webhooks.update(req.engine, webhooks.function_hook(name, body["url"])))


async def put_trigger(req: ApiRequest) -> ApiResponse:
    _require(req, writing=True)
    body = _body(req)
    class_name, trigger_name = req.params["className"], req.params["triggerName"]
    if body.get("__op") == "Delete":
        await webhooks.delete_trigger(req.engine, class_name, trigger_name)
        return ApiResponse({})
    if not body.get("url"):
        raise ParseError(errors.INVALID_IMAGE_DATA, webhooks.INVALID)
    hook = webhooks.trigger_hook(class_name, trigger_name, body["url"])
    return ApiResponse(await webhooks.update(req.engine, hook))


def register(router: Router) -> None:
    router.add("GET", "/hooks/functions", list_functions)
    router.add("GET", "/hooks/functions/{functionName}", get_function)
    router.add("POST", "/hooks/functions", create)
    router.add("PUT", "/hooks/functions/{functionName}", put_function)
    router.add("GET", "/hooks/triggers", list_triggers)
    router.add("GET", "/hooks/triggers/{className}/{triggerName}", get_trigger)
    router.add("POST", "/hooks/triggers", create)
    router.add("PUT", "/hooks/triggers/{className}/{triggerName}", put_trigger)
