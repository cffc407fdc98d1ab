"""A rate-limit counter shared by every instance through Redis.

It implements ``bapp.core.ratelimit.RateCounter``: one Lua call increments
the key and starts its window on the first hit, atomically for all
instances. When Redis cannot be reached within ``TIMEOUT`` the request is
counted by this instance's in-process counter instead (a limit then holds
per instance until Redis is back): a rate limiter must never turn a Redis
outage into failed requests."""

from __future__ import annotations

import logging
import time

from bapp.core.ratelimit import MemoryCounter, RateCounter

log = logging.getLogger("bapp.cluster")

TIMEOUT = 0.5
LOG_EVERY = 30.0

_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class RedisCounter:
    def __init__(self, url: str, prefix: str, fallback: RateCounter | None = None) -> None:
        from redis import asyncio as aioredis

        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
        self.prefix = prefix
        self.fallback = fallback or MemoryCounter()
        self._script = self.client.register_script(_HIT)
        self._logged_at = 0.0
        self.fallbacks = 0

    async def hit(self, key: str, window_ms: int) -> int:
        try:
            return int(await self._script(keys=[self.prefix + key], args=[max(1, int(window_ms))]))
        except Exception as exc:  # Redis down or slow: count here meanwhile
            self.fallbacks += 1
            now = time.monotonic()
            if now - self._logged_at > LOG_EVERY:
                self._logged_at = now
                log.error("rate limits: Redis unavailable (%s); counting per instance until it is back", exc)
            return await self.fallback.hit(key, window_ms)

    async def close(self) -> None:
        await self.client.aclose()
