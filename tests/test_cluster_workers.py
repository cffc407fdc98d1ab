"""``bapp serve --workers 2`` on the test's database, without Redis: the
supervisor relays LiveQuery events and cache invalidations between its
workers. Connections are spread over the workers by the kernel, so each
check uses several fresh connections; a worker that dies is restarted.
The in-memory store refuses more than one worker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import aiohttp
import pytest
import websockets
from conftest import make_settings
from server_process import ServerProcess

APP_ID = "workers-app"
MASTER_KEY = "workers-master-key"
CONNECTIONS = 8


def headers(master: bool = False, token: str | None = None) -> dict:
    out = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
    if master:
        out["X-Parse-Master-Key"] = MASTER_KEY
    if token:
        out["X-Parse-Session-Token"] = token
    return out


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def workers():
    settings = make_settings()
    uri = settings.database_uri
    if settings.in_memory or not uri:
        pytest.skip("--workers needs a database several processes share (this store is in-memory)")
    server = ServerProcess(["--workers", "2", "--database-uri", uri, "--app-id", APP_ID,
                            "--master-key", MASTER_KEY], label="workers")
    try:
        wait_for(lambda: "2 workers serving" in server.output() or server.process.poll() is not None, 90,
                 "both workers")
        assert server.process.poll() is None, server.output()
        yield server
    finally:
        server.stop()


async def fresh(method: str, url: str, **kwargs) -> tuple[int, dict]:
    """One request on a new connection (so the kernel may pick either worker)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        async with session.request(method, url, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)


async def test_subscribers_on_every_worker_get_each_event_exactly_once(workers):
    status, _ = await fresh("POST", f"{workers.url}/classes/Live", json={"seed": 1}, headers=headers(True))
    assert status == 201
    sockets = []
    for _ in range(CONNECTIONS):
        ws = await websockets.connect(workers.ws_url)
        await ws.send(json.dumps({"op": "connect", "applicationId": APP_ID}))
        assert json.loads(await ws.recv())["op"] == "connected"
        await ws.send(json.dumps({"op": "subscribe", "requestId": 1,
                                  "query": {"className": "Live", "where": {"n": {"$gte": 0}}}}))
        assert json.loads(await ws.recv())["op"] == "subscribed"
        sockets.append(ws)
    ids = []
    for n in range(4):  # writes over fresh connections land on either worker
        status, body = await fresh("POST", f"{workers.url}/classes/Live",
                                   json={"n": n, "ACL": {"*": {"read": True}}}, headers=headers())
        assert status == 201, body
        ids.append(body["objectId"])
    for ws in sockets:
        got = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in ids]
        assert [e["op"] for e in got] == ["create"] * len(ids)
        assert sorted(e["object"]["objectId"] for e in got) == sorted(ids)
        with pytest.raises(TimeoutError):  # nothing twice
            await asyncio.wait_for(ws.recv(), 0.3)
        await ws.close()


async def test_logout_through_one_worker_is_refused_by_all(workers):
    status, user = await fresh("POST", f"{workers.url}/users", json={"username": "w", "password": "pw-12345"},
                               headers=headers())
    assert status == 201
    token = user["sessionToken"]
    for _ in range(CONNECTIONS):  # warm both workers' session caches
        assert (await fresh("GET", f"{workers.url}/users/me", headers=headers(token=token)))[0] == 200
    assert (await fresh("POST", f"{workers.url}/logout", json={}, headers=headers(token=token)))[0] == 200
    await asyncio.sleep(0.3)
    for _ in range(CONNECTIONS):
        status, body = await fresh("GET", f"{workers.url}/users/me", headers=headers(token=token))
        assert (status, body["code"]) == (400, 209)


async def test_concurrent_increments_over_both_workers_add_up(workers):
    status, body = await fresh("POST", f"{workers.url}/classes/Counter", json={"n": 0}, headers=headers(True))
    assert status == 201
    url = f"{workers.url}/classes/Counter/{body['objectId']}"
    inc = {"n": {"__op": "Increment", "amount": 1}}
    connector = aiohttp.TCPConnector(limit=16, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one() -> int:
            async with session.put(url, json=inc, headers=headers(True)) as resp:
                return resp.status

        statuses = await asyncio.gather(*(one() for _ in range(200)))
    assert set(statuses) == {200}
    assert (await fresh("GET", url, headers=headers(True)))[1]["n"] == 200


async def test_a_worker_that_dies_is_restarted(workers):
    before = children(workers.process.pid)
    assert len(before) == 2, before
    os.kill(before[0], signal.SIGKILL)
    wait_for(lambda: len(children(workers.process.pid)) == 2 and children(workers.process.pid) != before, 30,
             "a replacement worker")
    # Both workers serve again.
    time.sleep(1.0)
    for _ in range(CONNECTIONS):
        assert (await fresh("GET", f"{workers.url}/health"))[0] == 200
    assert "exited with -9; restarting it" in workers.output()


def test_the_in_memory_store_refuses_several_workers():
    server = ServerProcess(["--workers", "2", "--database-uri", "memory://"], label="memory-workers")
    try:
        server.process.wait(30)
        assert server.process.returncode == 2
        assert "bapp: --workers above 1 needs a database that several processes share" in server.output()
    finally:
        server.stop()
