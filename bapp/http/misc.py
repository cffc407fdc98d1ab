"""Small routes: ``/serverInfo``, ``/config``, ``/aggregate``, ``/purge``
and the analytics stubs Parse Server answers with ``{}``."""

from __future__ import annotations

from typing import Any

from bapp import __version__, errors
from bapp.core import aggregate as agg
from bapp.errors import ParseError
from bapp.http.router import ApiRequest, ApiResponse, Router
from bapp.model import ops, types

# The Parse Server release whose REST protocol bapp implements; clients such
# as Parse Dashboard gate features on it. bapp's own version is reported
# separately under "bappVersion".
PARSE_SERVER_VERSION = "9.10.0"
_CONFIG_OPS = frozenset({"Increment", "Add", "AddUnique", "Remove"})


async def server_info(req: ApiRequest) -> ApiResponse:
    req.require_master()
    push = req.engine.push.configured
    features = {
        "globalConfig": {"create": True, "read": True, "update": True, "delete": True},
        "hooks": {"create": True, "read": True, "update": True, "delete": True},
        "cloudCode": {"jobs": True},
        "logs": {"level": True, "size": True, "order": True, "until": True, "from": True},
        # Saved audiences work with or without a push adapter.
        "push": {"immediatePush": push, "scheduledPush": False, "storedPushData": push,
                 "pushAudiences": True, "localization": False},
        "schemas": {"addField": True, "removeField": True, "addClass": True, "removeClass": True,
                    "clearAllDataFromClass": True, "exportClass": False, "editClassLevelPermissions": True,
                    "editPointerPermissions": True},
        "settings": {"securityCheck": False},
    }
    return ApiResponse({"features": features, "parseServerVersion": PARSE_SERVER_VERSION,
                        "bappVersion": __version__})


async def get_config(req: ApiRequest) -> ApiResponse:
    doc = await req.engine.storage.get_config()
    params = dict(doc.get("params") or {})
    master_only = dict(doc.get("masterKeyOnly") or {})
    if not req.auth.master:
        params = {k: v for k, v in params.items() if not master_only.get(k)}
        return ApiResponse({"params": params})
    return ApiResponse({"params": params, "masterKeyOnly": master_only})


async def put_config(req: ApiRequest) -> ApiResponse:
    req.require_master("perform this operation")
    body = req.body if isinstance(req.body, dict) else {}
    params = body.get("params", {})
    master_only = body.get("masterKeyOnly", {})
    if not isinstance(params, dict) or not isinstance(master_only, dict):
        raise ParseError(errors.INVALID_JSON, "config params must be an object")
    types.check_keys(params, top=False)
    for key in params:
        if not isinstance(key, str) or not types.FIELD_NAME_RE.match(key):
            raise ParseError(errors.INVALID_KEY_NAME, f"Invalid config key: {key}")
    current = (await req.engine.storage.get_config()).get("params") or {}
    values: dict[str, Any] = {}
    flags: dict[str, bool] = {}
    for key, value in params.items():
        if ops.is_op(value) and value["__op"] == "Delete":
            values[key] = value  # the store drops the parameter and its masterKeyOnly entry
            continue
        if ops.is_op(value):  # Parse Dashboard adds to and removes from array parameters
            if value["__op"] not in _CONFIG_OPS:
                raise ParseError(errors.INVALID_JSON, f"{value['__op']} cannot change a config parameter")
            value = ops.apply(current.get(key), ops.validate_op(key, value))
        values[key] = value
        # As Parse Server: every parameter written gets its flag, false unless sent as true.
        flags[key] = master_only.get(key) is True
    await req.engine.storage.update_config(values, flags)
    return ApiResponse({"result": True})


async def aggregate(req: ApiRequest) -> ApiResponse:
    req.require_master()
    class_name = types.check_class_name(req.params["className"])
    options: dict[str, Any] = req.options()
    return ApiResponse({"results": await agg.run(req.engine, class_name, options)})


async def purge(req: ApiRequest) -> ApiResponse:
    req.require_master("perform this operation")
    class_name = types.check_class_name(req.params["className"])
    schema = await req.engine.schemas.get(class_name)
    if schema is not None:
        await req.engine.storage.delete_many(class_name, schema.fields, {})
        if class_name == "_Session":
            req.engine.auth.forget_session()
        elif class_name == "_Role":
            req.engine.auth.forget_roles()
    return ApiResponse({})


async def push(req: ApiRequest) -> ApiResponse:
    req.require_master("send push notifications")
    if not req.engine.push.configured:
        # Parse Server's answer when no push adapter is configured.
        raise ParseError(errors.PUSH_MISCONFIGURED, "Missing push configuration")
    body = dict(req.body) if isinstance(req.body, dict) else {}
    status_id = await req.engine.push.send(body)
    return ApiResponse({"result": True}, headers={"X-Parse-Push-Status-Id": status_id})


async def analytics(req: ApiRequest) -> ApiResponse:
    return ApiResponse({})


def register(router: Router) -> None:
    router.add("GET", "/serverInfo", server_info)
    router.add("GET", "/config", get_config)
    router.add("PUT", "/config", put_config)
    router.add("GET", "/aggregate/{className}", aggregate)
    router.add("POST", "/aggregate/{className}", aggregate)
    router.add("DELETE", "/purge/{className}", purge)
    router.add("POST", "/events/{name}", analytics)
    router.add("POST", "/push", push)
