"""GraphQL next to REST: a class query of 20 objects with one included
pointer, and a create, as requests per second (and latency) over the same
server and data.

Usage: python bench/graphql.py [--seconds 5] [--concurrency 16] [--rounds 3] [--database-uri URI]
Starts its own server on a loopback port; bounded in time and request count.
Each scenario runs ``--rounds`` times, alternating GraphQL and REST; the
table shows every round and the medians."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys

import aiohttp

sys.path.insert(0, os.path.dirname(__file__))
from common import bapp_server, headers, load, print_table  # noqa: E402

QUERY = ("query { benchItems(where: { tag: { equalTo: \"t3\" } }, order: [n_DESC], first: 20) "
         "{ edges { node { objectId n tag owner { objectId name } } } } }")
CREATE = ("mutation($f: CreateBenchItemFieldsInput) { createBenchItem(input: {fields: $f}) "
          "{ benchItem { objectId createdAt } } }")


async def seed(url: str, origin: str) -> None:
    async with aiohttp.ClientSession() as session:
        owners = []
        for i in range(10):
            async with session.post(f"{url}/classes/BenchOwner", json={"name": f"owner{i}"},
                                    headers=headers(True)) as resp:
                owners.append((await resp.json())["objectId"])
        for i in range(400):
            body = {"n": i, "tag": f"t{i % 4}", "owner": {"__type": "Pointer", "className": "BenchOwner",
                                                         "objectId": owners[i % 10]}}
            async with session.post(f"{url}/classes/BenchItem", json=body, headers=headers(True)) as resp:
                assert resp.status == 201, await resp.text()
        # Both answers must carry the same 20 objects and pointers.
        async with session.post(f"{origin}/graphql", json={"query": QUERY}, headers=headers()) as resp:
            graph = (await resp.json())["data"]["benchItems"]["edges"]
        params = {"where": '{"tag":"t3"}', "order": "-n", "limit": "20", "include": "owner",
                  "keys": "n,tag,owner.name"}
        async with session.get(f"{url}/classes/BenchItem", params=params, headers=headers()) as resp:
            rest = (await resp.json())["results"]
        assert [e["node"]["owner"]["name"] for e in graph] == [r["owner"]["name"] for r in rest]
        assert len(rest) == 20


async def run(url: str, origin: str, seconds: float, concurrency: int, rounds: int) -> list[dict]:
    await seed(url, origin)
    params = {"where": '{"tag":"t3"}', "order": "-n", "limit": "20", "include": "owner", "keys": "n,tag,owner.name"}

    async def rest_query(session: aiohttp.ClientSession, i: int) -> None:
        async with session.get(f"{url}/classes/BenchItem", params=params, headers=headers()) as resp:
            await resp.read()

    async def graphql_query(session: aiohttp.ClientSession, i: int) -> None:
        async with session.post(f"{origin}/graphql", json={"query": QUERY}, headers=headers()) as resp:
            body = await resp.json()
            assert "errors" not in body, body

    async def rest_create(session: aiohttp.ClientSession, i: int) -> None:
        async with session.post(f"{url}/classes/BenchItem", json={"n": i, "tag": "new"}, headers=headers()) as resp:
            await resp.read()

    async def graphql_create(session: aiohttp.ClientSession, i: int) -> None:
        body = {"query": CREATE, "variables": {"f": {"n": i, "tag": "new"}}}
        async with session.post(f"{origin}/graphql", json=body, headers=headers()) as resp:
            answer = await resp.json()
            assert "errors" not in answer, answer

    rows: list[dict] = []
    for label, pair in (("query 20 + pointer", (graphql_query, rest_query)),
                        ("create", (graphql_create, rest_create))):
        results: dict[str, list[dict]] = {"GraphQL": [], "REST": []}
        for _ in range(rounds):
            for kind, call in zip(("GraphQL", "REST"), pair, strict=True):
                row = await load(f"{kind} {label}", call, concurrency=concurrency, seconds=seconds)
                results[kind].append(row)
                rows.append(row)
        for kind, found in results.items():
            rows.append({"name": f"median {kind} {label}", "requests": sum(r["requests"] for r in found),
                         "rps": statistics.median(r["rps"] for r in found),
                         "p50": statistics.median(r["p50"] for r in found),
                         "p99": statistics.median(r["p99"] for r in found)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-uri")
    args = parser.parse_args()
    extra = ["--database-uri", args.database_uri] if args.database_uri else []
    with bapp_server(*extra) as (url, _):
        origin = url.rsplit("/", 1)[0]
        print_table(asyncio.run(run(url, origin, args.seconds, args.concurrency, args.rounds)))


if __name__ == "__main__":
    main()
