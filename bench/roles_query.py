"""Query throughput of a user who holds several roles in a hierarchy, next
to the same query made anonymously: role resolution must not make every
request slow.

Starts bapp in-process on a loopback port (in-memory store unless
BAPP_BENCH_DATABASE_URI is set), creates the data through the REST API,
then runs each scenario for a bounded time with a few concurrent clients.

    python bench/roles_query.py [--seconds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import aiohttp
import orjson
from aiohttp.test_utils import TestServer

from bapp.config import Settings
from bapp.core import auth as auth_module
from bapp.server import build_app

APP_ID = "bench-app"
MASTER_KEY = "bench-master-key"


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(self, method: str, path: str, body: dict | None = None, *, master: bool = False,
                   token: str | None = None, params: dict | None = None) -> dict:
        headers = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
        if master:
            headers["X-Parse-Master-Key"] = MASTER_KEY
        if token:
            headers["X-Parse-Session-Token"] = token
        query = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in (params or {}).items()}
        data = orjson.dumps(body) if body is not None else None
        async with self.session.request(method, self.base + path, data=data, headers=headers, params=query) as resp:
            payload = orjson.loads(await resp.read())
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: {resp.status} {payload}")
            return payload


def pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def seed(api: Api, objects: int) -> str:
    """A user in role L0; L0 is a child of L1, ... up to L4 (five roles held),
    plus unrelated roles; objects readable by public, by L4 or by nobody."""
    user = await api.call("POST", "/users", {"username": "bench", "password": "pw"})
    uid, token = user["objectId"], user["sessionToken"]
    child = None
    for level in range(5):
        body: dict = {"name": f"L{level}", "ACL": {"*": {"read": True}}}
        if level == 0:
            body["users"] = {"__op": "AddRelation", "objects": [pointer("_User", uid)]}
        if child:
            body["roles"] = {"__op": "AddRelation", "objects": [pointer("_Role", child)]}
        child = (await api.call("POST", "/roles", body, master=True))["objectId"]
    for i in range(10):
        await api.call("POST", "/roles", {"name": f"Other{i}", "ACL": {"*": {"read": True}}}, master=True)
    requests = []
    for i in range(objects):
        acl = ({"*": {"read": True}}, {"role:L4": {"read": True}}, {})[i % 3]
        requests.append({"method": "POST", "path": "/bench/classes/Item", "body": {"n": i, "ACL": acl}})
    for start in range(0, len(requests), 500):
        await api.call("POST", "/batch", {"requests": requests[start:start + 500]}, master=True)
    return token


async def run(api: Api, token: str | None, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    params = {"where": {"n": {"$gte": 0}}, "limit": 50, "order": "n"}

    async def worker() -> None:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            await api.call("GET", "/classes/Item", token=token, params=params)
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies


def row(name: str, count: int, latencies: list[float], seconds: float) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"| {name:<34} | {count / seconds:>9.0f} | {p50:>8.2f} | {p99:>8.2f} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--objects", type=int, default=600)
    args = parser.parse_args()
    settings = Settings(app_id=APP_ID, master_key=MASTER_KEY, mount_path="/bench")
    if os.environ.get("BAPP_BENCH_DATABASE_URI"):
        settings.database_uri = os.environ["BAPP_BENCH_DATABASE_URI"]
        settings.database_name = "bapp_bench"
    app = build_app(settings)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        api = Api(session, f"http://127.0.0.1:{server.port}/bench")
        token = await seed(api, args.objects)
        await run(api, token, 0.5, args.concurrency)  # warm-up
        results = []
        for name, tok in (("anonymous find", None), ("user with 5 roles (hierarchy) find", token)):
            count, latencies = await run(api, tok, args.seconds, args.concurrency)
            results.append(row(name, count, latencies, args.seconds))
        # The same user with the role cache off: the cost the cache saves.
        auth_module.ROLE_TTL = 0.0
        count, latencies = await run(api, token, args.seconds, args.concurrency)
        results.append(row("same user, role cache off", count, latencies, args.seconds))
        auth_module.ROLE_TTL = 5.0
    await server.close()
    print(f"{args.objects} objects, limit 50, {args.concurrency} concurrent clients, {args.seconds:.0f} s each")
    print("| scenario                           | queries/s | p50 (ms) | p99 (ms) |")
    print("|------------------------------------|-----------|----------|----------|")
    for line in results:
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
