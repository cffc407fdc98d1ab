"""The message bus between instances that share one database.

Two transports behind one small interface:

- ``RedisBus``: Redis pub/sub (``--redis-url``), for instances on any hosts;
- ``RelayBus``: a Unix socket to the ``--workers`` supervisor, which relays
  every frame to the other workers of the same host (no Redis needed).

``publish`` never blocks the caller and never raises: a message goes onto a
bounded queue that one task writes out. When the transport is down, the bus
logs it loudly, reconnects with backoff and reports its state through
``on_state`` so the cache layer can shorten its TTLs until it is back.
Messages published while it is down are dropped (and counted in the log):
the receivers cannot have heard of them, which is why they fall back to
short-lived caches meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger("bapp.cluster")

Handler = Callable[[bytes], Awaitable[None]]
StateHandler = Callable[[bool], None]

QUEUE_SIZE = 10_000
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0


class Bus(Protocol):
    connected: bool
    on_state: StateHandler | None

    def subscribe(self, channel: str, handler: Handler) -> None: ...
    def publish(self, channel: str, payload: bytes) -> None: ...
    async def start(self) -> None: ...
    async def close(self) -> None: ...


class _QueuedBus:
    """The queueing, state and reconnect loop both transports share; a
    transport implements ``_session`` (connect, then pump until it breaks)."""

    name = "bus"

    def __init__(self) -> None:
        self.connected = False
        self.on_state: StateHandler | None = None
        self.handlers: dict[str, list[Handler]] = {}
        self.dropped = 0
        self.outages = 0
        self._queue: asyncio.Queue[tuple[str, bytes]] | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self._ready = asyncio.Event()

    def subscribe(self, channel: str, handler: Handler) -> None:
        self.handlers.setdefault(channel, []).append(handler)

    def publish(self, channel: str, payload: bytes) -> None:
        if self._queue is None or self._closing:
            return
        if not self.connected:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait((channel, payload))
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("%s: outgoing queue full; a message to %s was dropped", self.name, channel)

    async def start(self) -> None:
        """Starts the connection loop and waits briefly for a first
        connection (start-up continues without one: REST never waits on it)."""
        self._queue = asyncio.Queue(QUEUE_SIZE)
        self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 2.0)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await _quietly(asyncio.shield(self._task))
        self._set_state(False)

    def _set_state(self, up: bool) -> None:
        if up == self.connected:
            return
        self.connected = up
        if up:
            self._ready.set()
            if self.dropped:
                log.warning("%s: connected again; %d message(s) were not sent while it was down",
                            self.name, self.dropped)
                self.dropped = 0
        else:
            self.outages += 1
        if self.on_state is not None:
            try:
                self.on_state(up)
            except Exception:
                log.exception("%s: state handler failed", self.name)

    async def _run(self) -> None:
        delay = BACKOFF_START
        while not self._closing:
            try:
                await self._session()
                delay = BACKOFF_START
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected or delay == BACKOFF_START:
                    log.error("%s unavailable (%s): caches fall back to short lifetimes and LiveQuery events "
                              "from other instances are missed until it is back; retrying", self.name, exc)
            self._set_state(False)
            if self._closing:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _session(self) -> None:
        raise NotImplementedError

    async def _deliver(self, channel: str, payload: bytes) -> None:
        for handler in self.handlers.get(channel, ()):
            try:
                await handler(payload)
            except Exception:  # one bad message must not stop the listener
                log.exception("%s: handler for %s failed", self.name, channel)

    async def _drain_queue(self, send: Callable[[str, bytes], Awaitable[None]]) -> None:
        assert self._queue is not None
        while True:
            channel, payload = await self._queue.get()
            await send(channel, payload)


class RedisBus(_QueuedBus):
    """Redis pub/sub through redis-py's asyncio client."""

    name = "Redis"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    async def _session(self) -> None:
        from redis import asyncio as aioredis

        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2.0, socket_keepalive=True,
                                         health_check_interval=2)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await client.ping()
            if self.handlers:
                await pubsub.subscribe(*self.handlers)
            self._set_state(True)

            async def send(channel: str, payload: bytes) -> None:
                await client.publish(channel, payload)

            async def listen() -> None:
                if not self.handlers:  # publish only: a ping notices a dead server
                    while True:
                        await client.ping()
                        await asyncio.sleep(1.0)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        channel = message["channel"]
                        if isinstance(channel, bytes):
                            channel = channel.decode()
                        await self._deliver(channel, message["data"])

            await _first_failure(self._drain_queue(send), listen())
        finally:
            await _quietly(pubsub.aclose())
            await _quietly(client.aclose())


# Relay frames: 4-byte length of the rest, 2-byte channel length, channel, payload.
_HEAD = struct.Struct("!IH")


def encode_frame(channel: str, payload: bytes) -> bytes:
    name = channel.encode()
    return _HEAD.pack(2 + len(name) + len(payload), len(name)) + name + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[str, bytes, bytes]:
    """(channel, payload, whole frame) of the next frame."""
    head = await reader.readexactly(_HEAD.size)
    size, name_len = _HEAD.unpack(head)
    body = await reader.readexactly(size - 2)
    return body[:name_len].decode(), body[name_len:], head + body


class RelayBus(_QueuedBus):
    """A worker's connection to the supervisor's relay (``--workers`` without Redis)."""

    name = "worker relay"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    async def _session(self) -> None:
        reader, writer = await asyncio.open_unix_connection(self.path)
        try:
            self._set_state(True)

            async def send(channel: str, payload: bytes) -> None:
                writer.write(encode_frame(channel, payload))
                await writer.drain()

            async def listen() -> None:
                while True:
                    channel, payload, _ = await read_frame(reader)
                    await self._deliver(channel, payload)

            await _first_failure(self._drain_queue(send), listen())
        finally:
            writer.close()
            await _quietly(writer.wait_closed())


async def _first_failure(*coros: Awaitable[None]) -> None:
    """Runs the coroutines until one ends; its error (if any) propagates."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
        raise ConnectionError("connection closed")
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _quietly(aw: Awaitable, timeout: float = 2.0) -> None:
    """Awaits a clean-up step, bounded in time; its failure changes nothing."""
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(aw, timeout)
