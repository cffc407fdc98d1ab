"""The console's server side: where and when it is served, its security
headers, its static files, and ``GET /users/me/roles``."""

from __future__ import annotations

import re

import aiohttp
import pytest
from conftest import make_settings, start_server

from bapp import console
from bapp.cli import build_parser, settings_from_args


async def fetch(base: str, path: str, **kw) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.get(base + path, allow_redirects=False, **kw) as reply:
            return reply.status, dict(reply.headers), await reply.read()


def origin(api) -> str:
    return f"http://127.0.0.1:{api.server.port}"


async def test_console_page_and_its_headers(api):
    status, headers, body = await fetch(origin(api), "/parse/dashboard/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert f"connect-src 'self' ws://127.0.0.1:{api.server.port}" in policy
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    html = body.decode()
    assert '<script type="module" src="static/app.js"></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    status, headers, _ = await fetch(origin(api), "/parse/dashboard")
    assert (status, headers["Location"]) == (302, "/parse/dashboard/")


async def test_config_json_carries_no_secret(api):
    status, headers, body = await fetch(origin(api), "/parse/dashboard/config.json")
    assert status == 200 and "Content-Security-Policy" in headers
    import orjson

    config = orjson.loads(body)
    assert config == {"appId": "test-app", "mountPath": "/parse", "adminRole": "admin", "graphqlPath": "/graphql",
                      "version": config["version"]}
    assert b"test-master-key" not in body


async def test_static_files_and_traversal(api):
    status, headers, body = await fetch(origin(api), "/parse/dashboard/static/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert headers["Cache-Control"] == "no-cache" and "Content-Security-Policy" in headers
    status, headers, _ = await fetch(origin(api), "/parse/dashboard/static/app.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    for path in ("/parse/dashboard/static/../__init__.py", "/parse/dashboard/static/%2e%2e/__init__.py",
                 "/parse/dashboard/static/..%2f__init__.py", "/parse/dashboard/static/index.html",
                 "/parse/dashboard/static/missing.js"):
        status, _, body = await fetch(origin(api), path)
        # Never a file from outside static/ (a normalised ../ reaches the API: 403).
        assert status in (403, 404), path
        assert b"import" not in body


def test_console_code_keeps_its_invariants():
    """No markup from strings, no eval, no master key in browser storage."""
    for path in sorted(console.STATIC.glob("*.js")):
        text = path.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                       "localStorage.setItem", "style="):
            assert banned not in text, (path.name, banned)
    api_js = (console.STATIC / "api.js").read_text()
    assert "sessionStorage.setItem(TOKEN_KEY, user.sessionToken)" in api_js
    assert api_js.count("sessionStorage.setItem") == 1
    assert "static/" not in (console.STATIC / "app.css").read_text()


@pytest.mark.parametrize(("host", "flag", "expected"), [
    ("127.0.0.1", None, True), ("::1", None, True), ("localhost", None, True), ("0.0.0.0", None, False),
    ("10.1.2.3", None, False), ("0.0.0.0", True, True), ("127.0.0.1", False, False),
])
def test_enabled_only_on_loopback_by_default(host, flag, expected):
    assert console.enabled(make_settings(host=host, dashboard=flag)) is expected


def test_cli_flags():
    args = build_parser().parse_args(["serve", "--no-dashboard", "--dashboard-role", "ops", "--dashboard-path", "ui"])
    settings = settings_from_args(args)
    assert (settings.dashboard, settings.dashboard_role, settings.dashboard_path) == (False, "ops", "ui")
    assert settings_from_args(build_parser().parse_args(["serve", "--dashboard"])).dashboard is True
    assert settings_from_args(build_parser().parse_args(["serve"])).dashboard is None


async def test_disabled_console_is_not_served():
    settings = make_settings(dashboard=False)
    server, session = await start_server(settings)
    try:
        status, _, body = await fetch(f"http://127.0.0.1:{server.port}", "/parse/dashboard/")
        assert status in (403, 404) and b"<html" not in body  # the API answers, not the console
    finally:
        await session.close()
        await server.close()


async def test_custom_path():
    settings = make_settings(dashboard_path="admin-ui", dashboard_role="ops")
    server, session = await start_server(settings)
    try:
        status, _, body = await fetch(f"http://127.0.0.1:{server.port}", "/parse/admin-ui/config.json")
        assert status == 200 and b'"adminRole":"ops"' in body
    finally:
        await session.close()
        await server.close()


async def test_my_roles(api):
    user = await api.signup("ann", "pw")
    assert (await api.get("/users/me/roles")).body == {"code": 209, "error": "Invalid session token"}
    assert (await api.get("/users/me/roles", token=user["sessionToken"])).body == {"results": []}
    ptr = {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
    child = await api.post("/roles", {"name": "ops", "ACL": {},
                                      "users": {"__op": "AddRelation", "objects": [ptr]}}, master=True)
    await api.post("/roles", {"name": "admin", "ACL": {}, "roles": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "_Role", "objectId": child.body["objectId"]}]}}, master=True)
    # Role objects are master-only here, yet the caller learns its own roles.
    assert (await api.get("/roles", token=user["sessionToken"])).body == {"results": []}
    assert (await api.get("/users/me/roles", token=user["sessionToken"])).body == {"results": ["admin", "ops"]}
    assert (await api.get("/users/me/roles", master=True)).status == 400
