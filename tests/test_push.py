"""push: a Python push adapter, POST /push recording _PushStatus with the
X-Parse-Push-Status-Id header, audiences by where or channels."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import textwrap
import uuid

import pytest
from conftest import make_settings

from bapp.config import ConfigError, Settings, apply_parse_config

ADAPTER = '''
SENT = []

async def send(body, installations):
    SENT.append((body, installations))
    data = body.get("data", {})
    if data.get("fail"):
        raise RuntimeError("gateway down")
    if data.get("reject"):
        return [{"device": {"deviceType": i["deviceType"], "deviceToken": i["deviceToken"]},
                 "transmitted": i["deviceType"] != "android"} for i in installations]
    return None
'''

SYNC_ADAPTER = '''
SENT = []

def send(body, installations, options):
    SENT.append((options["apiKey"], len(installations)))
    return [{"device": i, "transmitted": True} for i in installations]
'''


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "push.py").write_text(textwrap.dedent(ADAPTER))
    return make_settings(push={"module": str(tmp_path / "push.py")}, read_only_master_key="ro-key")


def sent(api) -> list:
    return sys.modules[api.engine.push._send.__module__].SENT


async def install(api, device_type: str, token: str | None, channels: list | None = None, **extra) -> dict:
    body = {"deviceType": device_type, "channels": channels or [], "installationId": str(uuid.uuid4()), **extra}
    if token:
        body["deviceToken"] = token
    reply = await api.post("/installations", body, master=True)
    assert reply.status == 201, reply.body
    return reply.body


async def send_push(api, body: dict) -> str:
    reply = await api.post("/push", body, master=True)
    assert (reply.status, reply.body) == (200, {"result": True}), reply.body
    return reply.headers["X-Parse-Push-Status-Id"]


async def final_status(api, status_id: str) -> dict:
    for _ in range(200):
        reply = await api.get(f"/classes/_PushStatus/{status_id}", master=True)
        assert reply.status == 200, reply.body
        if reply.body["status"] in ("succeeded", "failed"):
            return reply.body
        await asyncio.sleep(0.02)
    raise AssertionError(f"push {status_id} did not finish: {reply.body}")


async def test_push_to_channels(api):
    await install(api, "android", "tok-a", ["news"])
    await install(api, "ios", "tok-i", ["sport"])
    await install(api, "android", None, ["news"])  # no token: not a device to push to
    status_id = await send_push(api, {"channels": ["news"], "data": {"alert": "hi"}})
    status = await final_status(api, status_id)
    assert status["status"] == "succeeded"
    assert (status["numSent"], status["numFailed"]) == (1, 0)
    assert status["sentPerType"] == {"android": 1}
    assert status["query"] == json.dumps({"channels": {"$in": ["news"]}}, separators=(",", ":"))
    assert status["payload"] == '{"alert":"hi"}'
    assert status["source"] == "rest"
    assert status["pushHash"] == hashlib.md5(b"hi").hexdigest()
    assert "pushTime" in status
    body, installations = sent(api)[0]
    assert body["data"] == {"alert": "hi"}
    assert [i["deviceToken"] for i in installations] == ["tok-a"]


async def test_push_to_a_where_query_and_failures_per_device(api):
    await install(api, "android", "a1")
    await install(api, "ios", "i1")
    await install(api, "ios", "i2", appVersion="2")
    status = await final_status(api, await send_push(api, {"where": {"deviceType": "ios"}, "data": {"alert": "x"}}))
    assert status["sentPerType"] == {"ios": 2}
    status = await final_status(api, await send_push(api, {"where": {}, "data": {"alert": "y", "reject": True}}))
    assert (status["numSent"], status["numFailed"]) == (2, 1)
    assert (status["sentPerType"], status["failedPerType"]) == ({"ios": 2}, {"android": 1})


async def test_adapter_failure_is_recorded(api):
    await install(api, "ios", "i1")
    status = await final_status(api, await send_push(api, {"where": {}, "data": {"fail": True}}))
    assert status["status"] == "failed"
    assert status["errorMessage"] == {"message": "gateway down"}


async def test_empty_audience_succeeds(api):
    status = await final_status(api, await send_push(api, {"channels": ["nobody"], "data": {"alert": "z"}}))
    assert (status["status"], status["numSent"]) == ("succeeded", 0)
    assert sent(api) == []


async def test_badge_increment(api):
    first = await install(api, "ios", "i1", badge=3)
    await final_status(api, await send_push(api, {"where": {}, "data": {"alert": "b", "badge": "Increment"}}))
    reply = await api.get(f"/installations/{first['objectId']}", master=True)
    assert reply.body["badge"] == 4
    assert sent(api)[0][1][0]["badge"] == 4


async def test_batches_of_one_hundred(api):
    await asyncio.gather(*(install(api, "android", f"t{i:03}") for i in range(130)))
    status = await final_status(api, await send_push(api, {"where": {"deviceType": "android"}, "data": {}}))
    assert status["numSent"] == 130
    assert [len(batch) for _, batch in sent(api)] == [100, 30]


@pytest.mark.parametrize("body, expected", [
    ({"where": {}, "channels": ["a"], "data": {}}, (400, 115, "Channels and query can not be set at the same time.")),
    ({"data": {}}, (400, 115, 'Sending a push requires either "channels" or a "where" query.')),
    ({"where": {}, "expiration_time": "soon", "data": {}}, (400, 115, "soon is not valid time.")),
    ({"where": {}, "expiration_interval": -1, "data": {}},
     (400, 115, "expiration_interval must be a number greater than 0")),
    ({"where": {"a": {"$bad": 1}}, "data": {}}, (400, 107, "bad constraint: $bad")),
    ({"where": {}, "data": {"badge": "lots"}},
     (400, 115, "Invalid value for badge, expected number or 'Increment' or {increment: number}")),
])
async def test_bad_pushes(api, body, expected):
    reply = await api.post("/push", body, master=True)
    status, code, message = expected
    assert (reply.status, reply.body["code"]) == (status, code), reply.body
    if message:
        assert reply.body["error"] == message
    assert (await api.get("/classes/_PushStatus", master=True)).body["results"] == []


async def test_master_key_required(api):
    assert tuple(await api.post("/push", {"where": {}, "data": {}})) == \
        (403, {"error": "Permission denied"})
    reply = await api.post("/push", {"where": {}, "data": {}}, headers={"X-Parse-Master-Key": "ro-key"})
    assert tuple(reply) == (400, {"code": 119, "error": "Permission denied"})  # sanitized, as Parse Server 9


async def test_server_info_reports_push(api):
    features = (await api.get("/serverInfo", master=True)).body["features"]["push"]
    assert features["immediatePush"] is True and features["scheduledPush"] is False


async def test_sync_adapter_with_options(tmp_path):
    from conftest import Client, start_server

    (tmp_path / "sync_push.py").write_text(textwrap.dedent(SYNC_ADAPTER))
    settings = make_settings(push={"module": str(tmp_path / "sync_push.py"), "apiKey": "k-1"})
    server, session = await start_server(settings)
    try:
        api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
        await install(api, "ios", "i1")
        status = await final_status(api, await send_push(api, {"where": {}, "data": {"alert": "s"}}))
        assert status["numSent"] == 1
        assert sent(api) == [("k-1", 1)]
    finally:
        await session.close()
        await server.close()


def test_config(tmp_path):
    (tmp_path / "push.py").write_text(textwrap.dedent(ADAPTER))
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "push": {"module": "push.py", "apiKey": "k"}}))
    settings = Settings()
    apply_parse_config(settings, path)
    assert settings.push == {"module": str(tmp_path / "push.py"), "apiKey": "k"}
    path.write_text(json.dumps({"appId": "x", "push": {"android": {"apiKey": "k"}}}))
    with pytest.raises(ConfigError, match="bapp has no built-in push adapter"):
        apply_parse_config(Settings(), path)


def test_env(tmp_path, monkeypatch):
    from bapp.config import apply_env

    monkeypatch.chdir(tmp_path)
    settings = Settings()
    apply_env(settings, {"BAPP_PUSH": '{"module": "push.py"}', "BAPP_AUTH_PROVIDERS": '{"x": {"module": "jwt"}}',
                         "BAPP_SCHEMA_OPTIONS": '{"definitions": [], "lockSchemas": true}'})
    assert settings.push == {"module": str(tmp_path / "push.py")}
    assert settings.auth_providers == {"x": {"module": "jwt"}}
    assert settings.schema_options["lockSchemas"] is True
    with pytest.raises(ConfigError, match="BAPP_PUSH"):
        apply_env(Settings(), {"BAPP_PUSH": "[1]"})
