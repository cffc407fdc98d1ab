"""Push notifications (Parse Server's ``push`` option with a Python adapter).

``POST /push`` records a ``_PushStatus`` (Parse Server's fields: pushTime,
query, payload, source, status, numSent, pushHash, ACL ``{}``) and answers
at once with its id; delivery runs in the background: the audience (``where``
or ``channels`` over ``_Installation``, devices with a token only) is read in
batches of 100 and handed to the adapter's ``send(body, installations)``
(plus ``options`` when it takes a third argument), plain or ``async``.

``send`` may return Parse's per-device results
(``[{"device": {"deviceType", "deviceToken"}, "transmitted": bool}, ...]``);
returning ``None`` counts every installation of the batch as sent. The
status goes ``pending`` -> ``running`` -> ``succeeded`` with ``numSent``,
``numFailed``, ``sentPerType`` and ``failedPerType``, or ``failed`` with
``errorMessage`` when the adapter raises. ``data.badge`` (a number or
``"Increment"``) is applied to the audience's installations first, through
the write pipeline.

Scheduling (``push_time``) is not provided: as Parse Server without a
scheduler, the push is sent at once."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from bapp import errors
from bapp.config import ConfigError
from bapp.core import plugins
from bapp.core.auth import Auth
from bapp.errors import ParseError
from bapp.model import types
from bapp.model.query import WhereValidator, parse_options

if TYPE_CHECKING:
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.push")
BATCH_SIZE = 100
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _misconfigured(message: str) -> ParseError:
    return ParseError(errors.PUSH_MISCONFIGURED, message)


def audience(body: dict) -> dict:
    """Parse Server's PushRouter.getQueryCondition."""
    has_where, has_channels = "where" in body, "channels" in body
    if has_where and has_channels:
        raise _misconfigured("Channels and query can not be set at the same time.")
    if has_where:
        where = body["where"]
        if not isinstance(where, dict):
            raise ParseError(errors.INVALID_QUERY, "where must be an object")
        return where
    if has_channels:
        channels = body["channels"]
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ParseError(errors.INVALID_CHANNEL_NAME, "channels must be an array of strings")
        return {"channels": {"$in": channels}}
    raise _misconfigured('Sending a push requires either "channels" or a "where" query.')


def _js_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _time_ms(body: dict, key: str) -> int:
    """``expiration_time``/``push_time``: seconds since the epoch or an ISO date."""
    value = body[key]
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value * 1000)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError):
        pass
    raise _misconfigured(f"{_js_value(value)} is not valid time.")


def check_times(body: dict) -> None:
    if "expiration_time" in body:
        body["expiration_time"] = _time_ms(body, "expiration_time")
    if "expiration_interval" in body:
        interval = body["expiration_interval"]
        if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval <= 0:
            raise _misconfigured("expiration_interval must be a number greater than 0")
    if body.get("expiration_time") and body.get("expiration_interval"):
        raise _misconfigured("Both expiration_time and expiration_interval cannot be set")
    if "push_time" in body:
        _time_ms(body, "push_time")


def _badge_update(data: dict) -> dict | None:
    badge = data.get("badge")
    if not badge:
        return None
    if isinstance(badge, str) and badge.lower() == "increment":
        return {"badge": {"__op": "Increment", "amount": 1}}
    if isinstance(badge, dict) and str(badge.get("__op", "")).lower() == "increment" \
            and isinstance(badge.get("amount"), (int, float)) and badge["amount"]:
        return {"badge": {"__op": "Increment", "amount": badge["amount"]}}
    if isinstance(badge, (int, float)) and not isinstance(badge, bool):
        return {"badge": badge}
    raise _misconfigured("Invalid value for badge, expected number or 'Increment' or {increment: number}")


def push_hash(data: dict) -> str:
    alert = data.get("alert")
    if isinstance(alert, str):
        return hashlib.md5(alert.encode(), usedforsecurity=False).hexdigest()
    if isinstance(alert, dict):
        return hashlib.md5(orjson.dumps(alert), usedforsecurity=False).hexdigest()
    return EMPTY_MD5


