"""LiveQuery: realtime query events over websockets, speaking Parse Server's
LiveQuery protocol on the REST port and mount path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bapp.livequery.hub import Hub, InProcessHub
from bapp.livequery.server import LiveQueryServer

if TYPE_CHECKING:
    from bapp.core.engine import Engine

__all__ = ["Hub", "InProcessHub", "LiveQueryServer", "install"]

LIVEQUERY_KEY = web.AppKey("livequery", LiveQueryServer)


def install(engine: Engine, hub: Hub | None = None) -> LiveQueryServer:
    """Sets ``engine.hub`` and returns the server whose ``handle`` is the
    websocket endpoint; call ``attach_to(app, server)`` once the app exists."""
    hub = hub or InProcessHub(engine.settings.live_query_classes)
    engine.hub = hub
    return LiveQueryServer(engine, hub)


def attach_to(app: web.Application, server: LiveQueryServer) -> None:
    """Closes the sockets on shutdown and stops the hub on cleanup; also
    accepts the upgrade at ``/`` (Parse Server accepts any path)."""
    app[LIVEQUERY_KEY] = server

    async def close_sockets(_: web.Application) -> None:
        await server.shutdown()

    async def stop_hub(_: web.Application) -> None:
        await server.hub.close()

    app.on_shutdown.append(close_sockets)
    app.on_cleanup.append(stop_hub)
    if server.engine.settings.mount_path.rstrip("/"):
        app.router.add_get("/", root_handler(server))


def root_handler(server: LiveQueryServer):
    """``ws://host:port/`` (what Parse's docs show) reaches the same endpoint;
    a plain GET of ``/`` stays a 404."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPNotFound()
        return await server.handle(request)

    return handler
