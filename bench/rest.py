"""REST throughput and latency: create, get by id, filtered query with limit.

Usage: python bench/rest.py [--seconds 5] [--concurrency 16] [--database-uri URI]
Starts its own server on a loopback port; bounded in time and request count."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys

import aiohttp

sys.path.insert(0, os.path.dirname(__file__))
from common import bapp_server, headers, load, print_table  # noqa: E402


async def run(url: str, seconds: float, concurrency: int) -> list[dict]:
    ids: list[str] = []
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/classes/Bench", json={"n": 0, "tag": "t0"}, headers=headers(True)) as resp:
            ids.append((await resp.json())["objectId"])

    async def create(session: aiohttp.ClientSession, i: int) -> None:
        async with session.post(f"{url}/classes/Bench", json={"n": i, "tag": f"t{i % 10}", "name": "item"},
                                headers=headers()) as resp:
            body = await resp.json()
            if len(ids) < 5000:
                ids.append(body["objectId"])

    async def get(session: aiohttp.ClientSession, i: int) -> None:
        async with session.get(f"{url}/classes/Bench/{random.choice(ids)}", headers=headers()) as resp:
            await resp.read()

    async def query(session: aiohttp.ClientSession, i: int) -> None:
        params = {"where": '{"tag":"t3","n":{"$gt":10}}', "limit": "20", "order": "-n"}
        async with session.get(f"{url}/classes/Bench", params=params, headers=headers()) as resp:
            await resp.read()

    async def signup(session: aiohttp.ClientSession, i: int) -> None:
        body = {"username": f"user{i}", "password": "secret-pw"}
        async with session.post(f"{url}/users", json=body, headers=headers()) as resp:
            await resp.read()

    async def login(session: aiohttp.ClientSession, i: int) -> None:
        body = {"username": f"user{i % 50 + 1}", "password": "secret-pw"}
        async with session.post(f"{url}/login", json=body, headers=headers()) as resp:
            await resp.read()

    rows = []
    for name, call in (("create", create), ("get by id", get), ("query (filter, limit 20)", query),
                       ("sign-up (bcrypt)", signup), ("login (bcrypt)", login)):
        rows.append(await load(name, call, concurrency=concurrency, seconds=seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-uri")
    args = parser.parse_args()
    extra = ["--database-uri", args.database_uri] if args.database_uri else []
    with bapp_server(*extra) as (url, _):
        print_table(asyncio.run(run(url, args.seconds, args.concurrency)))


if __name__ == "__main__":
    main()
