"""The aiohttp application: CORS, the error mapping, the API dispatcher and
the websocket endpoint, all under the mount path on one port."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bapp import errors
from bapp.core.engine import Engine
from bapp.errors import HTTPError, ParseError
from bapp.http import envelope
from bapp.http.router import ApiRequest, ApiResponse, Router

log = logging.getLogger("bapp.http")

ENGINE_KEY = web.AppKey("engine", Engine)
ROUTER_KEY = web.AppKey("router", Router)

CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET,PUT,POST,DELETE,OPTIONS",
    "Access-Control-Allow-Headers": (
        "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
        "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
        "X-Parse-Request-Id, Content-Type, Pragma, Cache-Control, X-Parse-Installation-Id, "
        "X-Parse-Client-Key, X-Parse-Cloud-Context, Range"
    ),
    "Access-Control-Expose-Headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id",
}

WebsocketHandler = Callable[[web.Request, Engine], Awaitable[web.StreamResponse]]


@web.middleware
async def cors_and_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """CORS on every answer, and every failure as a Parse error body."""
    engine = request.app[ENGINE_KEY]
    origin = engine.settings.allow_origin or "*"
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=200)
    else:
        try:
            response = await handler(request)
        except (ParseError, HTTPError) as exc:
            response = envelope.error_response(exc, engine.settings.sanitized_errors)
        except web.HTTPRequestEntityTooLarge:
            response = envelope.json_response(
                {"code": errors.OBJECT_TOO_LARGE, "error": "Request body is too large."}, 413)
        except web.HTTPException as exc:
            if exc.status == 404:
                response = envelope.json_response({"code": errors.INVALID_JSON, "error": "Not found."}, 404)
            else:
                raise
        except Exception:  # a bug: logged, never shown to the client
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = envelope.error_response(RuntimeError())
    if not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.update(CORS_HEADERS)
    return response


class Dispatcher:
    """Turns an aiohttp request into an ApiRequest and runs the route."""

    def __init__(self, engine: Engine, router: Router, websocket: WebsocketHandler | None) -> None:
        self.engine = engine
        self.router = router
        self.websocket = websocket
        self.mount = engine.settings.mount_path.rstrip("/")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path[len(self.mount):] or "/"
        if path in ("/", "") and self.websocket and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.websocket(request, self.engine)
        if path.rstrip("/") == "/health":
            return envelope.json_response({"status": "ok"})
        method = request.method
        raw = await request.read() if request.can_read_body else b""
        body = envelope.parse_json_body(raw) if raw else None
        if method == "POST" and isinstance(body, dict) and "_method" in body:
            override = body.pop("_method")
            if isinstance(override, str):
                method = override.upper()
        creds, body = envelope.read_credentials(request, body)
        auth = await envelope.authenticate(self.engine, creds, request, path, method)
        request_id = request.headers.get("X-Parse-Request-Id")
        if request_id and self.engine.idempotency.enabled and self.router.resolve(method, path) is not None \
                and self.engine.idempotency.covers(method, path):
            await self.engine.idempotency.claim(request_id)
        api = ApiRequest(
            method=method, path=path, engine=self.engine, auth=auth,
            query=envelope.parse_query_string(request), body=body if body is not None else {},
            headers=dict(request.headers), mount_url=self.mount_url(request), raw=request,
        )
        api.headers["_content_type"] = creds.content_type or request.content_type
        result = await self.run(api)
        if result.raw is not None:
            return result.raw
        return envelope.json_response(result.body, result.status, result.headers)

    def mount_url(self, request: web.Request) -> str:
        settings = self.engine.settings
        if settings.server_url:
            return settings.server_url.rstrip("/")
        return f"{request.scheme}://{request.host}{self.mount}"

    async def run(self, api: ApiRequest) -> ApiResponse:
        found = self.router.resolve(api.method, api.path)
        if found is None:
            raise ParseError(errors.INVALID_JSON, f"cannot route {api.method} {api.path}") if api.in_batch else \
                HTTPError(404, f"Cannot {api.method} {self.mount}{api.path}")
        handler, params = found
        api.params = params
        return await handler(api)


DISPATCHER_KEY = web.AppKey("dispatcher", Dispatcher)


def create_app(engine: Engine, router: Router, websocket: WebsocketHandler | None = None,
               extra_routes: Callable[[web.Application, str], None] | None = None) -> web.Application:
    app = web.Application(middlewares=[cors_and_errors], client_max_size=engine.settings.body_limit)
    app[ENGINE_KEY] = engine
    app[ROUTER_KEY] = router
    dispatcher = Dispatcher(engine, router, websocket)
    app[DISPATCHER_KEY] = dispatcher
    mount = engine.settings.mount_path.rstrip("/")
    if extra_routes:
        extra_routes(app, mount)
    app.router.add_route("*", mount or "/", dispatcher.handle)
    app.router.add_route("*", mount + "/{tail:.*}", dispatcher.handle)

    async def on_startup(_: web.Application) -> None:
        await engine.start()

    async def on_cleanup(_: web.Application) -> None:
        await engine.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
