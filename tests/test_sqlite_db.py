"""The SQLite connection layer: one serializing writer, readers that do not
wait for it, transactions, durability settings, regex budget, backup."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading

import pytest

from bapp import errors
from bapp.errors import ParseError
from bapp.storage.sql.sqlite_db import BackupError, SqliteDatabase, backup_file


@pytest.fixture
async def db(tmp_path):
    database = SqliteDatabase(tmp_path / "data.db")
    await database.open()
    await database.write(lambda c: c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT)"))
    try:
        yield database
    finally:
        await database.close()


def _insert(conn: sqlite3.Connection, n: int) -> int:
    return conn.execute("INSERT INTO t (n) VALUES (?)", (n,)).lastrowid


async def test_wal_and_full_synchronous(db):
    mode = await db.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
    sync = await db.write(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
    assert (mode, sync) == ("wal", 2)  # 2 = FULL


async def test_conditional_updates_are_serialized(db):
    await db.write(lambda c: c.execute("INSERT INTO t (id, n) VALUES (1, 10)"))

    def take_one(conn: sqlite3.Connection) -> bool:
        return conn.execute("UPDATE t SET n = n - 1 WHERE id = 1 AND n > 0").rowcount == 1

    results = await asyncio.gather(*(db.write(take_one) for _ in range(50)))
    assert results.count(True) == 10
    assert await db.read(lambda c: c.execute("SELECT n FROM t WHERE id = 1").fetchone()[0]) == 0


async def test_a_failing_write_does_not_take_its_group_with_it(db):
    def fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (n) VALUES (99)")
        raise ValueError("refused")

    outcomes = await asyncio.gather(*(db.write(_insert, i) for i in range(20)), db.write(fail),
                                    *(db.write(_insert, i) for i in range(20, 40)), return_exceptions=True)
    assert [o for o in outcomes if isinstance(o, Exception)] == [outcomes[20]]
    assert str(outcomes[20]) == "refused"
    rows = await db.read(lambda c: [r[0] for r in c.execute("SELECT n FROM t ORDER BY n")])
    assert rows == list(range(40))


async def test_reads_do_not_wait_for_a_slow_write(db):
    await db.write(_insert, 1)
    started = threading.Event()
    release = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (n) VALUES (2)")
        started.set()
        release.wait(5)

    pending = asyncio.ensure_future(db.write(slow))
    await asyncio.to_thread(started.wait, 5)
    # The uncommitted row is invisible and the read answers at once.
    rows = await asyncio.wait_for(db.read(lambda c: c.execute("SELECT n FROM t").fetchall()), 2)
    assert rows == [(1,)]
    release.set()
    await pending
    assert await db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 2


async def test_transaction_commits_or_rolls_back_together(db):
    async with db.transaction():
        await db.write(_insert, 1)
        # The transaction's own reads see its writes.
        assert await db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 1
        await db.write(_insert, 2)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await db.write(_insert, 3)
            raise RuntimeError("abort")
    rows = await db.read(lambda c: [r[0] for r in c.execute("SELECT n FROM t ORDER BY n")])
    assert rows == [1, 2]


async def test_other_writers_wait_for_a_transaction(db):
    order: list[str] = []

    async def outsider() -> None:
        await db.write(_insert, 100)
        order.append("outsider")

    async with db.transaction():
        await db.write(_insert, 1)
        # Another request's task (tasks started here would inherit the transaction).
        task = asyncio.get_running_loop().create_task(outsider(), context=contextvars.Context())
        await asyncio.sleep(0.05)
        assert order == []
        order.append("transaction")
    await task
    assert order == ["transaction", "outsider"]


async def test_regex_function_and_its_budget(db):
    await db.write(lambda c: c.execute("INSERT INTO t (n, s) VALUES (1, 'Hello world'), (2, ?)",
                                       ("a" * 40 + "b",)))
    found = await db.read(lambda c: c.execute(
        "SELECT n FROM t WHERE parse_regex(?, ?, s)", ("^hello", "i")).fetchall())
    assert found == [(1,)]
    with pytest.raises(ParseError) as caught:
        await db.read(lambda c: c.execute("SELECT n FROM t WHERE parse_regex(?, '', s)", ("(a|aa)+$",)).fetchall())
    assert caught.value.code == errors.INVALID_QUERY
    assert caught.value.message.startswith("Regex timeout")
    # The connection stays usable afterwards.
    assert await db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 2


async def test_backup_of_an_open_database(db, tmp_path):
    await asyncio.gather(*(db.write(_insert, i) for i in range(100)))
    target = tmp_path / "backup.db"
    pages = await db.backup(target)
    assert pages > 0
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 100
    copy.close()
    with pytest.raises(BackupError, match="exists"):
        backup_file(db.path, target)
    with pytest.raises(BackupError, match="no database"):
        backup_file(tmp_path / "missing.db", tmp_path / "other.db")
