"""The event hub: how committed writes travel from the write pipeline to
the LiveQuery matcher.

The write pipeline only calls ``publish``; whatever listens attaches a
handler.  ``InProcessHub`` hands events to handlers in the same process
through a bounded queue drained by one task (so events keep their commit
order and the write path never runs the matching itself).  A hub for several
server instances (Redis pub/sub, say) implements the same three methods:
``publish`` serialises the event to a channel, a listener task calls the
attached handlers, and nothing on the matcher side changes."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

log = logging.getLogger("bapp.livequery")

Handler = Callable[[str, dict | None, dict | None], Awaitable[None]]
Interest = Callable[[str], bool]

DEFAULT_QUEUE_SIZE = 10_000


class Hub(Protocol):
    """What the engine publishes to and what the LiveQuery server reads from."""

    async def publish(self, class_name: str, original: dict | None, current: dict | None) -> None:
        """Announce a committed write (original None on create, current None on delete)."""

    def attach(self, handler: Handler, interested: Interest | None = None) -> None:
        """Receive every published event; ``interested`` lets a local hub skip
        classes nobody subscribes to."""

    async def close(self) -> None:
        """Stop delivering; pending events are dropped."""


class ClassFilter:
    """``Settings.live_query_classes``: None means every class is live;
    entries are class names or anchored regular expressions (as Parse
    Server's ``liveQuery.classNames``)."""

    def __init__(self, names: list[str] | None) -> None:
        self.all = names is None
        self.exact = set(names or [])
        self.patterns = []
        for name in names or []:
            try:
                self.patterns.append(re.compile(name))
            except re.error:
                log.warning("live_query_classes entry %r is not a valid pattern; matched literally", name)
        self._memo: dict[str, bool] = {}

    def __call__(self, class_name: str) -> bool:
        if self.all:
            return True
        found = self._memo.get(class_name)
        if found is None:
            found = class_name in self.exact or any(p.fullmatch(class_name) for p in self.patterns)
            if len(self._memo) < 10_000:
                self._memo[class_name] = found
        return found


def _snapshot(obj: dict | None) -> dict | None:
    """A deep copy, so hooks that run after publish cannot change the event."""
    if obj is None:
        return None
    return orjson.loads(orjson.dumps(obj))


class InProcessHub:
    """Single-process hub: ``publish`` copies the event onto a bounded queue
    and returns; one task hands events to the handlers in order."""

    def __init__(self, live_classes: list[str] | None = None, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.is_live = ClassFilter(live_classes)
        self._handlers: list[tuple[Handler, Interest | None]] = []
        self._queue: asyncio.Queue[tuple[str, dict | None, dict | None]] | None = None
        self._queue_size = queue_size
        self._task: asyncio.Task | None = None
        self._closed = False
        self.published = 0

    def attach(self, handler: Handler, interested: Interest | None = None) -> None:
        self._handlers.append((handler, interested))

    def _wanted(self, class_name: str) -> bool:
        if not self.is_live(class_name):
            return False
        return any(interested is None or interested(class_name) for _, interested in self._handlers)

    async def publish(self, class_name: str, original: dict | None, current: dict | None) -> None:
        if self._closed or not self._wanted(class_name):
            return
        try:
            event = (class_name, _snapshot(original), _snapshot(current))
        except (TypeError, orjson.JSONEncodeError):  # never fail a committed write
            log.exception("cannot snapshot a %s event", class_name)
            return
        await self._enqueue(event)

    async def _enqueue(self, event: tuple[str, dict | None, dict | None]) -> None:
        queue = self._ensure_running()
        self.published += 1
        if queue.full():
            # Matching is behind: the writer waits here (backpressure from the
            # matcher only; slow sockets never reach this queue).
            await queue.put(event)
        else:
            queue.put_nowait(event)

    def _ensure_running(self) -> asyncio.Queue:
        if self._queue is None:
            self._queue = asyncio.Queue(self._queue_size)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(self._queue))
        return self._queue

    async def _run(self, queue: asyncio.Queue) -> None:
        while True:
            class_name, original, current = await queue.get()
            for handler, interested in self._handlers:
                if interested is not None and not interested(class_name):
                    continue
                try:
                    await handler(class_name, original, current)
                except Exception:  # one bad event must not stop delivery
                    log.exception("LiveQuery handler failed on a %s event", class_name)
            queue.task_done()

    async def drain(self) -> None:
        """Waits until every event published so far has been handled (tests, bench)."""
        if self._queue is not None and self._task is not None and not self._task.done():
            await self._queue.join()

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None


class ClusterHub(InProcessHub):
    """A hub for several instances: each committed write is matched here
    for this instance's subscribers and published once on the bus; the
    other instances match it for theirs. An instance ignores its own
    messages, so every subscription gets each event exactly once."""

    def __init__(self, bus: Any, channel: str, origin: str, live_classes: list[str] | None = None,
                 queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        super().__init__(live_classes, queue_size)
        self.bus = bus
        self.channel = channel
        self.origin = origin
        self.received = 0
        bus.subscribe(channel, self.on_message)

    async def publish(self, class_name: str, original: dict | None, current: dict | None) -> None:
        if self._closed or not self.is_live(class_name):
            return
        try:
            payload = orjson.dumps({"o": self.origin, "c": class_name, "b": original, "a": current})
        except (TypeError, orjson.JSONEncodeError):  # never fail a committed write
            log.exception("cannot encode a %s event", class_name)
            return
        self.bus.publish(self.channel, payload)
        if self._wanted(class_name):
            message = orjson.loads(payload)  # the same snapshot the others get
            await self._enqueue((class_name, message["b"], message["a"]))

    async def on_message(self, payload: bytes) -> None:
        try:
            message = orjson.loads(payload)
            origin, class_name = message["o"], message["c"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a malformed LiveQuery event from the bus")
            return
        if origin == self.origin or self._closed or not isinstance(class_name, str):
            return
        self.received += 1
        if self._wanted(class_name):
            await self._enqueue((class_name, message.get("b"), message.get("a")))
