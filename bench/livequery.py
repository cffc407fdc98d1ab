"""LiveQuery fan-out: 1,000 websocket subscribers on one class.

Measures, against a bapp server started on a loopback port:
  * write response -> event at the LAST subscriber (p50/p99), one write at a time;
  * writes/s without subscribers, with every subscriber matching every write,
    and with subscribers on distinct equality values (the index leaves one
    candidate per write).

Usage: python bench/livequery.py [--subscribers 1000] [--writes 200] [--seconds 5]
                                 [--concurrency 16] [--database-uri URI]
The server runs in a subprocess; the subscribers and the writers share this
process (one event loop), so the latency includes this process reading 1,000
frames per write. Bounded: every phase has a time limit."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

import aiohttp

sys.path.insert(0, os.path.dirname(__file__))
from common import APP_ID, bapp_server, headers, load  # noqa: E402

CLASS = "LiveBench"


class Subscribers:
    """N websocket clients; counts the events each receives."""

    def __init__(self, url: str, count: int) -> None:
        self.ws_url = url.replace("http://", "ws://")
        self.count = count
        self.session: aiohttp.ClientSession | None = None
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task] = []
        self.received = 0
        self.closed = 0
        self.waiting: tuple[int, asyncio.Future] | None = None
        self.last_at = 0.0

    async def open(self, where: list[dict]) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        sem = asyncio.Semaphore(100)

        async def one(i: int) -> None:
            async with sem:
                ws = await self.session.ws_connect(self.ws_url, max_msg_size=0)
                await ws.send_str(json.dumps({"op": "connect", "applicationId": APP_ID}))
                assert (await ws.receive_json(timeout=30))["op"] == "connected"
                await ws.send_str(json.dumps({"op": "subscribe", "requestId": 1,
                                              "query": {"className": CLASS, "where": where[i]}}))
                assert (await ws.receive_json(timeout=30))["op"] == "subscribed"
                self.sockets.append(ws)
                self.readers.append(asyncio.create_task(self._read(ws)))

        await asyncio.gather(*(one(i) for i in range(self.count)))

    async def resubscribe(self, where: list[dict]) -> None:
        """``update`` op on every socket (its reply is counted, then reset)."""
        for ws, w in zip(self.sockets, where, strict=True):
            await ws.send_str(json.dumps({"op": "update", "requestId": 1, "query": {"className": CLASS, "where": w}}))
        await self.wait_for(self.received + len(self.sockets), 30)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            self.received += 1
            self.last_at = time.perf_counter()
            if self.waiting and self.received >= self.waiting[0] and not self.waiting[1].done():
                self.waiting[1].set_result(self.last_at)
        self.closed += 1

    async def wait_for(self, total: int, timeout: float) -> float | None:
        """Time at which ``received`` reached ``total`` (None on timeout)."""
        if self.received >= total:
            return self.last_at
        fut = asyncio.get_running_loop().create_future()
        self.waiting = (total, fut)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            self.waiting = None

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.readers:
            task.cancel()
        if self.session:
            await self.session.close()


async def create(session: aiohttp.ClientSession, url: str, body: dict) -> None:
    async with session.post(f"{url}/classes/{CLASS}", json=body, headers=headers()) as resp:
        assert resp.status == 201, await resp.text()
        await resp.read()


async def latency(url: str, subs: Subscribers, writes: int) -> dict:
    """One write at a time: response -> the last subscriber's event."""
    last: list[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(writes):
            target = subs.received + subs.count
            start_count = subs.received
            await create(session, url, {"i": i})
            responded = time.perf_counter()
            done = await subs.wait_for(target, 10)
            if done is None:
                raise RuntimeError(f"write {i}: only {subs.received - start_count} of {subs.count} events")
            last.append((done - responded) * 1000)
    last.sort()
    return {"name": f"write -> last of {subs.count} events", "requests": writes, "rps": 0.0,
            "p50": statistics.median(last), "p99": last[max(0, int(len(last) * 0.99) - 1)]}


async def throughput(url: str, name: str, seconds: float, concurrency: int, body) -> dict:
    async def call(session: aiohttp.ClientSession, i: int) -> None:
        await create(session, url, body(i))

    return await load(name, call, concurrency=concurrency, seconds=seconds, max_requests=20_000)


async def run(url: str, n: int, writes: int, seconds: float, concurrency: int) -> tuple[list[dict], list[str]]:
    notes: list[str] = []
    async with aiohttp.ClientSession() as session:  # the class exists before clients write
        async with session.post(f"{url}/classes/{CLASS}", json={"seed": 1},
                                headers=headers(master=True)) as resp:
            assert resp.status == 201
    rows = [await throughput(url, "writes, no subscribers", seconds, concurrency, lambda i: {"i": i})]

    subs = Subscribers(url, n)
    t0 = time.perf_counter()
    await subs.open([{}] * n)
    notes.append(f"{n} subscribers connected and subscribed in {time.perf_counter() - t0:.1f}s")
    rows.append(await latency(url, subs, writes))

    before = subs.received
    row = await throughput(url, f"writes, {n} subs all match", seconds, concurrency, lambda i: {"i": i})
    rows.append(row)
    expected = before + row["requests"] * n
    settled = await subs.wait_for(expected, 60)
    notes.append(f"all-match phase: {subs.received - before} of {row['requests'] * n} events delivered"
                 f"{'' if settled else ' (timed out)'}, {subs.closed} subscribers disconnected")

    await subs.resubscribe([{"room": f"r{i}"} for i in range(n)])
    before = subs.received
    row = await throughput(url, f"writes, {n} subs 1 match (idx)", seconds, concurrency,
                           lambda i: {"room": f"r{i % n}"})
    rows.append(row)
    settled = await subs.wait_for(before + row["requests"], 30)
    notes.append(f"indexed phase: {subs.received - before} of {row['requests']} events delivered"
                 f"{'' if settled else ' (timed out)'}")
    await subs.close()
    return rows, notes


def print_rows(rows: list[dict]) -> None:
    print(f"{'scenario':<36}{'writes':>8}{'writes/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for row in rows:
        rps = f"{row['rps']:.0f}" if row["rps"] else "-"
        print(f"{row['name']:<36}{row['requests']:>8}{rps:>10}{row['p50']:>10.2f}{row['p99']:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--budget", type=float, default=300.0, help="hard limit for the whole run, seconds")
    parser.add_argument("--database-uri")
    args = parser.parse_args()
    extra = ["--database-uri", args.database_uri] if args.database_uri else []
    with bapp_server(*extra) as (url, _):
        work = run(url, args.subscribers, args.writes, args.seconds, args.concurrency)
        rows, notes = asyncio.run(asyncio.wait_for(work, args.budget))
    print_rows(rows)
    for note in notes:
        print(note)
    print("(latency rows: p50/p99 of response -> last subscriber's event; throughput rows: request latency)")


if __name__ == "__main__":
    main()