class PushService:
    def __init__(self, engine: Engine, config: dict | None) -> None:
        self.engine = engine
        self.options: dict = dict(config or {})
        self._send: Any = None
        self._with_options = False
        self._tasks: set[asyncio.Task] = set()
        if config:
            self._load(config)

    def _load(self, config: dict) -> None:
        if not config.get("module"):
            raise ConfigError("push: bapp has no built-in push adapter (APNs, FCM); "
                              "name a Python module defining send(body, installations) (\"module\": \"path/to/push.py\")")
        module = plugins.load_module(config["module"], "push")
        self._send = plugins.function(module, "send", "push", required=True)
        try:
            self._with_options = len(inspect.signature(self._send).parameters) >= 3
        except (TypeError, ValueError):
            self._with_options = False

    @property
    def configured(self) -> bool:
        return self._send is not None

    async def send(self, body: dict) -> str:
        """Records the push status and starts delivery; returns the status id."""
        where = audience(body)
        # A bad query is refused now, not found out in the background.
        WhereValidator(self.engine.schemas.fields_of("_Installation"), True, self.engine.settings.limits).validate(where)
        check_times(body)
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise ParseError(errors.INVALID_JSON, "data must be an object")
        badge = _badge_update(data)
        status = {
            "pushTime": types.iso(types.now()),
            "query": orjson.dumps(where).decode(),
            "payload": orjson.dumps(data).decode(),
            "source": "rest",
            "status": "pending",
            "numSent": 0,
            "pushHash": push_hash(data),
            "ACL": {},
        }
        if body.get("expiration_time"):
            status["expiry"] = body["expiration_time"]
        if body.get("expiration_interval"):
            status["expiration_interval"] = body["expiration_interval"]
        created = await self.engine.create("_PushStatus", status, Auth.as_master())
        status_id = created["objectId"]
        task = asyncio.create_task(self._deliver(status_id, body, where, badge))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return status_id

    async def drain(self) -> None:
        """Lets deliveries under way finish (the server is stopping)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def _set(self, status_id: str, update: dict) -> None:
        await self.engine.update("_PushStatus", status_id, update, Auth.as_master())

    async def _deliver(self, status_id: str, body: dict, where: dict, badge: dict | None) -> None:
        totals: dict[str, Any] = {"numSent": 0, "numFailed": 0, "sentPerType": {}, "failedPerType": {}}
        try:
            running = False
            async for batch in self._audience(where):
                if not running:
                    await self._set(status_id, {"status": "running"})
                    running = True
                if badge:
                    batch = [await self._apply_badge(i, badge) for i in batch]
                payload = dict(body)
                args = (payload, batch, self.options) if self._with_options else (payload, batch)
                results = await plugins.call(self._send, *args)
                self._count(totals, batch, results)
                await self._set(status_id, dict(totals))
            await self._set(status_id, {"status": "succeeded"})
        except Exception as exc:  # the adapter's failure is the push's status
            log.warning("_PushStatus %s: error while sending push: %r", status_id, exc)
            message = exc.message if isinstance(exc, ParseError) else (str(exc) or type(exc).__name__)
            try:
                await self._set(status_id, {"status": "failed", "errorMessage": {"message": message}})
            except Exception:
                log.exception("_PushStatus %s: cannot record the failure", status_id)

    async def _audience(self, where: dict):
        scoped = {"$and": [where, {"deviceToken": {"$exists": True}}]}
        last = None
        while True:
            page_where = scoped if last is None else {"$and": [scoped, {"objectId": {"$gt": last}}]}
            opts = parse_options({"where": page_where, "order": "objectId", "limit": BATCH_SIZE})
            rows = (await self.engine.find("_Installation", opts, Auth.as_master()))["results"]
            if not rows:
                return
            yield rows
            if len(rows) < BATCH_SIZE:
                return
            last = rows[-1]["objectId"]

    async def _apply_badge(self, installation: dict, badge: dict) -> dict:
        updated = await self.engine.update("_Installation", installation["objectId"], dict(badge), Auth.as_master())
        if "badge" in updated:
            return {**installation, "badge": updated["badge"]}
        value = badge["badge"]
        return {**installation, "badge": value if not isinstance(value, dict) else
                (installation.get("badge") or 0) + value["amount"]}

    @staticmethod
    def _count(totals: dict, batch: list[dict], results: Any) -> None:
        if results is None:
            results = [{"device": i, "transmitted": True} for i in batch]
        if not isinstance(results, list):
            return
        for result in results:
            device = result.get("device") if isinstance(result, dict) else None
            kind = device.get("deviceType") if isinstance(device, dict) else None
            if not kind:
                continue
            sent = bool(result.get("transmitted"))
            totals["numSent" if sent else "numFailed"] += 1
            per = totals["sentPerType" if sent else "failedPerType"]
            per[kind] = per.get(kind, 0) + 1
