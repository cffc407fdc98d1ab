"""Helpers shared by the benchmarks: a bapp server in a subprocess on a
loopback port, and a bounded load loop with latency percentiles."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager

import aiohttp

APP_ID = "bench"
MASTER_KEY = "bench-master-key-Long-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def bapp_server(*extra: str, env: dict | None = None):
    """Starts ``python -m bapp serve`` and yields its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "bapp", "serve", "--port", str(port), "--app-id", APP_ID,
           "--master-key", MASTER_KEY, "--log-level", "warning", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}/parse"
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start: " + proc.stderr.read().decode())
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def headers(master: bool = False, token: str | None = None) -> dict:
    out = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
    if master:
        out["X-Parse-Master-Key"] = MASTER_KEY
    if token:
        out["X-Parse-Session-Token"] = token
    return out


async def load(name: str, call: Callable[[aiohttp.ClientSession, int], Awaitable[None]], *,
               concurrency: int = 16, seconds: float = 5.0, max_requests: int = 50_000) -> dict:
    """Runs ``call`` from ``concurrency`` workers for at most ``seconds`` and
    ``max_requests`` calls; returns requests/s and latency percentiles (ms)."""
    latencies: list[float] = []
    counter = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal counter
            while time.perf_counter() < stop and counter < max_requests:
                counter += 1
                i = counter
                t0 = time.perf_counter()
                await call(session, i)
                latencies.append((time.perf_counter() - t0) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "name": name,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0,
    }


def print_table(rows: list[dict]) -> None:
    print(f"{'scenario':<28}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for row in rows:
        print(f"{row['name']:<28}{row['requests']:>10}{row['rps']:>10.0f}{row['p50']:>10.2f}{row['p99']:>10.2f}")
