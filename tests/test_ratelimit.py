"""rateLimit and trustProxy: 429 with Parse Server's code and message, per
client address, session, user or app; X-Forwarded-For trusted only when
configured (rate limits and masterKeyIps)."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import Client, make_settings, start_server

from bapp import config_options
from bapp.config import ConfigError, Settings, apply_env, apply_parse_config
from bapp.core.ratelimit import MemoryCounter, path_pattern

LIMITED = (429, {"code": 100, "error": "Too many requests."})


def rules(*options: dict) -> list:
    return config_options.rate_limits(list(options))


async def serve(**overrides):
    settings = make_settings(allow_client_class_creation=True, **overrides)
    server, session = await start_server(settings)
    return Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server), server, session


@pytest.fixture
async def make_api():
    opened = []

    async def make(**overrides):
        api, server, session = await serve(**overrides)
        opened.append((server, session))
        return api

    yield make
    for server, session in opened:
        await session.close()
        await server.close()


def xff(address: str) -> dict:
    return {"X-Forwarded-For": address}


async def test_limit_answers_429_with_the_default_message(make_api):
    api = await make_api(rate_limits=rules({"requestPath": "/classes/*", "requestTimeWindow": 10_000,
                                            "requestCount": 2, "includeInternalRequests": True}))
    assert (await api.post("/classes/A", {})).status == 201
    assert (await api.get("/classes/A")).status == 200
    assert tuple(await api.post("/classes/A", {})) == LIMITED
    assert tuple(await api.get("/classes/A")) == LIMITED
    # other paths are not limited
    assert (await api.get("/config")).status == 200
    # nothing was written by the refused request
    assert (await api.get("/classes/A", {"count": 1}, master=True)).body["count"] == 1


async def test_custom_message_methods_and_master_key(make_api):
    api = await make_api(rate_limits=rules(
        {"requestPath": "/functions/*", "requestTimeWindow": 10_000, "requestCount": 1,
         "errorResponseMessage": "Slow down", "includeInternalRequests": True, "requestMethods": ["POST"]},
        {"requestPath": "/classes/:className", "requestTimeWindow": 10_000, "requestCount": 1,
         "includeInternalRequests": True, "requestMethods": "PUT|POST"},
    ))
    assert (await api.post("/functions/nope", {})).body["code"] == 141
    assert tuple(await api.post("/functions/nope", {})) == (429, {"code": 100, "error": "Slow down"})
    # the master key is not limited unless includeMasterKey
    assert (await api.post("/functions/nope", {}, master=True)).body["code"] == 141
    assert (await api.post("/classes/B", {})).status == 201
    assert tuple(await api.post("/classes/B", {})) == LIMITED
    for _ in range(3):
        assert (await api.get("/classes/B")).status == 200  # GET is not in requestMethods
    # the JS SDK's POST carrying _method=GET counts as a GET
    raw = json.dumps({"_method": "GET", "_ApplicationId": "test-app"})
    assert (await api.request("POST", "/classes/B", raw=raw, app_id=None)).status == 200


async def test_include_master_key(make_api):
    api = await make_api(rate_limits=rules({"requestPath": "*", "requestTimeWindow": 10_000, "requestCount": 1,
                                            "includeInternalRequests": True, "includeMasterKey": True}))
    assert (await api.get("/classes/A", master=True)).status == 200
    assert tuple(await api.get("/classes/A", master=True)) == LIMITED


async def test_loopback_is_internal_unless_included(make_api):
    # Parse Server skips requests from 127.0.0.1 (its own cloud code) by default
    api = await make_api(rate_limits=rules({"requestPath": "*", "requestTimeWindow": 10_000, "requestCount": 1}))
    for _ in range(3):
        assert (await api.get("/classes/A")).status == 200
    # without trustProxy, a forwarded address is ignored: still loopback
    for _ in range(2):
        assert (await api.get("/classes/A", headers=xff("203.0.113.9"))).status == 200


async def test_trust_proxy_gives_each_client_its_own_count(make_api):
    api = await make_api(trust_proxy=True,
                         rate_limits=rules({"requestPath": "*", "requestTimeWindow": 10_000, "requestCount": 2}))
    for _ in range(2):
        assert (await api.get("/classes/A", headers=xff("203.0.113.1"))).status == 200
    assert tuple(await api.get("/classes/A", headers=xff("203.0.113.1"))) == LIMITED
    # the left-most address is the client's
    assert tuple(await api.get("/classes/A", headers=xff("203.0.113.1, 10.0.0.1"))) == LIMITED
    assert (await api.get("/classes/A", headers=xff("203.0.113.2"))).status == 200


async def test_trusting_named_proxies_only(make_api):
    api = await make_api(trust_proxy=config_options.trust_proxy("loopback, 10.0.0.0/8"),
                         rate_limits=rules({"requestPath": "*", "requestTimeWindow": 10_000, "requestCount": 1}))
    # the client is the first address that is not a trusted proxy, read from the right
    assert (await api.get("/classes/A", headers=xff("198.51.100.7, 203.0.113.5, 10.1.1.1"))).status == 200
    assert tuple(await api.get("/classes/A", headers=xff("198.51.100.8, 203.0.113.5"))) == LIMITED


async def test_zones(make_api):
    api = await make_api(trust_proxy=True, rate_limits=rules(
        {"requestPath": "/classes/G", "requestTimeWindow": 10_000, "requestCount": 2, "zone": "global"},
        {"requestPath": "/classes/S", "requestTimeWindow": 10_000, "requestCount": 1, "zone": "session"},
        {"requestPath": "/classes/U", "requestTimeWindow": 10_000, "requestCount": 1, "zone": "user"},
    ))
    assert (await api.get("/classes/G", headers=xff("203.0.113.1"))).status == 200
    assert (await api.get("/classes/G", headers=xff("203.0.113.2"))).status == 200
    assert tuple(await api.get("/classes/G", headers=xff("203.0.113.3"))) == LIMITED

    ann = await api.signup("ann")
    login = await api.post("/login", {"username": "ann", "password": "pw"})
    other_session = login.body["sessionToken"]
    here = xff("203.0.113.10")
    assert (await api.get("/classes/S", token=ann["sessionToken"], headers=here)).status == 200
    assert tuple(await api.get("/classes/S", token=ann["sessionToken"], headers=here)) == LIMITED
    assert (await api.get("/classes/S", token=other_session, headers=here)).status == 200

    # one user, two sessions, two addresses: one count
    assert (await api.get("/classes/U", token=ann["sessionToken"], headers=xff("203.0.113.20"))).status == 200
    assert tuple(await api.get("/classes/U", token=other_session, headers=xff("203.0.113.21"))) == LIMITED
    # without a session the address is the key
    assert (await api.get("/classes/U", headers=xff("203.0.113.22"))).status == 200


async def test_bad_session_tokens_are_counted(make_api):
    api = await make_api(trust_proxy=True,
                         rate_limits=rules({"requestPath": "*", "requestTimeWindow": 10_000, "requestCount": 2}))
    for _ in range(2):
        reply = await api.get("/users/me", token="r:guess", headers=xff("203.0.113.1"))
        assert reply.body["code"] == 209
    assert tuple(await api.get("/users/me", token="r:guess", headers=xff("203.0.113.1"))) == LIMITED


async def test_the_window_ends(make_api):
    api = await make_api(rate_limits=rules({"requestPath": "*", "requestTimeWindow": 300, "requestCount": 1,
                                            "includeInternalRequests": True}))
    assert (await api.get("/classes/A")).status == 200
    assert tuple(await api.get("/classes/A")) == LIMITED
    await asyncio.sleep(0.4)
    assert (await api.get("/classes/A")).status == 200


async def test_file_uploads_are_limited(make_api):
    api = await make_api(file_upload_public=True, rate_limits=rules(
        {"requestPath": "/files/*", "requestTimeWindow": 10_000, "requestCount": 1, "includeInternalRequests": True}))
    headers = {"Content-Type": "text/plain"}
    assert (await api.request("POST", "/files/a.txt", raw=b"hello", headers=headers)).status == 201
    assert tuple(await api.request("POST", "/files/a.txt", raw=b"hello", headers=headers)) == LIMITED


async def test_master_key_ips_read_the_forwarded_address_only_with_trust_proxy(make_api):
    trusting = await make_api(trust_proxy=True, master_key_ips=["10.1.2.3"])
    assert (await trusting.get("/classes/A", master=True, headers=xff("10.1.2.3"))).status == 200
    assert (await trusting.get("/classes/A", master=True)).status == 403
    assert (await trusting.get("/classes/A", master=True, headers=xff("10.9.9.9"))).status == 403
    strict = await make_api(master_key_ips=["10.1.2.3"])
    assert (await strict.get("/classes/A", master=True, headers=xff("10.1.2.3"))).status == 403


async def test_memory_counter_windows():
    counter = MemoryCounter()
    assert [await counter.hit("k", 10_000) for _ in range(3)] == [1, 2, 3]
    assert await counter.hit("other", 10_000) == 1
    assert await counter.hit("w", 1) == 1
    await asyncio.sleep(0.01)
    assert await counter.hit("w", 1) == 1


def test_path_patterns():
    assert path_pattern("/classes/*").match("/classes/A/x")
    assert path_pattern("/classes/*").match("/classes/A")
    assert not path_pattern("/classes/*").match("/functions/x")
    assert path_pattern("*").match("/anything/at/all")
    assert path_pattern("/classes/:className").match("/classes/A/")
    assert not path_pattern("/classes/:className").match("/classes/A/b")
    assert path_pattern("/login").match("/LOGIN")
    assert not path_pattern("/login").match("/loginAs")


@pytest.mark.parametrize("value, message", [
    ("x", "rateLimit must be an array or object"),
    (["x"], "rateLimit must be an array of objects"),
    ({"requestTimeWindow": 1, "requestCount": 1}, "rateLimit.requestPath must be defined"),
    ({"requestPath": 1, "requestTimeWindow": 1, "requestCount": 1}, "rateLimit.requestPath must be a string"),
    ({"requestPath": "*", "requestCount": 1}, "rateLimit.requestTimeWindow must be defined"),
    ({"requestPath": "*", "requestTimeWindow": "1", "requestCount": 1}, "rateLimit.requestTimeWindow must be a number"),
    ({"requestPath": "*", "requestTimeWindow": 1}, "rateLimit.requestCount must be defined"),
    ({"requestPath": "*", "requestTimeWindow": 1, "requestCount": "1"}, "rateLimit.requestCount must be a number"),
    ({"requestPath": "*", "requestTimeWindow": 1, "requestCount": 1, "zone": "planet"},
     "rateLimit.zone must be one of global, session, user, or ip"),
    ({"requestPath": "*", "requestTimeWindow": 1, "requestCount": 1, "speed": 1}, 'Invalid rate limit option "speed"'),
    ({"requestPath": "*", "requestTimeWindow": 1, "requestCount": 1, "includeInternalRequests": "yes"},
     "rateLimit.includeInternalRequests must be a boolean"),
    ({"requestPath": "*", "requestTimeWindow": 1, "requestCount": 1, "errorResponseMessage": 5},
     "rateLimit.errorResponseMessage must be a string"),
])
def test_config_is_checked(tmp_path, value, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "rateLimit": value}))
    with pytest.raises(ConfigError, match=message):
        apply_parse_config(Settings(), path)


def test_config_and_env_are_mapped(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "trustProxy": ["loopback"],
                                "rateLimit": {"requestPath": "/login", "requestTimeWindow": 60000, "requestCount": 5}}))
    settings = Settings()
    apply_parse_config(settings, path)
    assert [(r.request_path, r.request_count, r.zone) for r in settings.rate_limits] == [("/login", 5, "ip")]
    assert settings.trust_proxy == ["127.0.0.1/8", "::1/128"]
    env = Settings()
    apply_env(env, {"BAPP_TRUST_PROXY": "2", "BAPP_RATE_LIMITS": '[{"requestPath": "*", "requestTimeWindow": 1, '
                                                               '"requestCount": 1}]'})
    assert env.trust_proxy == 2 and len(env.rate_limits) == 1
    with pytest.raises(ConfigError, match="BAPP_TRUST_PROXY"):
        apply_env(Settings(), {"BAPP_TRUST_PROXY": "not-an-address"})


class _FakeRequest:
    def __init__(self, remote: str, forwarded: str | None) -> None:
        self.remote = remote
        self.headers = {"X-Forwarded-For": forwarded} if forwarded else {}


@pytest.mark.parametrize("trust, forwarded, expected", [
    (False, "1.1.1.1", "10.0.0.9"),
    (True, "1.1.1.1, 2.2.2.2", "1.1.1.1"),
    (True, None, "10.0.0.9"),
    (1, "1.1.1.1, 2.2.2.2", "2.2.2.2"),
    (2, "1.1.1.1, 2.2.2.2", "1.1.1.1"),
    (5, "1.1.1.1, 2.2.2.2", "1.1.1.1"),
    (["10.0.0.0/8"], "1.1.1.1, 2.2.2.2", "2.2.2.2"),
    (["10.0.0.0/8", "2.2.2.2"], "1.1.1.1, 2.2.2.2", "1.1.1.1"),
    (["192.168.0.0/16"], "1.1.1.1", "10.0.0.9"),
])
def test_client_ip_as_express_computes_it(trust, forwarded, expected):
    from bapp.http.envelope import client_ip

    assert client_ip(_FakeRequest("10.0.0.9", forwarded), trust) == expected


async def test_a_query_string_does_not_slip_past_a_limit(make_api):
    api = await make_api(rate_limits=rules({"requestPath": "/classes/A", "requestTimeWindow": 10_000,
                                            "requestCount": 1, "includeInternalRequests": True}))
    assert (await api.get("/classes/A", {"where": {"n": 1}})).status == 200
    assert tuple(await api.get("/classes/A", {"limit": 1})) == LIMITED


async def test_a_limit_on_the_graphql_path_applies_there(make_api):
    api = await make_api(rate_limits=rules({"requestPath": "/graphql", "requestTimeWindow": 10_000,
                                            "requestCount": 1, "includeInternalRequests": True}))
    origin = api.url.rsplit("/parse", 1)[0]
    query = {"query": "{ health }"}
    async with api.session.post(origin + "/graphql", json=query, headers=api.headers()) as resp:
        assert resp.status == 200, await resp.text()
    async with api.session.post(origin + "/graphql", json=query, headers=api.headers()) as resp:
        assert (resp.status, await resp.json()) == LIMITED
    # REST routes under the mount are not covered by that rule
    assert (await api.get("/classes/A")).status == 200
