"""bapp migrate: a whole app copied between stores, compared object by object."""

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



async def test_memory_to_sqlite_then_sqlite_to_sqlite_through_the_command(api, tmp_path):
    info = await populate(api)
    before = await snapshot(api)
    first = tmp_path / "first"
    first_settings = make_settings(database_uri=f"sqlite://{first / 'data.db'}", files_path=str(first / "files"))
    client, server, session, reports = await migrated_copy(api, first_settings, runs=2)
    try:
        assert all(r.ok for r in reports) and reports[1].copied == 0, reports[1].summary()
        after = await snapshot(client)
        assert after == before, list(diff(after, before))[:5]
    finally:
        await session.close()
        await server.close()
    second = tmp_path / "second"
    command = [sys.executable, "-m", "bapp", "migrate", "--from", f"sqlite://{first / 'data.db'}",
               "--to", f"sqlite:{second / 'data.db'}", "--from-files", str(first / "files"),
               "--to-files", str(second / "files"), "--batch-size", "10"]
    done = await asyncio.to_thread(subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Item: 25/25" in done.stderr  # not a terminal: a line per step
    assert re.search(r"^Item\s+25\s+25$", done.stdout, re.M) and "counts match" in done.stdout
    again = await asyncio.to_thread(subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "objects copied: 0," in again.stdout, again.stdout + again.stderr
    target_settings = make_settings(database_uri=f"sqlite://{second / 'data.db'}", files_path=str(second / "files"))
    client, server, session = await serve_engine(target_settings, build_storage(target_settings))
    try:
        after = await snapshot(client)
        assert after == before, list(diff(after, before))[:5]
        await check_clients(client, info)
    finally:
        await session.close()
        await server.close()


def test_migrate_refuses_unknown_and_memory_stores(tmp_path):
    for source, message in (("memory://", "memory:// holds nothing"), ("ftp://x", "unsupported database URI")):
        done = subprocess.run([sys.executable, "-m", "bapp", "migrate", "--from", source, "--to",
                               f"sqlite:{tmp_path / 'x.db'}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and message in done.stderr, done.stderr
