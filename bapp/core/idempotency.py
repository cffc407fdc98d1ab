"""Request idempotency (Parse Server's ``idempotencyOptions``).

A request carrying ``X-Parse-Request-Id`` on a covered path is recorded in
``_Idempotency`` (``reqId``, ``expire``) before it runs. The record's unique
index on ``reqId`` decides: the write that lands first runs the request, every
other one answers 159 "Duplicate request" and writes nothing. There is no
read-then-write, so concurrent duplicates are decided by the database too.

Expired records are not relied upon to disappear by themselves (only MongoDB
has TTL indexes): a duplicate whose record has expired deletes it and tries
the unique write once more, and expired records are swept now and then."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from bapp import errors
from bapp.core.auth import Auth
from bapp.errors import ParseError
from bapp.model import types

if TYPE_CHECKING:
    from bapp.core.engine import Engine

CLASS = "_Idempotency"
SWEEP_INTERVAL = 60.0  # seconds between deletions of expired records

# The routes Parse Server guards (effective method, path under the mount):
# object and user creates/updates, installations, functions and jobs.
COVERED_ROUTES = (
    ("POST", re.compile(r"^/classes/[^/]+/?$")),
    ("PUT", re.compile(r"^/classes/[^/]+/[^/]+/?$")),
    ("POST", re.compile(r"^/users/?$")),
    ("PUT", re.compile(r"^/users/[^/]+/?$")),
    ("POST", re.compile(r"^/installations/?$")),
    ("PUT", re.compile(r"^/installations/[^/]+/?$")),
    ("POST", re.compile(r"^/functions/[^/]+/?$")),
    ("POST", re.compile(r"^/jobs/[^/]+/?$")),
)


def compile_paths(paths: list[str]) -> list[re.Pattern]:
    """Parse's path entries are regular expressions matched from the start
    of the path without the mount and its leading slash (``classes/.*``)."""
    return [re.compile(p if p.startswith("^") else "^" + p) for p in paths]


class Idempotency:
    def __init__(self, engine: Engine, paths: list[str], ttl: int) -> None:
        self.engine = engine
        self.patterns = compile_paths(paths)
        self.ttl = ttl
        self._last_sweep = time.monotonic()

    @property
    def enabled(self) -> bool:
        return bool(self.patterns)

    def covers(self, method: str, path: str) -> bool:
        if not any(method == m and rx.match(path) for m, rx in COVERED_ROUTES):
            return False
        relative = path[1:] if path.startswith("/") else path
        return any(rx.match(relative) for rx in self.patterns)

    async def start(self) -> None:
        fields = self.engine.schemas.fields_of(CLASS)
        await self.engine.storage.ensure_index(CLASS, fields, {"reqId": 1}, "reqId_1", unique=True)

    async def claim(self, request_id: str) -> None:
        """Records the request id; raises 159 when it was seen within the TTL."""
        if await self._record(request_id):
            await self._sweep_now_and_then()
            return
        if await self._drop_expired(request_id) and await self._record(request_id):
            return
        raise ParseError(errors.DUPLICATE_REQUEST, "Duplicate request")

    async def _record(self, request_id: str) -> bool:
        expire = types.now() + timedelta(seconds=self.ttl)
        try:
            await self.engine.create(CLASS, {"reqId": request_id, "expire": types.date_json(expire)},
                                     Auth.as_master())
        except ParseError as exc:
            if exc.code == errors.DUPLICATE_VALUE:
                return False
            raise
        return True

    def _expired(self, extra: dict | None = None) -> dict:
        return {**(extra or {}), "expire": {"$lt": types.date_json(types.now())}}

    async def _drop_expired(self, request_id: str) -> bool:
        fields = self.engine.schemas.fields_of(CLASS)
        return bool(await self.engine.storage.delete_many(CLASS, fields, self._expired({"reqId": request_id})))

    async def _sweep_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL:
            return
        self._last_sweep = now
        await self.engine.storage.delete_many(CLASS, self.engine.schemas.fields_of(CLASS), self._expired())
