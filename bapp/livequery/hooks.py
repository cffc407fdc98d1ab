"""Cloud code around LiveQuery: Parse's ``beforeConnect``,
``beforeSubscribe`` and ``afterLiveQueryEvent`` (stored, as in Parse
Server, under the trigger names ``beforeConnect``/``@Connect``,
``beforeSubscribe``/class and ``afterEvent``/class).

Every hook runs through ``call_hook`` with the engine's runner, so
validators, the recursion guard and Parse's error mapping (the error's code,
141 for any other exception, 142 for a validator) apply as to any trigger.
``afterEvent`` runs in the subscriber's own sending task (see
``LiveClient.defer``), never in the matcher, so a slow hook delays only
the client it is running for."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from bapp import errors
from bapp.cloud.runtime import public_user
from bapp.core.auth import Auth
from bapp.core.triggers import Registered, Request, call_hook
from bapp.errors import ParseError
from bapp.livequery import events, protocol

if TYPE_CHECKING:
    from bapp.core.engine import Engine
    from bapp.livequery.client import LiveClient
    from bapp.livequery.subscriptions import Subscription

log = logging.getLogger("bapp.livequery")

BEFORE_CONNECT = "beforeConnect"
CONNECT_CLASS = "@Connect"  # Parse Server's pseudo-class for beforeConnect
BEFORE_SUBSCRIBE = "beforeSubscribe"
AFTER_EVENT = "afterEvent"  # Parse Server's internal name of afterLiveQueryEvent
EVENTS = frozenset({events.CREATE, events.ENTER, events.UPDATE, events.LEAVE, events.DELETE})


@dataclass
class LiveRequest(Request):
    """``req`` of a LiveQuery hook: the trigger request plus what Parse's
    LiveQuery requests carry (``event``, ``sendEvent``, ``clients``,
    ``subscriptions``, the session token and the connect keys)."""

    event: str | None = None
    send_event: bool = True
    client_id: str | None = None
    request_id: Any = None
    session_token: str | None = None
    # The keys the connect message offered (javascriptKey, clientKey, ...);
    # the master key is never passed on.
    keys: dict = field(default_factory=dict)
    client_key: str | None = None
    clients: int = 0
    subscriptions: int = 0


async def hook_auth(engine: Engine, client: LiveClient, token: str | None, master: bool,
                    installation_id: str | None) -> Auth:
    """The caller of a hook: the token's user when it resolves (a bad token
    only leaves ``user`` unset, as Parse), the connection's master flag and
    the headers of its websocket upgrade."""
    user = None
    if token:
        try:
            user = await engine.auth.user_for_token(token)
        except ParseError:
            user = None
    return Auth(master=master, user=user, session_token=token if user else None, installation_id=installation_id,
                headers=dict(client.request.headers), ip=client.ip)


def _request(trigger: str, auth: Auth, client: LiveClient, counts: tuple[int, int], **kwargs: Any) -> LiveRequest:
    return LiveRequest(trigger_name=trigger, user=public_user(auth), master=auth.master, headers=auth.headers,
                       ip=auth.ip, installation_id=auth.installation_id, auth=auth, client_id=client.id or None,
                       clients=counts[0], subscriptions=counts[1], **kwargs)


async def before_connect(engine: Engine, client: LiveClient, msg: protocol.Connect, master: bool,
                         counts: tuple[int, int]) -> None:
    """Runs beforeConnect; raises ParseError to refuse the connection."""
    hook = engine.triggers.trigger(BEFORE_CONNECT, CONNECT_CLASS)
    if hook is None:
        return
    auth = await hook_auth(engine, client, msg.session_token, master, msg.installation_id)
    keys = {k: v for k, v in msg.keys.items() if k != "masterKey"}
    req = _request(BEFORE_CONNECT, auth, client, counts, event="connect", session_token=msg.session_token,
                   keys=keys, client_key=keys.get("clientKey"))
    await call_hook(hook, req, engine.hook_runner)


async def before_subscribe(engine: Engine, client: LiveClient, msg: protocol.Subscribe,
                           counts: tuple[int, int]) -> protocol.Subscribe:
    """Runs beforeSubscribe; returns the subscription as the hook left it,
    re-validated like a client's message (ProtocolError / ParseError)."""
    hook = engine.triggers.trigger(BEFORE_SUBSCRIBE, msg.class_name)
    if hook is None:
        return msg
    token = msg.session_token or client.session_token
    auth = await hook_auth(engine, client, token, client.master, client.installation_id)
    query = {"className": msg.class_name, "where": copy.deepcopy(msg.where),
             "keys": list(msg.keys) if msg.keys else None, "watch": list(msg.watch) if msg.watch else None}
    req = _request(BEFORE_SUBSCRIBE, auth, client, counts, query=query, request_id=msg.request_id,
                   session_token=msg.session_token, event="subscribe")
    await call_hook(hook, req, engine.hook_runner)
    changed = req.query
    if isinstance(changed, dict):
        changed = {k: v for k, v in changed.items() if not (k in ("keys", "watch") and v is None)}
        changed["className"] = msg.class_name  # the hook may not move the subscription to another class
    data = {"op": msg.op, "requestId": msg.request_id, "query": changed, "sessionToken": msg.session_token}
    parsed = protocol.parse(data)
    if not isinstance(parsed, protocol.Subscribe):  # unreachable: op comes from the client's subscribe
        raise ParseError(errors.SCRIPT_FAILED, "beforeSubscribe left an invalid query")
    return parsed


