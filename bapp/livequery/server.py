"""The LiveQuery server: the websocket endpoint on the REST port and the
matcher that turns committed writes into events.

``handle`` is the aiohttp handler the dispatcher calls for a websocket
upgrade on the mount path; ``dispatch`` is attached to the hub and runs
once per committed write: it picks the candidate subscriptions from the
index, matches the object before and after the write, checks what each
subscriber may see and enqueues the frames."""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from bapp import errors
from bapp.core import permissions as perms
from bapp.core import read
from bapp.core.auth import Auth
from bapp.errors import ParseError
from bapp.http.envelope import ip_allowed
from bapp.livequery import access, events, hooks, protocol
from bapp.livequery.client import GOING_AWAY_CODE, LiveClient
from bapp.livequery.hub import Hub
from bapp.livequery.protocol import ProtocolError
from bapp.livequery.subscriptions import QueryRecord, Subscription, SubscriptionIndex, pick_index
from bapp.model import types
from bapp.model.matcher import LIVE_MAX_DEPTH, CompiledWhere, compile_where
from bapp.model.query import LOGICAL, QueryOptions, WhereValidator

if TYPE_CHECKING:
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.livequery")

HEARTBEAT_SECONDS = 10.0  # protocol-level ping, as Parse Server's websocketTimeout
CLIENT_QUEUE_SIZE = 1_000  # frames a client may fall behind before it is dropped
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_SUBSCRIPTIONS_PER_CLIENT = 1000

_UNSET = object()
_SKIP = object()  # a subscriber that could not be resolved this time (not an invalid token)


