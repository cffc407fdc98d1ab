"""The GraphiQL playground: ``GET <graphql_path>`` from a browser, assets
served from the package (``bapp/graphql/assets``, vendored from npm with
their licences), never from a CDN.

Parse Server's playground embeds the master key in the page; bapp's page
carries only the application id (a deliberate safer deviation): a caller
adds ``X-Parse-Master-Key`` or ``X-Parse-Session-Token`` in GraphiQL's
headers editor."""

from __future__ import annotations

import html
from importlib import resources

import orjson
from aiohttp import web

ASSETS = resources.files("bapp.graphql").joinpath("assets")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}
FILES = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css")

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>API playground · {title}</title>
<link rel="stylesheet" href="{base}/playground/graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading the playground…</div>
<script src="{base}/playground/react.production.min.js"></script>
<script src="{base}/playground/react-dom.production.min.js"></script>
<script src="{base}/playground/graphiql.min.js"></script>
<script>
  const endpoint = {endpoint};
  const headers = {headers};
  const fetcher = GraphiQL.createFetcher({{ url: endpoint, headers }});
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {{
      fetcher,
      defaultHeaders: JSON.stringify(headers, null, 2),
      shouldPersistHeaders: false,
    }})
  );
</script>
</body>
</html>
"""


def page(path: str, app_id: str) -> web.Response:
    base = path.rstrip("/")
    # JSON inside a <script>: "</" must not end the element.
    endpoint = orjson.dumps(base).decode().replace("</", "<\\/")
    headers = orjson.dumps({"X-Parse-Application-Id": app_id}).decode().replace("</", "<\\/")
    text = _PAGE.format(title=html.escape(app_id), base=html.escape(base), endpoint=endpoint, headers=headers)
    return web.Response(text=text, content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                 "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:",
                                 "X-Content-Type-Options": "nosniff"})


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in FILES and not name.endswith("LICENSE.txt"):
        raise web.HTTPNotFound()
    target = ASSETS.joinpath(name)
    if not target.is_file():
        raise web.HTTPNotFound()
    suffix = name[name.rfind("."):]
    return web.Response(body=target.read_bytes(), content_type=_TYPES.get(suffix, "application/octet-stream"),
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


def register(app: web.Application, path: str) -> None:
    app.router.add_get(path.rstrip("/") + "/playground/{name}", asset)
