"""``/schemas`` and ``/schemas/:className``: the schema API, master key only.

The checks Parse Server's router makes before its schema controller runs
(master key, read-only key, class name in path vs body) are here; the rest
is ``bapp.core.schema_api``."""

from __future__ import annotations

from typing import Any

from bapp import errors
from bapp.core import schema_api, schema_defined
from bapp.errors import ParseError
from bapp.http.router import ApiRequest, ApiResponse, Router


def _body(req: ApiRequest) -> dict:
    return req.body if isinstance(req.body, dict) else {}


def _name_mismatch(body_name: Any, path_name: str) -> ParseError:
    return ParseError(errors.INVALID_CLASS_NAME,
                      f"Class name mismatch between {schema_api.js_text(body_name)} and {path_name}.")


def _refuse_when_locked(req: ApiRequest) -> None:
    """``schema.lockSchemas``: defined schemas are the only way to change them."""
    req.require_master()
    options = req.settings.schema_options
    if options and options.get("lockSchemas"):
        raise ParseError(errors.OPERATION_FORBIDDEN, schema_defined.LOCKED_MESSAGE)


async def list_schemas(req: ApiRequest) -> ApiResponse:
    req.require_master()
    return ApiResponse(await schema_api.all_schemas(req.engine))


async def get_schema(req: ApiRequest) -> ApiResponse:
    req.require_master()
    return ApiResponse(await schema_api.get_schema(req.engine, req.params["className"]))


async def create_schema(req: ApiRequest) -> ApiResponse:
    _refuse_when_locked(req)
    req.require_master("create a schema")
    body = _body(req)
    path_name = req.params.get("className")
    body_name = body.get("className")
    if path_name and body_name and path_name != body_name:
        raise _name_mismatch(body_name, path_name)
    class_name = path_name or body_name
    if not class_name:
        raise ParseError(schema_api.MISSING_REQUIRED_FIELD, f"POST {req.path} needs a class name.")
    return ApiResponse(await schema_api.create_schema(req.engine, class_name, body))


async def update_schema(req: ApiRequest) -> ApiResponse:
    _refuse_when_locked(req)
    req.require_master("update a schema")
    body = _body(req)
    class_name = req.params["className"]
    if body.get("className") and body["className"] != class_name:
        raise _name_mismatch(body["className"], class_name)
    return ApiResponse(await schema_api.update_schema(req.engine, class_name, body))


async def delete_schema(req: ApiRequest) -> ApiResponse:
    req.require_master("delete a schema")
    return ApiResponse(await schema_api.delete_schema(req.engine, req.params["className"]))


def register(router: Router) -> None:
    router.add("GET", "/schemas", list_schemas)
    router.add("POST", "/schemas", create_schema)
    router.add("GET", "/schemas/{className}", get_schema)
    router.add("POST", "/schemas/{className}", create_schema)
    router.add("PUT", "/schemas/{className}", update_schema)
    router.add("DELETE", "/schemas/{className}", delete_schema)
