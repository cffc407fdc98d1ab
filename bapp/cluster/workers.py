"""``bapp serve --workers N``: N processes serving one port.

The supervisor starts each worker as ``python -m bapp serve`` with the same
arguments (less ``--workers``), so a worker is a full instance. Workers bind
the port themselves with SO_REUSEPORT where the OS has it (the kernel
spreads connections over them); elsewhere the supervisor binds it once and
the workers inherit the listening socket. The first worker starts alone, so
start-up work (schema files, the first admin) runs once before the others
begin; a worker that dies is restarted with backoff.

Without ``--redis-url`` the supervisor also relays bus frames between its
workers over a Unix socket (``bapp.cluster.bus.RelayBus``), so LiveQuery
events and cache invalidations cross workers on one host without Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bapp.cluster.bus import read_frame

log = logging.getLogger("bapp.cluster")

INDEX_ENV = "BAPP_WORKER_INDEX"
READY_ENV = "BAPP_WORKER_READY_FD"
LISTEN_ENV = "BAPP_WORKER_LISTEN_FD"
RELAY_ENV = "BAPP_WORKER_RELAY"

START_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
RESTART_BACKOFF_MAX = 30.0


def is_worker() -> bool:
    return INDEX_ENV in os.environ


def worker_index() -> int:
    return int(os.environ.get(INDEX_ENV, "0"))


def without_workers_flag(argv: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            out.append(arg)
    return out


def inherited_socket() -> socket.socket | None:
    """The listening socket the supervisor passed down, if it did."""
    fd = os.environ.get(LISTEN_ENV)
    return socket.socket(fileno=int(fd)) if fd else None


def signal_ready() -> None:
    """Tells the supervisor that this worker is serving (once)."""
    fd = os.environ.pop(READY_ENV, None)
    if fd:
        with contextlib.suppress(OSError):
            os.write(int(fd), b"1")
            os.close(int(fd))


# ------------------------------------------------------------------ relay

class Relay:
    """Copies every frame a worker sends to every other worker."""

    def __init__(self) -> None:
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.AbstractServer | None = None

    async def start(self, path: str) -> None:
        self.server = await asyncio.start_unix_server(self._serve, path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                _, _, frame = await read_frame(reader)
                for other in list(self.writers):
                    if other is not writer and not other.is_closing():
                        other.write(frame)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in list(self.writers):
            writer.close()


# ------------------------------------------------------------------ supervisor

@dataclass
class Supervisor:
    argv: list[str]
    count: int
    host: str
    port: int
    use_relay: bool
    procs: dict[int, asyncio.subprocess.Process] = field(default_factory=dict)
    stopping: bool = False
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="bapp-workers-")
        self.relay_path = str(Path(self.dir) / "relay.sock")
        self.listen: socket.socket | None = None
        self.relay = Relay()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        try:
            if self.use_relay:
                await self.relay.start(self.relay_path)
            if not hasattr(socket, "SO_REUSEPORT"):
                self.listen = socket.create_server((self.host, self.port), backlog=1024)
                self.listen.set_inheritable(True)
            # The first worker alone: start-up work happens once.
            if not await self.spawn(0):
                return 1
            started = await asyncio.gather(*(self.spawn(i) for i in range(1, self.count)))
            if not all(started):
                self.stop()
            else:
                print(f"bapp: {self.count} workers serving http://{self.host}:{self.port}", flush=True)
            return await self.watch()
        finally:
            await self.relay.close()
            if self.listen is not None:
                self.listen.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    async def spawn(self, index: int) -> bool:
        """Starts worker ``index`` and waits until it serves; False if it died first."""
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env.update({INDEX_ENV: str(index), READY_ENV: str(write_fd), "BAPP_WORKERS": "1"})
        pass_fds = [write_fd]
        if self.use_relay:
            env[RELAY_ENV] = self.relay_path
        if self.listen is not None:
            env[LISTEN_ENV] = str(self.listen.fileno())
            pass_fds.append(self.listen.fileno())
        try:
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bapp", *self.argv, env=env,
                                                        pass_fds=pass_fds)
        finally:
            os.close(write_fd)
        self.procs[index] = proc
        try:
            return await self._wait_ready(read_fd, proc)
        finally:
            os.close(read_fd)

    async def _wait_ready(self, read_fd: int, proc: asyncio.subprocess.Process) -> bool:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_reader(read_fd, lambda: ready.done() or ready.set_result(os.read(read_fd, 1) == b"1"))
        exited = asyncio.ensure_future(proc.wait())
        try:
            done, _ = await asyncio.wait({ready, exited}, timeout=START_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
            return ready in done and ready.result()
        finally:
            loop.remove_reader(read_fd)
            exited.cancel()

    async def watch(self) -> int:
        """Restarts workers that die, until asked to stop; then stops them all."""
        backoff = 1.0
        while not self.stopping:
            waits = {asyncio.ensure_future(p.wait()): i for i, p in self.procs.items()}
            stop_wait = asyncio.ensure_future(self._stopped.wait())
            done, pending = await asyncio.wait({*waits, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if self.stopping:
                break
            for task in done:
                if task is stop_wait:
                    continue
                index = waits[task]
                log.error("worker %d exited with %s; restarting it in %.0f s", index, task.result(), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RESTART_BACKOFF_MAX)
                if not self.stopping:
                    await self.spawn(index)
        return await self.shutdown()

    def stop(self) -> None:
        self.stopping = True
        self._stopped.set()

    async def shutdown(self) -> int:
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return 0


def supervise(argv: list[str], count: int, host: str, port: int, use_relay: bool) -> int:
    return asyncio.run(Supervisor(without_workers_flag(argv), count, host, port, use_relay).run())
