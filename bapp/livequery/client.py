"""One websocket connection: its identity, subscriptions and outgoing queue.

Every frame to a client goes through a bounded queue drained by the
client's own sender task, so the matcher only ever enqueues and a slow or
dead peer holds up nobody but itself.  When the queue is full the client
has fallen too far behind to be given a consistent stream: it is
disconnected (close code 1013, "try again later"); the SDKs reconnect and
resubscribe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bapp.livequery import protocol

if TYPE_CHECKING:
    from bapp.livequery.subscriptions import Subscription

log = logging.getLogger("bapp.livequery")

OVERFLOW_CLOSE_CODE = 1013
GOING_AWAY_CODE = 1001


class LiveClient:
    """A socket, and after ``connect`` a LiveQuery client with an id."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, queue_size: int) -> None:
        self.ws = ws
        self.request = request
        self.ip = request.remote
        self.id = ""  # set by connect; Parse's clientId must be truthy
        self.installation_id: str | None = None
        self.session_token: str | None = None
        self.master = False
        self.head = ""
        self.subscriptions: dict[Any, Subscription] = {}
        self.queue: asyncio.Queue[Any] = asyncio.Queue(queue_size)
        self.closed = False
        self.overflowed = False
        self.sent = 0
        self._sender = asyncio.get_running_loop().create_task(self._send_loop())

    @property
    def connected(self) -> bool:
        return bool(self.id)

    def identify(self, client_id: str, installation_id: str | None, token: str | None, master: bool) -> None:
        self.id = client_id
        self.installation_id = installation_id
        self.session_token = token
        self.master = master
        self.head = protocol.client_head(client_id, installation_id)

    def send(self, frame: str | Callable[[], Awaitable[str | None]]) -> bool:
        """Queue a frame; never blocks.  False when the client is gone."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self._overflow()
            return False
        return True

    def defer(self, job: Callable[[], Awaitable[str | None]]) -> bool:
        """Queue a frame still to be made (an event waiting for its
        afterLiveQueryEvent hook): the sender awaits ``job`` in turn, so the
        hook delays this client only and frames keep their order."""
        return self.send(job)  # type: ignore[arg-type]

    def _overflow(self) -> None:
        self.overflowed = True
        self.closed = True
        log.warning("LiveQuery client %s fell %d frames behind; disconnecting", self.id, self.queue.maxsize)
        self._drop_queue()
        asyncio.get_running_loop().create_task(self.close(OVERFLOW_CLOSE_CODE, b"event queue overflow"))

    def _drop_queue(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    async def _send_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                frame = await self.queue.get()
                if not isinstance(frame, str):
                    frame = await _made(frame)
                    if frame is None or self.closed:
                        continue
                await ws.send_str(frame)
                self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer went away mid-send
            self.closed = True

    async def close(self, code: int = GOING_AWAY_CODE, message: bytes = b"") -> None:
        """Close the socket; a peer that does not take the close frame in
        time has its transport aborted."""
        self.closed = True
        self._sender.cancel()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message), timeout=2.0)
        except Exception:  # includes the timeout
            transport = self.request.transport
            if transport is not None:
                transport.abort()

    async def finish(self) -> None:
        """After the socket closed: stop the sender."""
        self.closed = True
        self._sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._sender


async def _made(job: Callable[[], Awaitable[str | None]]) -> str | None:
    """A deferred frame; a job that fails is logged and sends nothing."""
    try:
        return await job()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("a deferred LiveQuery frame failed")
        return None
