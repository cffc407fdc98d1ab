"""Several instances on one database.

With ``--redis-url`` (or under the ``--workers`` supervisor, which relays
between the workers of one host) every instance joins a bus on which it
sends two things: the LiveQuery event of each committed write (delivered by
every instance to its own subscribers) and the cache invalidations a change
causes (sessions, users, roles, schemas; see ``coherence``). Without either,
an instance is on its own and nothing here runs."""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from bapp.cluster.bus import Bus, RedisBus, RelayBus
from bapp.cluster.coherence import Coherence
from bapp.cluster.ratelimit import RedisCounter
from bapp.cluster.workers import RELAY_ENV  # set by the --workers supervisor
from bapp.livequery.hub import ClusterHub

if TYPE_CHECKING:
    from bapp.config import Settings
    from bapp.core.engine import Engine

__all__ = ["Bus", "Coherence", "ClusterHub", "RELAY_ENV", "build_bus", "live_hub", "attach", "attach_rate_counters"]


BUS_KEY = web.AppKey("cluster_bus", object)


def build_bus(settings: Settings) -> Bus | None:
    if settings.redis_url:
        return RedisBus(settings.redis_url)
    relay = os.environ.get(RELAY_ENV)
    if relay:
        return RelayBus(relay)
    return None


def channel(settings: Settings, name: str) -> str:
    return f"bapp:{settings.app_id}:{name}"


def live_hub(bus: Bus, settings: Settings, origin: str) -> ClusterHub:
    return ClusterHub(bus, channel(settings, "livequery"), origin, settings.live_query_classes)


def new_origin() -> str:
    return uuid.uuid4().hex


def attach(app: web.Application, engine: Engine, bus: Bus, origin: str) -> Coherence:
    """Joins the bus when the app starts and leaves it on cleanup."""
    coherence = Coherence(engine, bus, channel(engine.settings, "invalidate"), origin)
    app[BUS_KEY] = bus

    async def start(_: web.Application) -> None:
        await bus.start()

    async def stop(_: web.Application) -> None:
        await coherence.close()
        await bus.close()

    app.on_startup.insert(0, start)
    app.on_cleanup.append(stop)
    return coherence


def attach_rate_counters(app: web.Application, engine: Engine) -> None:
    """Rate limits count in Redis where one is configured (``--redis-url``
    for every rule, or a rule's own ``redisUrl``), so they hold across
    instances."""
    limiter = engine.rate_limiter
    settings = engine.settings
    counters: dict[str, RedisCounter] = {}

    def counter(url: str) -> RedisCounter:
        if url not in counters:
            counters[url] = RedisCounter(url, channel(settings, "ratelimit:"))
        return counters[url]

    if settings.redis_url and limiter.rules:
        limiter.counter = counter(settings.redis_url)
    for rule in limiter.rules:
        if rule.redis_url:
            rule.counter = counter(rule.redis_url)
    if counters:
        async def close(_: web.Application) -> None:
            for one in counters.values():
                await one.close()

        app.on_cleanup.append(close)
