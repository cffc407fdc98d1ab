"""The embedded default (SQLite) against another store: filtered find with
limit 20 over 1,000 objects, get by id, create; and how the find scales at
10,000 and 100,000 objects (the class's index declared in a schema file).

Usage: python bench/embedded.py [--seconds 5] [--concurrency 16] [--sizes 1000,10000,100000]
                                [--database-uri URI ...] [--postgres]
--postgres adds bapp on a throwaway PostgreSQL (pgserver); other stores are
measured at the first size only, and reported as ratios too.
Each store listed (the embedded default is always first) gets its own
server on a loopback port and a temporary data directory; seeding runs on a
server of its own, so only the measured phase uses the store's default
settings. Bounded in time and request count."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

sys.path.insert(0, os.path.dirname(__file__))
from common import bapp_server, headers, load  # noqa: E402

SCHEMA = {"app": "bench", "classes": [{
    "className": "Bench",
    "fields": {"n": {"type": "Number"}, "tag": {"type": "String"}, "name": {"type": "String"}},
    "classLevelPermissions": {"find": {"*": True}, "get": {"*": True}, "count": {"*": True}, "create": {"*": True},
                              "update": {"*": True}, "delete": {"*": True}, "addField": {}},
    "indexes": {"tag_n": {"tag": 1, "n": -1}},
}]}
QUERY = {"where": '{"tag":"t3","n":{"$gt":10}}', "limit": "20", "order": "-n"}


async def seed(url: str, count: int, start: int = 0) -> None:
    """``count`` objects through /batch, several batches at a time."""
    async with aiohttp.ClientSession() as session:
        async def one(first: int, size: int) -> None:
            requests = [{"method": "POST", "path": "/parse/classes/Bench",
                         "body": {"n": i, "tag": f"t{i % 10}", "name": "item"}} for i in range(first, first + size)]
            async with session.post(f"{url}/batch", json={"requests": requests}, headers=headers(True)) as resp:
                assert resp.status == 200, await resp.text()

        chunks = [(first, min(500, start + count - first)) for first in range(start, start + count, 500)]
        for group in range(0, len(chunks), 8):
            await asyncio.gather(*(one(f, s) for f, s in chunks[group:group + 8]))


async def ids_of(url: str) -> list[str]:
    async with aiohttp.ClientSession() as session:
        params = {"limit": "2000", "keys": "objectId"}
        async with session.get(f"{url}/classes/Bench", params=params, headers=headers(True)) as resp:
            return [row["objectId"] for row in (await resp.json())["results"]]


async def measure(url: str, seconds: float, concurrency: int, with_writes: bool) -> list[dict]:
    ids = await ids_of(url)

    async def find(session: aiohttp.ClientSession, i: int) -> None:
        async with session.get(f"{url}/classes/Bench", params=QUERY, headers=headers()) as resp:
            await resp.read()

    async def get(session: aiohttp.ClientSession, i: int) -> None:
        async with session.get(f"{url}/classes/Bench/{random.choice(ids)}", headers=headers()) as resp:
            await resp.read()

    async def create(session: aiohttp.ClientSession, i: int) -> None:
        async with session.post(f"{url}/classes/Bench", json={"n": -i, "tag": "new", "name": "item"},
                                headers=headers()) as resp:
            await resp.read()

    rows = [await load("find (filter, limit 20)", find, concurrency=concurrency, seconds=seconds)]
    if with_writes:
        rows.append(await load("get by id", get, concurrency=concurrency, seconds=seconds))
        rows.append(await load("create", create, concurrency=concurrency, seconds=seconds))
    return rows


def run_store(label: str, uri: str | None, sizes: list[int], seconds: float, concurrency: int) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory(prefix="bapp-bench-") as tmp:
        schema = Path(tmp) / "bench.json"
        schema.write_text(json.dumps(SCHEMA))
        data = Path(tmp) / "data"
        args = ["--schemas", str(schema), "--data-dir", str(data)]
        if uri:
            args += ["--database-uri", uri]
        if uri and uri.startswith("memory"):  # nothing outlives the server: seed and measure in one
            with bapp_server(*args) as (url, _):
                asyncio.run(seed(url, sizes[0]))
                for row in asyncio.run(measure(url, seconds, concurrency, with_writes=True)):
                    out.append({"store": label, "objects": sizes[0], **row})
            return out
        seeded = 0
        for size in sizes:
            # Seeding need not wait for every commit's flush; measuring does.
            with bapp_server(*args, env={"BAPP_SQLITE_SYNCHRONOUS": "normal"}) as (url, _):
                asyncio.run(seed(url, size - seeded, seeded))
            seeded = size
            with bapp_server(*args) as (url, _):
                for row in asyncio.run(measure(url, seconds, concurrency, with_writes=size == sizes[0])):
                    out.append({"store": label, "objects": size, **row})
    return out


def postgres_databases(names: list[str]) -> tuple[object, dict[str, str]]:
    """A throwaway PostgreSQL server (pgserver) with one database per name."""
    import asyncpg
    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="bapp-bench-pg-"), cleanup_mode="stop")
    base = server.get_uri()

    async def create() -> None:
        conn = await asyncpg.connect(base)
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    asyncio.run(create())
    parts = urlsplit(base)
    return server, {n: urlunsplit((parts.scheme, parts.netloc, "/" + n, parts.query, "")) for n in names}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--database-uri", action="append", default=[], help="another store to compare with")
    parser.add_argument("--postgres", action="store_true", help="bapp on a throwaway PostgreSQL too")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = run_store("sqlite (default)", None, sizes, args.seconds, args.concurrency)
    for uri in args.database_uri:
        label = uri.split(":", 1)[0]
        rows += run_store(label, uri, sizes[:1], args.seconds, args.concurrency)
    if args.postgres:
        server, uris = postgres_databases(["bench_bapp"])
        try:
            rows += run_store("bapp (pg)", uris["bench_bapp"], sizes[:1], args.seconds, args.concurrency)
        finally:
            server.cleanup()
    print(f"{'store':<18}{'objects':>9}  {'scenario':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for row in rows:
        print(f"{row['store']:<18}{row['objects']:>9}  {row['name']:<26}{row['rps']:>9.0f}{row['p50']:>9.2f}"
              f"{row['p99']:>9.2f}")
    reference = {(r["name"], r["objects"]): r for r in rows if r["store"] == "sqlite (default)"}
    others = [r for r in rows if r["store"] != "sqlite (default)"]
    if others:
        print("\nsqlite (default) / other store (req/s)")
        for row in others:
            ref = reference[(row["name"], row["objects"])]
            print(f"{row['store']:<18}{row['name']:<26}{ref['rps'] / row['rps']:>7.2f}x")


if __name__ == "__main__":
    main()