class LiveQueryServer:
    def __init__(self, engine: Engine, hub: Hub, *, heartbeat: float = HEARTBEAT_SECONDS,
                 queue_size: int = CLIENT_QUEUE_SIZE) -> None:
        self.engine = engine
        self.hub = hub
        self.heartbeat = heartbeat
        self.queue_size = queue_size
        self.index = SubscriptionIndex()
        self.sockets: set[LiveClient] = set()
        self.events_matched = 0
        hub.attach(self.dispatch, self.index.has_class)

    # ------------------------------------------------------------ connections
    async def handle(self, request: web.Request, engine: Engine | None = None) -> web.StreamResponse:
        """The websocket endpoint (no subprotocol, no compression, as Parse)."""
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, compress=False, max_msg_size=MAX_MESSAGE_BYTES)
        try:
            await ws.prepare(request)
        except web.HTTPException as exc:  # a broken handshake: a Parse-style 400
            raise ParseError(errors.INVALID_JSON, f"Invalid websocket upgrade: {exc.text or exc.reason}") from None
        client = LiveClient(ws, request, self.queue_size)
        self.sockets.add(client)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self.on_message(client, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self.on_message(client, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
                if client.closed:
                    break
        finally:
            self.sockets.discard(client)
            self.forget(client)
            await client.finish()
        return ws

    def forget(self, client: LiveClient) -> None:
        """Remove every subscription of a client (disconnect, reconnect)."""
        for sub in list(client.subscriptions.values()):
            self.index.remove(sub)
        client.subscriptions.clear()

    async def shutdown(self, app: web.Application | None = None) -> None:
        """Closes every socket (concurrently: a dead peer costs its own timeout only)."""
        await asyncio.gather(*(c.close(GOING_AWAY_CODE, b"server shutdown") for c in list(self.sockets)))

    async def on_message(self, client: LiveClient, raw: str | bytes) -> None:
        request_id = None
        try:
            data = protocol.decode(raw)
            msg = protocol.parse(data)
            request_id = getattr(msg, "request_id", None)
            if isinstance(msg, protocol.Connect):
                await self.connect(client, msg)
            elif isinstance(msg, protocol.Subscribe):
                await self.subscribe(client, msg)
            elif isinstance(msg, protocol.Unsubscribe):
                self.unsubscribe(client, msg.request_id)
            else:
                await self.query(client, msg.request_id)
        except ProtocolError as exc:
            client.send(protocol.error_frame(exc.code, exc.message, exc.reconnect, exc.request_id))
        except ParseError as exc:
            client.send(protocol.error_frame(exc.code, self.message_of(exc), False, request_id))
        except Exception:  # a bug: logged, the connection stays usable
            log.exception("LiveQuery message failed")
            client.send(protocol.error_frame(errors.INTERNAL_SERVER_ERROR, "Internal server error.", False,
                                             request_id))

    # ------------------------------------------------------------ ops
    async def connect(self, client: LiveClient, msg: protocol.Connect) -> None:
        settings = self.engine.settings
        if not _same(msg.application_id, settings.app_id):
            raise ProtocolError(protocol.INVALID_KEYS, "Key in request is not valid")
        master_key = msg.keys.get("masterKey")
        master = bool(master_key) and (_same(master_key, settings.master_key)
                                       or _same(master_key, settings.read_only_master_key))
        if master and not ip_allowed(client.ip, settings.master_key_ips):
            # The JS SDK sends Parse.masterKey on every connect when one is
            # configured; from elsewhere it is ignored (as Parse Server does
            # without keyPairs) rather than refused.
            master = False
        configured = [k for k in (settings.rest_api_key, settings.javascript_key, settings.client_key,
                                  settings.dotnet_key) if k]
        if configured and not master:
            offered = [v for k, v in msg.keys.items() if k != "masterKey"]
            if not any(_same(v, c) for v in offered for c in configured):
                raise ProtocolError(protocol.INVALID_KEYS, "Key in request is not valid")
        # Refused by the hook: an error frame, the socket stays unconnected.
        await hooks.before_connect(self.engine, client, msg, master, self.counts())
        if client.connected:  # a second connect starts over, as a new client
            self.forget(client)
        client.identify(str(uuid.uuid4()), msg.installation_id, msg.session_token, master)
        client.send(protocol.frame("connected", client.head))

    async def subscribe(self, client: LiveClient, msg: protocol.Subscribe) -> None:
        if not client.connected:
            raise ProtocolError(protocol.NOT_CONNECTED,
                                "Can not find this client, make sure you connect to server before subscribing",
                                reconnect=True)
        old = client.subscriptions.get(msg.request_id)
        if old is not None and msg.op == "update":  # update = unsubscribe quietly + subscribe
            self._remove(old)
        if old is None and len(client.subscriptions) >= MAX_SUBSCRIPTIONS_PER_CLIENT:
            # A deliberate bound (Parse Server has none): one socket cannot
            # make every write evaluate an unbounded number of queries.
            raise ProtocolError(errors.INVALID_QUERY,
                                f"A client may hold at most {MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions.",
                                msg.request_id)
        try:
            msg = await hooks.before_subscribe(self.engine, client, msg, self.counts())
            sub = await self._build(client, msg)
        except ParseError as exc:
            raise ProtocolError(exc.code, self.message_of(exc), msg.request_id) from None
        old = client.subscriptions.get(msg.request_id)
        if old is not None:  # a re-used requestId replaces the old subscription
            self._remove(old)
        client.subscriptions[msg.request_id] = sub
        self.index.add(sub)
        client.send(protocol.frame("subscribed", client.head, msg.request_id))

    def unsubscribe(self, client: LiveClient, request_id: Any) -> None:
        if not client.connected:
            raise ProtocolError(protocol.NOT_CONNECTED,
                                "Can not find this client, make sure you connect to server before unsubscribing",
                                reconnect=True)
        sub = client.subscriptions.get(request_id)
        if sub is None:
            raise ProtocolError(protocol.NOT_CONNECTED,
                                f"Cannot find subscription with clientId {client.id} subscriptionId {request_id}. "
                                "Make sure you subscribe to live query server before unsubscribing.", request_id)
        self._remove(sub)
        client.send(protocol.frame("unsubscribed", client.head, request_id))

    def _remove(self, sub: Subscription) -> None:
        if sub.client.subscriptions.get(sub.request_id) is sub:
            del sub.client.subscriptions[sub.request_id]
        self.index.remove(sub)

    async def query(self, client: LiveClient, request_id: Any) -> None:
        """``{op: "query"}``: the subscription's current results, run as a
        REST find with the subscriber's identity (default limit)."""
        sub = client.subscriptions.get(request_id) if client.connected else None
        if sub is None:
            raise ProtocolError(protocol.NOT_CONNECTED,
                                f"Cannot find subscription with clientId {client.id} subscriptionId {request_id}.",
                                request_id)
        ident = access.identity(client.master, sub.session_token or client.session_token)
        auth = await access.resolve_auth(self.engine, ident, client.installation_id)
        record = sub.record
        opts = QueryOptions(where=record.where, keys=list(sub.keys) if sub.keys else None)
        found = await self.engine.find(record.class_name, opts, auth)
        rows = []
        for row in found["results"]:
            if record.class_name == "_User":
                row.pop("sessionToken", None)
            rows.append(_json({**row, "className": record.class_name}))
        client.send(protocol.result_frame(client.head, request_id, rows))

    # ------------------------------------------------------------ subscribe checks
    async def _build(self, client: LiveClient, msg: protocol.Subscribe) -> Subscription:
        """Validates a subscription exactly as a REST find with the same
        identity would be checked; ParseError when it would be refused."""
        engine = self.engine
        class_name = types.check_class_name(msg.class_name)
        ident = access.identity(client.master, msg.session_token or client.session_token)
        auth = await access.resolve_auth(engine, ident)
        op = access.clp_operation(msg.where)
        perms.check_class_access(class_name, auth, op)
        schema = await access.schema_for(engine, class_name)
        group = await engine.auth.acl_group(auth)
        perms.clp_constraint(schema, op, auth, group)
        where = WhereValidator(schema.fields, auth.master, engine.settings.limits).validate(msg.where)
        _refuse_relation_fields(where, schema.fields)
        if class_name == "_Session" and not auth.master:
            where = _own_sessions(where, auth)
        watch = tuple(msg.watch) if msg.watch else None
        # Refuses a where or watch on protected fields (an oracle otherwise).
        read.check_protected_query(engine, schema, auth, group, where,
                                    QueryOptions(where=where, order=list(watch or ())))
        matcher = compile_where(where, max_depth=LIVE_MAX_DEPTH)
        record = self.index.record_for(class_name, where, lambda key: _record(class_name, key, where, matcher,
                                                                              op, schema.fields))
        return Subscription(client, msg.request_id, record, access.select_keys(msg.keys), watch, msg.session_token,
                            ident)

    # ------------------------------------------------------------ events
    async def dispatch(self, class_name: str, original: dict | None, current: dict | None) -> None:
        """One committed write: match, check visibility, enqueue frames."""
        records = self.index.candidates(class_name, original, current)
        if not records:
            return
        schema = await access.schema_for(self.engine, class_name)
        run = _EventRun(self, class_name, schema, original, current)
        for record in records:
            try:
                before = record.matcher.matches(original) if original is not None else False
                after = record.matcher.matches(current) if current is not None else False
            except ParseError as exc:
                # A regex over its time budget: end these subscriptions rather
                # than pay the budget again on every write.
                self.abandon(record, exc)
                continue
            if before or after:
                self.events_matched += 1
                await run.deliver(record, before, after)

    def abandon(self, record: QueryRecord, exc: ParseError) -> None:
        for sub in list(record.subscriptions.values()):
            self._remove(sub)
            sub.client.send(protocol.error_frame(exc.code, self.message_of(exc), False, sub.request_id))

    def message_of(self, exc: ParseError) -> str:
        """What the client reads (a permission refusal is sanitized, as on REST)."""
        return errors.client_message(exc, self.engine.settings.sanitized_errors)

    def expire(self, sub: Subscription) -> None:
        """The subscription's session no longer resolves: tell the client and
        end the subscription instead of silently streaming nothing."""
        self._remove(sub)
        sub.client.send(protocol.error_frame(errors.INVALID_SESSION_TOKEN, access.INVALID_TOKEN, False,
                                             sub.request_id))

    def counts(self) -> tuple[int, int]:
        """Parse's ``clients`` and ``subscriptions`` of hook requests: connected
        clients, and classes with at least one subscription."""
        return sum(1 for c in self.sockets if c.connected), self.index.class_count()

    def stats(self) -> dict:
        queries, subs = self.index.counts()
        return {"sockets": len(self.sockets), "queries": queries, "subscriptions": subs}


class _EventRun:
    """Per-event caches: one viewer per identity, one serialisation per
    (identity, keys, state)."""

    def __init__(self, server: LiveQueryServer, class_name: str, schema: Any, original: dict | None,
                 current: dict | None) -> None:
        self.server = server
        self.class_name = class_name
        self.schema = schema
        self.original = original
        self.current = current
        self.viewers: dict[tuple, Any] = {}
        self.visible: dict[tuple, tuple[bool, bool]] = {}
        self.rendered: dict[tuple, str] = {}
        self.hook = server.engine.triggers.trigger(hooks.AFTER_EVENT, class_name)
        self.counts: tuple[int, int] | None = None  # for hook requests, once per event

    async def viewer(self, ident: tuple) -> Any:
        found = self.viewers.get(ident, _UNSET)
        if found is _UNSET:
            try:
                found = await access.viewer_for(self.server.engine, self.schema, ident)
            except ParseError:
                found = None  # the token no longer resolves
            except Exception:
                log.exception("cannot resolve a LiveQuery subscriber")
                found = _SKIP
            self.viewers[ident] = found
        return found

    async def deliver(self, record: QueryRecord, before: bool, after: bool) -> None:
        original, current = self.original, self.current
        for sub in list(record.subscriptions.values()):
            client = sub.client
            if client.closed:
                continue
            ident = sub.identity
            viewer = self.viewers.get(ident, _UNSET)
            if viewer is _UNSET:
                viewer = await self.viewer(ident)
            if viewer is None:
                self.server.expire(sub)
                continue
            if viewer is _SKIP:
                continue
            seen = self.visible.get((ident, record.clp_op))
            if seen is None:
                seen = (viewer.can_see(original, record.clp_op), viewer.can_see(current, record.clp_op))
                self.visible[(ident, record.clp_op)] = seen
            event = events.decide(original, current, before and seen[0], after and seen[1])
            if event is None:
                continue
            if events.applies_watch(event) and not events.watched_changed(sub.watch, original, current):
                continue
            obj = current if current is not None else original
            if self.hook is not None:
                self.defer(sub, viewer, event, obj)
                continue
            obj_json = self.render(viewer, obj, sub.keys, "current" if current is not None else "original")
            orig_json = self.render(viewer, original, sub.keys, "original") if event in events.WITH_ORIGINAL else None
            client.send(protocol.event_frame(event, client.head, sub.request_id, obj_json, orig_json))

    def defer(self, sub: Subscription, viewer: Any, event: str, obj: dict) -> None:
        """The afterLiveQueryEvent hook runs in the subscriber's sender, not here."""
        # Parse gives the hook the object before a save (None on create); a
        # delete's object is the deleted one, with no original.
        original = self.original if self.current is not None else None
        if self.counts is None:
            self.counts = self.server.counts()
        job = hooks.EventJob(self.server.engine, self.hook, self.class_name, event, obj, original, sub, viewer,
                             self.counts)
        sub.client.defer(job)

    def render(self, viewer: Any, obj: Any, keys: tuple[str, ...] | None, state: str) -> str:
        key = (viewer.key, keys, state)
        text = self.rendered.get(key)
        if text is None:
            text = _json(viewer.render(self.server.engine, self.class_name, obj, keys))
            self.rendered[key] = text
        return text


# ------------------------------------------------------------------ helpers

def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


def _json(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def _record(class_name: str, key: str, where: dict, matcher: CompiledWhere, op: str,
            fields: dict) -> QueryRecord:
    return QueryRecord(class_name, key, where, matcher, op, pick_index(where, fields))


def _refuse_relation_fields(where: dict, fields: dict) -> None:
    """A constraint on a Relation field needs the join table, not the object."""
    for key, value in where.items():
        if key in LOGICAL:
            for sub in value:
                _refuse_relation_fields(sub, fields)
        elif fields.get(key.split(".", 1)[0], {}).get("type") == "Relation":
            raise ParseError(errors.INVALID_QUERY,
                             f"A constraint on the relation field {key} cannot be evaluated by LiveQuery")


def _own_sessions(where: dict, auth: Auth) -> dict:
    """``_Session`` subscriptions only ever see the subscriber's sessions."""
    if not auth.user:
        raise ParseError(errors.INVALID_SESSION_TOKEN, access.INVALID_TOKEN)
    ptr = auth.user_pointer
    if "user" not in where:
        return {**where, "user": ptr}
    return {"$and": [where, {"user": ptr}]}
