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

    def send(self, frame: str) -> bool:
        """Queue a frame; never blocks.  False when the client is gone."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self._overflow()
            return False
        return True

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
