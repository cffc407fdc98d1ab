"""The GraphQL endpoint's HTTP contract: credentials, bad requests,
depth and size limits, errors without internals, GET queries, the
configurable path and the GraphiQL playground."""

from __future__ import annotations

import json

import orjson
import pytest
from conftest import APP_ID, MASTER_KEY, Client, make_settings, start_server
from graphql_support import gql, graphql_url

from bapp.config import apply_parse_config


async def test_credentials_as_rest(api):
    reply = await gql(api, "{ health }", app_id="wrong")
    assert (reply.status, reply.body) == (403, {"error": "unauthorized"})
    reply = await gql(api, "{ health }", app_id=None)
    assert reply.status == 403
    reply = await gql(api, "{ health }")
    assert (reply.status, reply.body) == (200, {"data": {"health": True}})


async def test_bad_requests(api):
    reply = await gql(api, "{ health ")
    assert reply.status == 400
    assert reply.body == {"errors": [{"message": "Syntax Error: Expected Name, found <EOF>.",
                                      "locations": [{"line": 1, "column": 10}],
                                      "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}]}
    reply = await gql(api, "")
    assert reply.status == 400
    assert reply.body["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    reply = await gql(api, "query($id: ID!) { item(id: $id) { objectId } }")
    assert reply.status == 400
    assert reply.body["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    reply = await gql(api, "query($id: ID!) { role(id: $id) { objectId } }")
    assert reply.status == 400
    assert reply.body == {"errors": [{"message": 'Variable "$id" of required type "ID!" was not provided.',
                                      "locations": [{"line": 1, "column": 7}],
                                      "extensions": {"code": "BAD_USER_INPUT"}}]}
    async with api.session.post(graphql_url(api), data=b"{nope", headers={"X-Parse-Application-Id": APP_ID,
                                                                          "Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        assert await resp.json() == {"code": 107, "error": "Invalid JSON"}


async def test_depth_and_size_limits_are_on_by_default(api):
    deep = "{ __schema { types { fields { type " + "{ ofType " * 18 + "{ name }" + " }" * 18 + " } } } }"
    reply = await gql(api, deep)
    assert reply.status == 400
    assert reply.body == {"errors": [{"message": "Query depth 23 exceeds the limit of 20.",
                                      "locations": [{"line": 1, "column": 1}],
                                      "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}
    wide = "{ " + " ".join(f"a{i}: health" for i in range(1001)) + " }"
    reply = await gql(api, wide)
    assert reply.status == 400
    assert reply.body["errors"][0]["message"] == "Query selects 1001 fields, more than the limit of 1000."
    reply = await gql(api, "{ " + " ".join(f"a{i}: health" for i in range(500)) + " }")
    assert reply.status == 200


async def test_internal_errors_never_leak(api, monkeypatch):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("db password is hunter2")

    monkeypatch.setattr(api.engine, "find", broken)
    reply = await gql(api, "{ roles { count } }", master=True)
    assert reply.status == 200
    assert reply.body == {"errors": [{"message": "Internal server error", "locations": [{"line": 1, "column": 3}],
                                      "path": ["roles"], "extensions": {"code": 1}}], "data": None}
    text = orjson.dumps(reply.body).decode()
    assert "hunter2" not in text and "stacktrace" not in text


async def test_get_queries_but_not_mutations(api):
    url = graphql_url(api)
    headers = {"X-Parse-Application-Id": APP_ID}
    async with api.session.get(url, params={"query": "{ health }"}, headers=headers) as resp:
        assert (resp.status, await resp.json()) == (200, {"data": {"health": True}})
    async with api.session.get(url, params={"query": "mutation { logOut(input: {}) { ok } }"}, headers=headers) as resp:
        assert resp.status == 405
        assert (await resp.json())["errors"][0]["message"] == "Mutations can only be sent with POST."


async def test_playground(api):
    url = graphql_url(api)
    async with api.session.get(url, headers={"Accept": "text/html,application/xhtml+xml"}) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        page = await resp.text()
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert '<script src="/graphql/playground/graphiql.min.js"></script>' in page
    assert json.dumps({"X-Parse-Application-Id": APP_ID}, separators=(",", ":")) in page
    assert MASTER_KEY not in page and "http" not in page.split("<body>")[1]  # nothing from a CDN
    for name, kind in (("graphiql.min.js", "text/javascript"), ("graphiql.min.css", "text/css"),
                       ("react.production.min.js", "text/javascript"), ("graphiql.LICENSE.txt", "text/plain")):
        async with api.session.get(f"{url}/playground/{name}") as resp:
            assert resp.status == 200, name
            assert resp.content_type == kind
            assert len(await resp.read()) > 500
    async with api.session.get(f"{url}/playground/..%2Fschema.py") as resp:
        assert resp.status == 404


@pytest.mark.parametrize("overrides, path, status", [
    ({"graphql_path": "/api/gql"}, "/api/gql", 200),
    ({"graphql_path": "/api/gql"}, "/graphql", 404),
    ({"mount_graphql": False}, "/graphql", 404),
])
async def test_path_and_switch(overrides, path, status):
    server, session = await start_server(make_settings(**overrides))
    try:
        client = Client(session, f"http://127.0.0.1:{server.port}/parse", server)
        async with session.post(f"http://127.0.0.1:{server.port}{path}", data=b'{"query": "{ health }"}',
                                headers={**client.headers(), "Content-Type": "application/json"}) as resp:
            assert resp.status == status
    finally:
        await session.close()
        await server.close()


def test_parse_config_options(tmp_path):
    settings = make_settings()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"mountGraphQL": False, "graphQLPath": "gql", "mountPlayground": False,
                                "playgroundPath": "/playground"}))
    apply_parse_config(settings, path)
    assert (settings.mount_graphql, settings.graphql_path, settings.graphql_playground) == (False, "/gql", False)


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="chromium is not installed")
async def test_playground_runs_in_a_browser(api):
    from playwright.async_api import async_playwright

    answers: list[tuple[str, int]] = []
    failures: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM)
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda exc: failures.append(str(exc)))
            page.on("response", lambda r: answers.append((r.request.method + " " + r.url.split("/", 3)[3], r.status)))
            await page.goto(graphql_url(api))
            await page.wait_for_selector(".graphiql-container", timeout=30_000)
            await page.wait_for_function("() => document.querySelector('.graphiql-doc-explorer-title') !== null "
                                         "|| document.body.innerText.includes('Query')", timeout=30_000)
        finally:
            await browser.close()
    assert failures == []
    assert ("POST graphql", 200) in answers  # GraphiQL's introspection query, with the app id header
    assert all(status == 200 for url, status in answers if url.startswith("graphql/playground/"))
