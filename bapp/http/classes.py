"""``/classes/:className[/:objectId]`` and the aliases ``/roles``,
``/installations`` (``/users`` and ``/sessions`` add their own routes)."""

from __future__ import annotations

from bapp.core import read
from bapp.http.router import ApiRequest, ApiResponse, Router
from bapp.model.query import parse_options

ALIASES = {"roles": "_Role", "installations": "_Installation"}


def location(req: ApiRequest, class_name: str, object_id: str) -> str:
    if class_name == "_User":
        return f"{req.mount_url}/users/{object_id}"
    return f"{req.mount_url}/classes/{class_name}/{object_id}"


async def find_objects(req: ApiRequest, class_name: str) -> ApiResponse:
    opts = parse_options(req.options())
    return ApiResponse(await req.engine.find(class_name, opts, req.auth))


async def get_object(req: ApiRequest, class_name: str, object_id: str) -> ApiResponse:
    opts = parse_options(req.options(), single=True)
    row = await req.engine.get(class_name, object_id, opts, req.auth)
    return ApiResponse(read.self_session_token(class_name, row, req.auth))


async def create_object(req: ApiRequest, class_name: str) -> ApiResponse:
    body = await req.engine.create(class_name, req.body, req.auth)
    if "objectId" not in body:  # an installation save that became an update
        return ApiResponse(body)
    return ApiResponse(body, 201, {"Location": location(req, class_name, body["objectId"])})


async def update_object(req: ApiRequest, class_name: str, object_id: str) -> ApiResponse:
    return ApiResponse(await req.engine.update(class_name, object_id, req.body, req.auth))


async def delete_object(req: ApiRequest, class_name: str, object_id: str) -> ApiResponse:
    return ApiResponse(await req.engine.delete(class_name, object_id, req.auth))


def register_class_routes(router: Router, prefix: str, class_name: str | None) -> None:
    """CRUD routes for one prefix; ``class_name`` None reads it from the path."""

    def name_of(req: ApiRequest) -> str:
        return class_name or req.params["className"]

    base = prefix if class_name else prefix + "/{className}"

    async def find(req: ApiRequest) -> ApiResponse:
        return await find_objects(req, name_of(req))

    async def create(req: ApiRequest) -> ApiResponse:
        return await create_object(req, name_of(req))

    async def get(req: ApiRequest) -> ApiResponse:
        return await get_object(req, name_of(req), req.params["objectId"])

    async def update(req: ApiRequest) -> ApiResponse:
        return await update_object(req, name_of(req), req.params["objectId"])

    async def delete(req: ApiRequest) -> ApiResponse:
        return await delete_object(req, name_of(req), req.params["objectId"])

    router.add("GET", base, find)
    router.add("POST", base, create)
    router.add("GET", base + "/{objectId}", get)
    router.add("PUT", base + "/{objectId}", update)
    router.add("DELETE", base + "/{objectId}", delete)


def register(router: Router) -> None:
    for prefix, class_name in ALIASES.items():
        register_class_routes(router, "/" + prefix, class_name)
    register_class_routes(router, "/classes", None)
