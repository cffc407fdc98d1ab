"""bapp on PostgreSQL, and Parse Server 9 on the same PostgreSQL server.

Workloads: get by id, find with ``where`` + ``limit 20`` over 1,000 objects,
create, update, and a find by a user holding several roles. Each runs for
a bounded time with a few concurrent clients; the table gives requests/s,
median and p99 latency, and bapp/Parse Server ratios when Parse Server ran.

    python bench/postgres.py [--seconds 5] [--concurrency 16] [--database-uri postgres://...]
                             [--parse-server DIR]   # a directory with node_modules/parse-server

Without ``--database-uri`` a throwaway server is started with ``pgserver``.
Each server gets its own database on the same PostgreSQL server."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

sys.path.insert(0, os.path.dirname(__file__))
from common import APP_ID, MASTER_KEY, bapp_server, free_port, load  # noqa: E402

OBJECTS = 1000
ROLES = 5


def headers(master: bool = False, token: str | None = None) -> dict:
    out = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
    if master:
        out["X-Parse-Master-Key"] = MASTER_KEY
    if token:
        out["X-Parse-Session-Token"] = token
    return out


def with_database(uri: str, name: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def fresh_database(uri: str, name: str) -> str:
    conn = await asyncpg.connect(uri)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(uri, name)


def node_uri(uri: str) -> tuple[str, dict]:
    """Parse Server's form of a URI (scheme postgres:) and its database
    options: a socket directory (pgserver's ``?host=/dir``) goes in ``host``."""
    parts = urlsplit(uri)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    netloc = parts.netloc
    options = {}
    if "host" in query:
        user = netloc.split("@", 1)[0] if "@" in netloc else ""
        netloc = (user.rstrip(":") + "@" if user else "") + "localhost"
        options["host"] = query["host"]
    return urlunsplit(("postgres", netloc, parts.path, "", "")), options


@contextmanager
def parse_server(directory: str, target: tuple[str, dict]):
    uri, options = target
    port = free_port()
    script = f"""
const express = require('express');
const {{ ParseServer }} = require('parse-server');
(async () => {{
  const app = express();
  const api = new ParseServer({{ databaseURI: {uri!r}, databaseOptions: {json.dumps(options)}, appId: {APP_ID!r}, masterKey: {MASTER_KEY!r},
    serverURL: 'http://127.0.0.1:{port}/parse', logLevel: 'error', allowClientClassCreation: true }});
  await api.start();
  app.use('/parse', api.app);
  app.listen({port}, '127.0.0.1');
}})();
"""
    proc = subprocess.Popen(["node", "-e", script], cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("parse-server exited: " + proc.stderr.read().decode()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/parse"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def post(session: aiohttp.ClientSession, url: str, body: dict, **kw) -> dict:
    async with session.post(url, json=body, headers=headers(**kw)) as resp:
        data = await resp.json()
        if resp.status >= 300:
            raise RuntimeError(f"{url}: {resp.status} {data}")
        return data


async def prepare(url: str) -> dict:
    """1,000 objects, a user with a chain of roles, and that user's token."""
    async with aiohttp.ClientSession() as session:
        ids = []
        for i in range(OBJECTS):
            body = {"n": i, "tag": f"t{i % 10}", "name": f"item{i}"}
            ids.append((await post(session, f"{url}/classes/Bench", body, master=True))["objectId"])
        user = await post(session, f"{url}/users", {"username": "roleuser", "password": "secret-pw"})
        previous = None
        for r in range(ROLES):
            body = {"name": f"Role{r}", "ACL": {"*": {"read": True}},
                    "users": {"__op": "AddRelation", "objects": [
                        {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}]}}
            if previous:
                body["roles"] = {"__op": "AddRelation", "objects": [
                    {"__type": "Pointer", "className": "_Role", "objectId": previous}]}
            previous = (await post(session, f"{url}/roles", body, master=True))["objectId"]
        for i in range(100):
            acl = {f"role:Role{i % ROLES}": {"read": True}}
            await post(session, f"{url}/classes/Guarded", {"n": i, "ACL": acl}, master=True)
    return {"ids": ids, "token": user["sessionToken"]}


async def run(url: str, seconds: float, concurrency: int) -> list[dict]:
    data = await prepare(url)
    ids = data["ids"]

    async def get(session, i):
        async with session.get(f"{url}/classes/Bench/{random.choice(ids)}", headers=headers()) as resp:
            await resp.read()

    async def find(session, i):
        params = {"where": '{"tag":"t3","n":{"$gt":100}}', "limit": "20"}
        async with session.get(f"{url}/classes/Bench", params=params, headers=headers()) as resp:
            await resp.read()

    async def create(session, i):
        async with session.post(f"{url}/classes/Bench", json={"n": i, "tag": "new", "name": "created"},
                                headers=headers()) as resp:
            await resp.read()

    async def update(session, i):
        body = {"n": {"__op": "Increment", "amount": 1}, "name": f"u{i}"}
        async with session.put(f"{url}/classes/Bench/{random.choice(ids)}", json=body, headers=headers()) as resp:
            await resp.read()

    async def roles(session, i):
        async with session.get(f"{url}/classes/Guarded", params={"limit": "20"},
                               headers=headers(token=data["token"])) as resp:
            await resp.read()

    rows = []
    for name, call in (("get by id", get), ("find where, limit 20", find), ("create", create),
                       ("update", update), ("find as user with 5 roles", roles)):
        rows.append(await load(name, call, concurrency=concurrency, seconds=seconds))
    return rows


def print_rows(results: dict[str, list[dict]]) -> None:
    names = list(results)
    print(f"{'scenario':<28}" + "".join(f"{n + ' req/s':>18}{'p50 ms':>9}{'p99 ms':>9}" for n in names)
          + ("       ratio rps  ratio p99" if len(names) == 2 else ""))
    for i, row in enumerate(results[names[0]]):
        line = f"{row['name']:<28}"
        for n in names:
            r = results[n][i]
            line += f"{r['rps']:>18.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
        if len(names) == 2:
            other = results[names[1]][i]
            line += f"{row['rps'] / other['rps']:>12.2f}x{row['p99'] / other['p99']:>10.2f}x"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-uri")
    parser.add_argument("--parse-server", help="directory holding node_modules/parse-server")
    args = parser.parse_args()
    server = None
    base = args.database_uri
    if not base:
        import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(prefix="bapp-bench-pg-"), cleanup_mode="stop")
        base = server.get_uri()
    results: dict[str, list[dict]] = {}
    try:
        uri = asyncio.run(fresh_database(base, "bench_bapp"))
        with bapp_server("--database-uri", uri) as (url, _):
            results["bapp"] = asyncio.run(run(url, args.seconds, args.concurrency))
        if args.parse_server:
            uri = asyncio.run(fresh_database(base, "bench_parse"))
            with parse_server(args.parse_server, node_uri(uri)) as url:
                results["parse-server"] = asyncio.run(run(url, args.seconds, args.concurrency))
    finally:
        if server is not None:
            server.cleanup()
    print_rows(results)


if __name__ == "__main__":
    main()
