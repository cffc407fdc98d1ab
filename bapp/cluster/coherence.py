"""Caches that stay true across instances.

Every instance caches sessions, role sets and class schemas. The engine
announces each invalidation it makes (``engine.announce(kind, key)``); this
module sends it on the bus, and applies what other instances announce to
the local caches. A change is announced after it is committed, so an
instance that drops an entry and reloads it reads the new state; a load
that was already under way is not cached (the caches' generation counters),
so a revoked session or a removed role cannot come back from a slow read.

While the bus is down nothing can be heard, so the session and role TTLs
shrink to ``FALLBACK_TTL`` and schemas are reloaded at that pace; when the
bus is back every cache is dropped once, since announcements may have been
missed meanwhile. Parse Server's Redis cache adapter shares one cache
through Redis instead (a round trip per lookup); bapp keeps lookups
in-process and sends only invalidations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import orjson

from bapp.cluster.bus import Bus
from bapp.core import webhooks

if TYPE_CHECKING:
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.cluster")

FALLBACK_TTL = 1.0
KINDS = frozenset({"session", "user", "roles", "schema", "hooks"})


class Coherence:
    def __init__(self, engine: Engine, bus: Bus, channel: str, origin: str | None = None) -> None:
        self.engine = engine
        self.bus = bus
        self.channel = channel
        self.origin = origin or uuid.uuid4().hex
        self.received = 0
        self._normal_ttl = (engine.auth.session_ttl, engine.auth.role_ttl)
        self._schema_reload: asyncio.Task | None = None
        self._fallback: asyncio.Task | None = None
        self._was_up = False
        self._tasks: set[asyncio.Task] = set()
        bus.subscribe(channel, self.on_message)
        bus.on_state = self.on_state
        engine.announce = self.announce

    # ------------------------------------------------------------ sending
    def announce(self, kind: str, key: str | None) -> None:
        self.bus.publish(self.channel, orjson.dumps({"o": self.origin, "k": kind, "v": key}))

    # ------------------------------------------------------------ receiving
    async def on_message(self, payload: bytes) -> None:
        try:
            message = orjson.loads(payload)
            origin, kind, key = message["o"], message["k"], message.get("v")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a malformed invalidation message")
            return
        if origin == self.origin or kind not in KINDS:
            return
        self.received += 1
        self.apply(kind, key if isinstance(key, str) else None)

    def apply(self, kind: str, key: str | None) -> None:
        auth = self.engine.auth
        if kind == "session":
            auth.drop_session(key)
        elif kind == "user":
            if key:
                auth.drop_user(key)
        elif kind == "roles":
            auth.drop_roles()
        elif kind == "schema":
            self.reload_schemas()
        elif kind == "hooks":
            self._background(webhooks.load(self.engine), "reloading the webhooks")

    def reload_schemas(self) -> None:
        """One reload for a burst of schema announcements (a reload that is
        queued behind a running one covers every change announced so far)."""
        if self._schema_reload is not None and not self._schema_reload.done():
            self._schema_reload.add_done_callback(lambda _: self.reload_schemas())
            return
        self._schema_reload = asyncio.get_running_loop().create_task(self._reload())

    def _background(self, work: Awaitable[None], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("%s after a change on another instance failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reload(self) -> None:
        try:
            await self.engine.schemas.load()
        except Exception:
            log.exception("reloading the class schemas after a change on another instance failed")

    # ------------------------------------------------------------ bus state
    def on_state(self, up: bool) -> None:
        auth = self.engine.auth
        if up:
            auth.session_ttl, auth.role_ttl = self._normal_ttl
            if self._fallback is not None:
                self._fallback.cancel()
                self._fallback = None
            if self._was_up:  # back after an outage: announcements may be lost
                self.drop_everything()
            self._was_up = True
            return
        auth.session_ttl = min(auth.session_ttl, FALLBACK_TTL)
        auth.role_ttl = min(auth.role_ttl, FALLBACK_TTL)
        auth.drop_session(None)
        auth.drop_roles()
        if self._fallback is None:
            with contextlib.suppress(RuntimeError):  # no loop: closing down
                self._fallback = asyncio.get_running_loop().create_task(self._poll_schemas())

    def drop_everything(self) -> None:
        self.engine.auth.drop_session(None)
        self.engine.auth.drop_roles()
        self.reload_schemas()
        self._background(webhooks.load(self.engine), "reloading the webhooks")

    async def _poll_schemas(self) -> None:
        while True:
            await asyncio.sleep(FALLBACK_TTL)
            await self._reload()

    async def close(self) -> None:
        self.bus.on_state = None
        for task in (self._fallback, self._schema_reload):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
