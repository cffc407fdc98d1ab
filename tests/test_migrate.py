"""bapp migrate: a whole app copied between stores, compared object by object.

The source is the in-memory store and the hops are chosen by the tests
themselves, so the module is not run once per store."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys

from conftest import Client, make_settings, start_server
from migration_support import check_clients, diff, populate, snapshot
from server_process import ROOT

from bapp import migrate
from bapp.core.engine import Engine
from bapp.server import attach_files, build_app, build_storage

SINGLE_STORE = True


async def serve_engine(settings, storage):
    """A server on an existing store (what ``bapp serve`` on the target does)."""
    engine = Engine(settings, storage)
    attach_files(engine)
    server, session = await start_server(settings, lambda s: build_app(s, engine))
    return Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server), server, session


async def migrated_copy(api: Client, target_settings, *, runs: int = 1):
    """Copies ``api``'s app into the store of ``target_settings`` ``runs``
    times and serves the result."""
    target_storage = build_storage(target_settings)
    target = Engine(target_settings, target_storage)
    attach_files(target)
    await target.start()
    reports = []
    for _ in range(runs):
        reports.append(await migrate.copy_app(api.engine, target, api.engine.files.adapter, target.files.adapter,
                                              batch_size=7))
    await target.stop()
    client, server, session = await serve_engine(target_settings, build_storage(target_settings))
    return client, server, session, reports


async def test_memory_to_memory_copies_everything_and_reruns_add_nothing(api, tmp_path):
    info = await populate(api)
    before = await snapshot(api)
    target_settings = make_settings(database_uri="memory://", files_path=str(tmp_path / "target-files"))
    storage = build_storage(target_settings)
    target = Engine(target_settings, storage)
    attach_files(target)
    await target.start()
    first = await migrate.copy_app(api.engine, target, api.engine.files.adapter, target.files.adapter, batch_size=7)
    second = await migrate.copy_app(api.engine, target, api.engine.files.adapter, target.files.adapter,
                                    batch_size=7)
    assert first.ok and second.ok, first.summary() + second.summary()
    assert first.copied > 25 and first.skipped == 0 and first.files_copied == 1
    assert second.copied == 0 and second.skipped == first.copied and second.files_skipped == 1
    counts = {c.name: (c.source, c.target) for c in first.counts}
    assert counts["Item"] == (25, 25)
    assert counts["_User"] == (2, 2)
    assert counts["_Join:fans:Item"] == (2, 2)
    assert counts["_Join:users:_Role"] == (1, 1)
    assert counts["files"] == (1, 1)
    # The in-memory store lives in its adapter object: serve the same one.
    client, server, session = await serve_engine(target_settings, storage)
    try:
        after = await snapshot(client)
        assert after == before, list(diff(after, before))[:5]
        await check_clients(client, info)
    finally:
        await session.close()
        await server.close()


def test_progress_bar_and_report_text():
    stream = io.StringIO()
    stream.isatty = lambda: True  # type: ignore[method-assign]
    bar = migrate.Progress.for_stream(stream)
    bar.update("Item", 5, 10)
    bar.finish("Item", 10, 10)
    assert "[###############" in stream.getvalue() and stream.getvalue().endswith("10/10\n")
    plain = io.StringIO()
    migrate.Progress.for_stream(plain).finish("Item", 10, 10)
    assert plain.getvalue() == "Item: 10/10\n"
    report = migrate.Report(counts=[migrate.ClassCount("Item", 3, 2)])
    assert not report.ok and "MISMATCH" in report.summary()



def migrate_command(source: str, target: str, source_files, target_files) -> list[str]:
    return [sys.executable, "-m", "bapp", "migrate", "--from", source, "--to", target,
            "--from-files", str(source_files), "--to-files", str(target_files), "--batch-size", "10"]


async def run_migrate(command: list[str]) -> subprocess.CompletedProcess:
    done = await asyncio.to_thread(subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


async def assert_serves(settings, before: dict, info: dict) -> dict:
    """The store serves exactly ``before`` and its users still work; returns
    the snapshot after that check (which logs in, so adds a session)."""
    client, server, session = await serve_engine(settings, build_storage(settings))
    try:
        after = await snapshot(client)
        assert after == before, list(diff(after, before))[:5]
        await check_clients(client, info)
        return await snapshot(client)
    finally:
        await session.close()
        await server.close()


async def test_round_trip_memory_sqlite_postgres_sqlite(api, tmp_path):
    """Every hop keeps every object: memory -> SQLite (in process, twice),
    SQLite -> PostgreSQL -> SQLite through the command."""
    info = await populate(api)
    before = await snapshot(api)
    first = tmp_path / "first"
    first_uri = f"sqlite://{first / 'data.db'}"
    first_settings = make_settings(database_uri=first_uri, files_path=str(first / "files"))
    client, server, session, reports = await migrated_copy(api, first_settings, runs=2)
    try:
        assert all(r.ok for r in reports) and reports[1].copied == 0, reports[1].summary()
        after = await snapshot(client)
        assert after == before, list(diff(after, before))[:5]
    finally:
        await session.close()
        await server.close()

    pg_uri = await fresh_postgres_database("bapp_migrate_round_trip")
    pg_files = tmp_path / "pg-files"
    done = await run_migrate(migrate_command(first_uri, pg_uri, first / "files", pg_files))
    assert "Item: 25/25" in done.stderr  # not a terminal: a line per step
    assert re.search(r"^Item\s+25\s+25$", done.stdout, re.M) and "counts match" in done.stdout
    again = await run_migrate(migrate_command(first_uri, pg_uri, first / "files", pg_files))
    assert "objects copied: 0," in again.stdout and "files copied: 0," in again.stdout, again.stdout
    before = await assert_serves(make_settings(database_uri=pg_uri, files_path=str(pg_files)), before, info)

    last = tmp_path / "last"
    last_uri = f"sqlite:{last / 'data.db'}"
    await run_migrate(migrate_command(pg_uri, last_uri, pg_files, last / "files"))
    await assert_serves(make_settings(database_uri=last_uri, files_path=str(last / "files")), before, info)


async def fresh_postgres_database(name: str) -> str:
    """A new, empty database on the tests' PostgreSQL server."""
    from stores import PostgresStore, _sql, _with_database

    base = await asyncio.to_thread(PostgresStore.base_uri)
    await _sql(base, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    return _with_database(base, name)


def test_migrate_refuses_unknown_and_memory_stores(tmp_path):
    for source, message in (("memory://", "memory:// holds nothing"), ("ftp://x", "unsupported database URI")):
        done = subprocess.run([sys.executable, "-m", "bapp", "migrate", "--from", source, "--to",
                               f"sqlite:{tmp_path / 'x.db'}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and message in done.stderr, done.stderr
