"""Peak memory of the server while files stream through it.

Usage: python bench/files_memory.py [--size-mb 100] [--envelope-mb 15]

Starts ``python -m bapp serve`` on a loopback port (in-memory store, files
in a temporary directory), then measures the server process's peak
resident set (Linux ``VmHWM``, reset before each phase through
``/proc/<pid>/clear_refs``) for: a raw upload of ``--size-mb`` MB, its full
download, a range download of its last 10 MB, and an upload in the JS
SDK's base64 JSON envelope (the one path that buffers, bounded by the size
limit). The client streams too, and checks every byte by SHA-256."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import sys
import tempfile
import time

import aiohttp

sys.path.insert(0, os.path.dirname(__file__))
from common import APP_ID, MASTER_KEY, bapp_server  # noqa: E402

MB = 1024 * 1024
PIECE = 256 * 1024


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def reset_peak(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def pattern(size: int):
    """Deterministic bytes, made a piece at a time (the client never holds the file)."""
    block = hashlib.sha256(b"bapp").digest() * (PIECE // 32)
    sent = 0
    while sent < size:
        piece = block[: min(PIECE, size - sent)]
        sent += len(piece)
        yield piece


async def body(size: int, digest):
    for piece in pattern(size):
        digest.update(piece)
        yield piece


def headers(**extra: str) -> dict:
    return {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY, **extra}


async def upload(session: aiohttp.ClientSession, url: str, size: int) -> tuple[str, str]:
    digest = hashlib.sha256()
    async with session.post(f"{url}/files/big.bin", data=body(size, digest),
                            headers=headers(**{"Content-Type": "application/octet-stream"})) as resp:
        reply = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"upload failed: {resp.status} {reply}")
    return reply["url"], digest.hexdigest()


async def download(session: aiohttp.ClientSession, file_url: str, range_header: str | None = None) -> tuple[int, str]:
    digest = hashlib.sha256()
    total = 0
    async with session.get(file_url, headers={"Range": range_header} if range_header else {}) as resp:
        if resp.status not in (200, 206):
            raise RuntimeError(f"download failed: {resp.status}")
        async for chunk in resp.content.iter_chunked(PIECE):
            total += len(chunk)
            digest.update(chunk)
    return total, digest.hexdigest()


def envelope_body(size: int) -> bytes:
    """What the JS SDK sends for ``new Parse.File(name, {base64})``."""
    data = b"".join(pattern(size))
    return json.dumps({"base64": base64.b64encode(data).decode(), "_ApplicationId": APP_ID,
                       "_MasterKey": MASTER_KEY, "_ContentType": "application/octet-stream"}).encode()


async def envelope_upload(session: aiohttp.ClientSession, url: str, raw: bytes) -> None:
    async with session.post(f"{url}/files/envelope.bin", data=raw, headers={"Content-Type": "text/plain"}) as resp:
        if resp.status != 201:
            raise RuntimeError(f"envelope upload failed: {resp.status} {await resp.text()}")


async def measure(pid: int, name: str, size: int, work) -> dict:
    reset_peak(pid)
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    return {"phase": name, "mb": size / MB, "seconds": elapsed, "peak_mb": status_kb(pid, "VmHWM") / 1024}


async def run(url: str, pid: int, size: int, envelope_size: int) -> list[dict]:
    rows = []
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(f"{url}/health") as resp:
            await resp.read()
        rows.append({"phase": "idle (after start)", "mb": 0.0, "seconds": 0.0,
                     "peak_mb": status_kb(pid, "VmRSS") / 1024})
        result: dict = {}

        async def do_upload() -> None:
            result["url"], result["sha"] = await upload(session, url, size)

        rows.append(await measure(pid, f"raw upload {size // MB} MB", size, do_upload))

        async def do_download() -> None:
            total, sha = await download(session, result["url"])
            if (total, sha) != (size, result["sha"]):
                raise RuntimeError("downloaded bytes differ from the upload")

        rows.append(await measure(pid, f"download {size // MB} MB", size, do_download))
        tail = min(10 * MB, size)

        async def do_range() -> None:
            total, _ = await download(session, result["url"], f"bytes=-{tail}")
            if total != tail:
                raise RuntimeError("range download has the wrong length")

        rows.append(await measure(pid, f"range: last {tail // MB} MB", tail, do_range))
        if envelope_size:
            raw = envelope_body(envelope_size)
            rows.append(await measure(pid, f"JS SDK base64 envelope {envelope_size // MB} MB", envelope_size,
                                      lambda: envelope_upload(session, url, raw)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--envelope-mb", type=int, default=15)
    args = parser.parse_args()
    size, envelope_size = args.size_mb * MB, args.envelope_mb * MB
    with tempfile.TemporaryDirectory() as folder:
        env = {"BAPP_MAX_UPLOAD_SIZE": str(max(size, envelope_size) + MB)}
        with bapp_server("--files-path", folder, env=env) as (url, proc):
            if not reset_peak(proc.pid):
                print("note: cannot reset the peak counter; numbers are cumulative peaks")
            rows = asyncio.run(run(url, proc.pid, size, envelope_size))
    print(f"{'phase':<34}{'MB':>8}{'seconds':>10}{'MB/s':>9}{'server peak RSS MB':>20}")
    for row in rows:
        rate = row["mb"] / row["seconds"] if row["seconds"] else 0.0
        print(f"{row['phase']:<34}{row['mb']:>8.0f}{row['seconds']:>10.2f}{rate:>9.0f}{row['peak_mb']:>20.1f}")


if __name__ == "__main__":
    main()
