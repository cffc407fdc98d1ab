"""The embedded default through ``bapp serve`` itself: what was written is
there after a restart and after ``kill -9``; backups of a running server."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from conftest import APP_ID, MASTER_KEY, Client
from migration_support import check_clients, diff, populate, snapshot
from server_process import ROOT, ServerProcess

WRITERS = 8


def embedded(label: str, data_dir, *args: str) -> ServerProcess:
    """``bapp serve`` on the embedded store in ``data_dir`` (files included)."""
    env = {"BAPP_DATA_DIR": str(data_dir), "BAPP_FILES_PATH": "", "BAPP_DATABASE_URI": "", "BAPP_DATABASE_NAME": ""}
    server = ServerProcess(["--app-id", APP_ID, "--master-key", MASTER_KEY, *args], label=label, env=env)
    server.wait_ready()
    return server


async def client_for(server: ServerProcess, session: aiohttp.ClientSession) -> Client:
    return Client(session, server.url, None)


async def test_everything_survives_a_restart(tmp_path):
    data = tmp_path / "data"
    first = embedded("restart-1", data)
    try:
        assert f"data: SQLite {data / 'data.db'}; files: {data / 'files'}" in first.output()
        async with aiohttp.ClientSession() as session:
            api = await client_for(first, session)
            info = await populate(api)
            before = await snapshot(api)
    finally:
        first.stop()
    assert (data / "data.db").is_file() and any((data / "files").iterdir())
    second = embedded("restart-2", data)
    try:
        async with aiohttp.ClientSession() as session:
            api = await client_for(second, session)
            after = await snapshot(api)
            assert after == before, list(diff(after, before))[:5]
            await check_clients(api, info)
    finally:
        second.stop()


def _payload(writer: int, seq: int) -> dict:
    text = f"{writer}-{seq}-" + "x" * 200
    return {"writer": writer, "seq": seq, "text": text, "check": hashlib.sha256(text.encode()).hexdigest(),
            "tags": [writer, seq], "nested": {"w": writer, "s": seq}}


async def _writer(api: Client, writer: int, acknowledged: list[str], counter: str, increments: list[int]) -> None:
    seq = 0
    while True:
        seq += 1
        try:
            reply = await api.post("/classes/Entry", _payload(writer, seq), master=True)
            if reply.status == 201:
                acknowledged.append(reply.body["objectId"])
            reply = await api.put(f"/classes/Counter/{counter}", {"n": {"__op": "Increment", "amount": 1}},
                                  master=True)
            if reply.status == 200:
                increments.append(1)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return  # the server is gone


async def test_acknowledged_writes_survive_kill_9(tmp_path):
    data = tmp_path / "data"
    server = embedded("kill-1", data)
    acknowledged: list[str] = []
    increments: list[int] = []
    try:
        async with aiohttp.ClientSession() as session:
            api = await client_for(server, session)
            counter = (await api.post("/classes/Counter", {"n": 0}, master=True)).body["objectId"]
            writers = [asyncio.ensure_future(_writer(api, w, acknowledged, counter, increments))
                       for w in range(WRITERS)]
            while len(acknowledged) < 150:
                await asyncio.sleep(0.05)
            server.process.send_signal(signal.SIGKILL)  # mid-write: requests are in flight
            server.process.wait(10)
            await asyncio.wait_for(asyncio.gather(*writers), 30)
    finally:
        server.stop()
    # Nothing torn in the file itself.
    conn = sqlite3.connect(data / "data.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    again = embedded("kill-2", data)
    try:
        async with aiohttp.ClientSession() as session:
            api = await client_for(again, session)
            reply = await api.get("/classes/Entry", {"limit": "100000"}, master=True)
            rows = {row["objectId"]: row for row in reply.body["results"]}
            assert not set(acknowledged) - set(rows), "acknowledged writes lost"
            for row in rows.values():  # every stored object is whole
                expected = _payload(row["writer"], row["seq"])
                assert {k: row[k] for k in expected} == expected
            # At most the writes in flight at the kill were stored without an answer.
            assert len(rows) - len(acknowledged) <= WRITERS
            count = (await api.get(f"/classes/Counter/{counter}", master=True)).body["n"]
            assert len(increments) <= count <= len(increments) + WRITERS
    finally:
        again.stop()


async def test_backup_of_a_running_server_restores(tmp_path):
    data = tmp_path / "data"
    server = embedded("backup-1", data)
    backup = tmp_path / "snapshots" / "app.db"
    try:
        async with aiohttp.ClientSession() as session:
            api = await client_for(server, session)
            for i in range(30):
                assert (await api.post("/classes/Note", {"i": i}, master=True)).status == 201
            done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bapp", "backup", str(backup),
                                                            "--data-dir", str(data)],
                                           cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            assert f"backed up {data / 'data.db'} to {backup}" in done.stdout
            refused = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bapp", "backup", str(backup),
                                                               "--data-dir", str(data)],
                                              cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert refused.returncode == 1 and "never overwrites" in refused.stderr
            assert (await api.post("/classes/Note", {"i": 99}, master=True)).status == 201
    finally:
        server.stop()
    # Restore: the backup file becomes a data directory's data.db.
    restored = tmp_path / "restored"
    restored.mkdir()
    backup.rename(restored / "data.db")
    again = embedded("backup-2", restored)
    try:
        async with aiohttp.ClientSession() as session:
            api = await client_for(again, session)
            reply = await api.get("/classes/Note", {"limit": "1000", "order": "i"}, master=True)
            assert [row["i"] for row in reply.body["results"]] == list(range(30))
    finally:
        again.stop()


def test_backup_refuses_other_stores(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bapp", "backup", str(tmp_path / "x.db"), "--database-uri",
                           "memory://"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "backup copies the embedded SQLite store" in done.stderr


def test_store_selection_by_uri(tmp_path):
    from bapp.config import ConfigError, Settings, store_of
    from bapp.server import build_storage, storage_line
    from bapp.storage.sql.sqlite import SqliteAdapter

    assert store_of(None, tmp_path).path == tmp_path.absolute() / "data.db"
    assert store_of("sqlite:///abs/app.db").path == Path("/abs/app.db")
    assert store_of("sqlite:rel/app.db").path == Path.cwd() / "rel" / "app.db"
    assert store_of("memory://").kind == "memory"
    assert store_of("postgresql://u@h/db").kind == "postgres"
    assert store_of("mongodb+srv://h/db").kind == "mongodb"
    for bad in ("sqlite://host/app.db", "sqlite:", "ftp://x", "nothing"):
        with pytest.raises(ConfigError):
            store_of(bad)
    settings = Settings(data_dir=str(tmp_path))
    storage = build_storage(settings)
    assert isinstance(storage, SqliteAdapter) and storage.path == str(tmp_path / "data.db")
    assert not (tmp_path / "data.db").exists()  # nothing is created before the server starts
    assert storage_line(settings) == f"data: SQLite {tmp_path / 'data.db'}; files: {tmp_path / 'files'}"
    assert storage_line(Settings(database_uri="memory://", files_path=str(tmp_path / "f"))) == (
        f"data: in-memory store (lost when the server stops); files: {tmp_path / 'f'}")
