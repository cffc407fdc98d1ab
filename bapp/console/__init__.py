"""The built-in admin console at ``<mount>/<dashboard_path>``: static ES
modules and CSS shipped in the package, no build step and no CDN.

The console is a client of the REST API like any other: it keeps the
master key (or an admin's session token) in page memory, sends it as a
header on each call, and the server decides every permission. Nothing is
authenticated by cookie, so a cross-site page cannot act through it; the
pages are served with a strict Content-Security-Policy (no inline script or
style, same-origin connections only) and may not be framed."""

from __future__ import annotations

import ipaddress
import mimetypes
from pathlib import Path

import orjson
from aiohttp import web

from bapp import __version__
from bapp.config import Settings

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html",
          ".png": "image/png", ".txt": "text/plain"}


def enabled(settings: Settings) -> bool:
    """On by default only when the server listens on a loopback address."""
    if settings.dashboard is not None:
        return settings.dashboard
    host = (settings.host or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_path(settings: Settings) -> str:
    return settings.mount_path.rstrip("/") + "/" + settings.dashboard_path.strip("/")


def security_headers(request: web.Request, settings: Settings) -> dict[str, str]:
    host = request.host
    connect = f"'self' ws://{host} wss://{host}"
    images = "'self' data: blob:"
    for url in (settings.server_url, settings.public_server_url):
        if url:
            images += " " + url.rstrip("/")
    policy = (f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
              f"connect-src {connect}; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'none'")
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


def _page(request: web.Request, settings: Settings, body: bytes, content_type: str, cache: bool) -> web.Response:
    response = web.Response(body=body, content_type=content_type)
    response.headers.update(security_headers(request, settings))
    response.headers["Cache-Control"] = "no-cache" if cache else "no-store"
    return response


def register(app: web.Application, settings: Settings) -> None:
    """Adds the console's routes (before the API's catch-all route)."""
    if not enabled(settings):
        return
    base = base_path(settings)
    index = (STATIC / "index.html").read_bytes()

    async def page(request: web.Request) -> web.Response:
        if not request.path.endswith("/"):
            raise web.HTTPFound(base + "/")
        return _page(request, settings, index, "text/html", cache=False)

    async def config(request: web.Request) -> web.Response:
        # Only what any client of the app knows already: never a key.
        body = {"appId": settings.app_id, "mountPath": settings.mount_path.rstrip("/") or "/",
                "adminRole": settings.dashboard_role, "graphqlPath": settings.graphql_path,
                "version": __version__}
        return _page(request, settings, orjson.dumps(body), "application/json", cache=False)

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        path = (STATIC / name).resolve()
        if STATIC not in path.parents or not path.is_file() or path.name == "index.html":
            raise web.HTTPNotFound()
        content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return _page(request, settings, path.read_bytes(), content_type, cache=True)

    app.router.add_get(base, page)
    app.router.add_get(base + "/", page)
    app.router.add_get(base + "/config.json", config)
    app.router.add_get(base + "/static/{name:.+}", asset)