@dataclass
class EventJob:
    """One event for one subscriber, waiting for its afterEvent hook.

    Called by the subscriber's sender task; returns the frame to send, an
    error frame when the hook failed (as Parse: its code, reconnect false,
    the requestId), or None when the hook set ``send_event = False``."""

    engine: Engine
    hook: Registered
    class_name: str
    event: str
    obj: dict
    original: dict | None
    sub: Subscription
    viewer: Any
    counts: tuple[int, int]

    async def __call__(self) -> str | None:
        sub = self.sub
        try:
            return await self._run()
        except ParseError as exc:
            log.error("afterLiveQueryEvent on %s (%s) failed: %s", self.class_name, self.event, exc.message)
            return protocol.error_frame(exc.code, exc.message, False, sub.request_id)
        except Exception as exc:  # rendering what the hook left behind
            log.exception("afterLiveQueryEvent on %s (%s) failed", self.class_name, self.event)
            return protocol.error_frame(errors.SCRIPT_FAILED, str(exc) or "Script failed. Unknown error.", False,
                                        sub.request_id)

    def _still_subscribed(self) -> bool:
        """Unsubscribed (or replaced) while the event waited: nothing to send."""
        return self.sub.client.subscriptions.get(self.sub.request_id) is self.sub

    async def _run(self) -> str | None:
        engine, sub, client = self.engine, self.sub, self.sub.client
        if not self._still_subscribed():
            return None
        token = sub.session_token or client.session_token
        auth = await hook_auth(engine, client, token, client.master, client.installation_id)
        obj = {**copy.deepcopy(self.obj), "className": self.class_name}
        original = {**copy.deepcopy(self.original), "className": self.class_name} if self.original else None
        req = _request(AFTER_EVENT, auth, client, self.counts, event=self.event, object=obj, original=original,
                       request_id=sub.request_id, session_token=token)
        await call_hook(self.hook, req, engine.hook_runner)
        if req.send_event is False or not self._still_subscribed():
            return None
        event = req.event if req.event in EVENTS else self.event
        # Whatever the hook left, what leaves is filtered again for this
        # subscriber (protected fields, secrets, keys): a hook cannot re-add
        # what the subscriber may not see.
        out = req.object if isinstance(req.object, dict) else obj
        obj_json = _render(engine, self.viewer, self.class_name, out, sub.keys)
        orig_json = None
        if event in events.WITH_ORIGINAL:
            before = req.original if isinstance(req.original, dict) else original
            if before is not None:
                orig_json = _render(engine, self.viewer, self.class_name, before, sub.keys)
        return protocol.event_frame(event, client.head, sub.request_id, obj_json, orig_json)


def _render(engine: Engine, viewer: Any, class_name: str, obj: dict, keys: tuple[str, ...] | None) -> str:
    row = viewer.render(engine, class_name, {k: v for k, v in obj.items() if k != "className"}, keys)
    return orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS).decode()
