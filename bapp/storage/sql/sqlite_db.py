"""The SQLite connection layer: one writer thread, a pool of reader threads.

- WAL mode, so readers never wait for the writer and see only committed data.
- Every write runs in the single writer thread, one after another, so a
  conditional ``UPDATE ... WHERE`` is atomic with respect to every other write.
- ``synchronous=FULL`` (the default): a write is acknowledged only after its
  commit is on disk, so it survives ``kill -9`` of the server and a crash of
  the machine (``NORMAL``: it survives a crash of the server process only).
  To keep that affordable under load, writes that queue up while a commit is
  flushing are grouped into one transaction (group commit), each in its own
  savepoint, so one write failing never takes another with it.
- The event loop never touches a connection: callers await futures that the
  threads resolve.
- A ``transaction()`` (batch requests with ``transaction: true``) holds the
  writer for its duration; the task's reads inside it go to the writer too,
  so they see the transaction's own writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bapp import errors
from bapp.errors import ParseError
from bapp.model import matcher

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

# All regex work of one statement (MongoDB's maxTimeMS in the MongoDB adapter);
# each evaluation also keeps the matcher's own per-value budget.
REGEX_STATEMENT_BUDGET = 2.0
GROUP_LIMIT = 128  # writes committed together at most
BUSY_TIMEOUT_MS = 10_000  # another process (a backup, bapp migrate) holding the file

_in_transaction: contextvars.ContextVar[int | None] = contextvars.ContextVar("bapp_sqlite_tx", default=None)


class BackupError(Exception):
    """A backup that cannot be written (message for the command line)."""


class _RegexState(threading.local):
    deadline: float | None = None
    error: BaseException | None = None


class _Regex:
    """``parse_regex(pattern, options, value)``: the matcher's compiled pattern
    run with a time budget. SQLite only reports that a function failed, so the
    failure is remembered here and the caller raises it after the statement."""

    def __init__(self) -> None:
        self.state = _RegexState()

    def start(self) -> None:
        self.state.deadline = time.monotonic() + REGEX_STATEMENT_BUDGET
        self.state.error = None

    def __call__(self, pattern: Any, options: Any, value: Any) -> int:
        if not isinstance(value, str) or not isinstance(pattern, str):
            return 0
        try:
            compiled = matcher.compile_regex(pattern, options or None)
            deadline = self.state.deadline
            if deadline is None or not matcher._HAS_TIMEOUT:
                return int(compiled.search(value) is not None)
            remaining = deadline - time.monotonic()
            if remaining <= 0:  # the statement's whole budget is spent (as MongoDB's maxTimeMS)
                self.state.error = ParseError(errors.TIMEOUT,
                                              "The query took too long (a costly regular expression?).")
                raise TimeoutError
            budget = min(matcher.DEFAULT_REGEX_TIMEOUT, remaining)
            try:
                return int(compiled.search(value, timeout=budget) is not None)
            except TimeoutError:  # one value's budget, as the matcher (and so the in-memory store)
                self.state.error = ParseError(
                    errors.INVALID_QUERY,
                    f"Regex timeout: evaluating the pattern took longer than {matcher.DEFAULT_REGEX_TIMEOUT}s")
                raise
        except ParseError as exc:
            self.state.error = exc
            raise

    def translate(self, exc: BaseException) -> BaseException:
        """The error a statement aborted by this function really means."""
        found, self.state.error = self.state.error, None
        return found if found is not None and isinstance(exc, sqlite3.OperationalError) else exc


def _configure(conn: sqlite3.Connection, regex: _Regex, functions: dict[str, tuple[int, Callable]]) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA cache_size = -32000")  # 32 MB per connection
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.create_function("parse_regex", 3, regex, deterministic=True)
    for name, (arity, fn) in functions.items():
        conn.create_function(name, arity, fn, deterministic=True)


class _WriteJob:
    __slots__ = ("args", "fn", "future", "loop", "tx")

    def __init__(self, fn: Callable, args: tuple, loop: asyncio.AbstractEventLoop,
                 future: asyncio.Future, tx: int | None) -> None:
        self.fn, self.args, self.loop, self.future, self.tx = fn, args, loop, future, tx


_BEGIN, _COMMIT, _ROLLBACK = "begin", "commit", "rollback"
_SYNCHRONOUS = ("full", "extra", "normal")
_STOP = object()


class SqliteDatabase:
    """A SQLite file opened for one server process."""

    def __init__(self, path: str | os.PathLike[str], readers: int = 4,
                 functions: dict[str, tuple[int, Callable]] | None = None, synchronous: str = "full",
                 prepare: Callable[[sqlite3.Connection], None] | None = None) -> None:
        if synchronous.lower() not in _SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {synchronous!r}")
        self.synchronous = synchronous.upper()
        self.prepare = prepare  # run on the connection before every job (the adapter's table cache)
        self.path = Path(path)
        self.readers = readers
        self.functions = functions or {}
        self.regex = _Regex()
        self._queue: queue.Queue = queue.Queue()
        self._writer: threading.Thread | None = None
        self._writer_conn: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._tx_ids = itertools.count(1)
        self._tx_lock: asyncio.Lock | None = None

    # ------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        if self._writer is not None:
            return
        await asyncio.to_thread(self._open_writer)
        self._tx_lock = asyncio.Lock()
        self._pool = ThreadPoolExecutor(max_workers=self.readers, thread_name_prefix="bapp-sqlite-read")
        self._writer = threading.Thread(target=self._write_loop, name="bapp-sqlite-write", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun and ended explicitly.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        _configure(conn, self.regex, self.functions)
        return conn

    def _open_writer(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise OSError(f"{self.path}: cannot switch the database to WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        self._writer_conn = conn

    async def close(self) -> None:
        if self._writer is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(self._writer.join)
        self._writer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._conns_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        self._local = threading.local()
        if self._writer_conn is not None:
            # A clean close checkpoints the WAL into the main file.
            with contextlib.suppress(sqlite3.Error):
                self._writer_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer_conn.close()
            self._writer_conn = None

    # ------------------------------------------------------------ reads
    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs ``fn(conn, *args)`` on a reader connection (or, inside a
        transaction, on the writer, to see the transaction's writes)."""
        if _in_transaction.get() is not None:
            return await self._submit(fn, args)
        if self._pool is None:
            raise RuntimeError("the SQLite store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run_read, fn, args)

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._conns_lock:
                self._reader_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable, args: tuple) -> Any:
        conn = self._reader()
        self.regex.start()
        try:
            if self.prepare is not None:
                self.prepare(conn)
            return fn(conn, *args)
        except sqlite3.OperationalError as exc:
            mapped = self.regex.translate(exc)
            if mapped is exc:
                raise
            raise mapped from None
        finally:
            if conn.in_transaction:
                conn.rollback()

    # ------------------------------------------------------------ writes
    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs ``fn(conn, *args)`` in the writer thread, atomically (its own
        savepoint), and returns once its commit is durable."""
        return await self._submit(fn, args)

    async def _submit(self, fn: Callable, args: tuple, tx: int | None = None) -> Any:
        if self._writer is None:
            raise RuntimeError("the SQLite store is not open")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_WriteJob(fn, args, loop, future, tx if tx is not None else _in_transaction.get()))
        return await future

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Every write (and read) of this task inside the block commits or
        rolls back together. Other writers wait until it ends."""
        if _in_transaction.get() is not None:  # nested: part of the outer one
            yield
            return
        assert self._tx_lock is not None
        async with self._tx_lock:
            tx = next(self._tx_ids)
            await self._submit(_BEGIN, (), tx)
            token = _in_transaction.set(tx)
            try:
                yield
            except BaseException:
                _in_transaction.reset(token)
                await self._submit(_ROLLBACK, (), tx)
                raise
            _in_transaction.reset(token)
            await self._submit(_COMMIT, (), tx)

    def _write_loop(self) -> None:
        conn = self._writer_conn
        assert conn is not None
        while True:
            job = self._queue.get()
            if job is _STOP:
                break
            if job.fn == _BEGIN:
                self._run_transaction(conn, job)
                continue
            group = [job]
            while len(group) < GROUP_LIMIT:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP or more.fn == _BEGIN:
                    self._queue.put(more)  # handled after this group (order among these is kept below)
                    break
                group.append(more)
            self._run_group(conn, group)

    def _run_group(self, conn: sqlite3.Connection, group: list[_WriteJob]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in group:
                outcomes.append(self._run_one(conn, job))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # the commit itself failed: nothing of the group is stored
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(group)
        for job, outcome in zip(group, outcomes, strict=True):
            _resolve(job, *outcome)

    def _run_one(self, conn: sqlite3.Connection, job: _WriteJob) -> tuple[bool, Any]:
        conn.execute("SAVEPOINT job")
        self.regex.start()
        try:
            if self.prepare is not None:
                self.prepare(conn)
            result = job.fn(conn, *job.args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return False, self.regex.translate(exc)
        conn.execute("RELEASE job")
        return True, result

    def _run_transaction(self, conn: sqlite3.Connection, begin: _WriteJob) -> None:
        """Runs the jobs of one transaction until its commit or rollback;
        other jobs wait (in order) until it is over."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            _resolve(begin, False, exc)
            return
        _resolve(begin, True, None)
        waiting: list = []
        while True:
            job = self._queue.get()
            if job is _STOP or job.tx != begin.tx:
                waiting.append(job)  # _STOP too: re-queued once the transaction ends
                if job is _STOP:
                    break
                continue
            if job.fn in (_COMMIT, _ROLLBACK):
                try:
                    conn.execute(job.fn.upper())
                    _resolve(job, True, None)
                except sqlite3.Error as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    _resolve(job, False, exc)
                break
            _resolve(job, *self._run_one(conn, job))
        if conn.in_transaction:  # stopped mid-transaction: nothing of it is kept
            conn.execute("ROLLBACK")
        for job in waiting:
            self._queue.put(job)

    # ------------------------------------------------------------ backup
    async def backup(self, target: str | os.PathLike[str]) -> int:
        """A consistent copy of the database while it stays in use."""
        return await asyncio.to_thread(backup_file, self.path, target)


def _resolve(job: _WriteJob, ok: bool, value: Any) -> None:
    def settle() -> None:
        if job.future.done():  # the awaiting task was cancelled
            return
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)

    job.loop.call_soon_threadsafe(settle)


def backup_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> int:
    """Copies the SQLite database ``source`` to the new file ``target`` with
    SQLite's online backup (a consistent snapshot, even while a server keeps
    writing); returns the number of pages copied."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if target.exists():
        raise BackupError(f"{target} exists; a backup never overwrites a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        src.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dst = sqlite3.connect(partial)
        try:
            # pages=-1: everything in one step, inside one read transaction, so
            # the copy is one moment of the database however busy the writer.
            src.backup(dst, pages=-1)
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} failed: {exc}") from None
    finally:
        src.close()
    os.replace(partial, target)
    return pages
