"""Webhooks (Parse Server's hooks API): cloud functions and triggers that
call an external URL, stored in ``_Hooks`` as Parse Server stores them
(``{functionName, url}`` or ``{className, triggerName, url}``).

The outgoing call is a JSON POST bounded in time and size, never follows
redirects, carries ``X-Parse-Webhook-Key`` when one is configured, and is
refused when it would reach this server itself without that key."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from bapp import errors
from bapp.core.auth import Auth
from bapp.core.triggers import UNDEFINED, Registered, Request
from bapp.errors import ParseError
from bapp.model import types
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.webhooks")

HOOKS_CLASS = "_Hooks"
FIELDS = {"functionName": {"type": "String"}, "className": {"type": "String"},
          "triggerName": {"type": "String"}, "url": {"type": "String"}}
# The object triggers a webhook can stand for (Parse Dashboard offers these).
TRIGGER_NAMES = ("beforeSave", "afterSave", "beforeDelete", "afterDelete")
RESPONSE_LIMIT = 1024 * 1024
INVALID = "invalid hook declaration"


@dataclass(frozen=True)
class Hook:
    url: str
    function_name: str | None = None
    class_name: str | None = None
    trigger_name: str | None = None

    def to_json(self) -> dict[str, str]:
        if self.function_name:
            return {"functionName": self.function_name, "url": self.url}
        return {"className": self.class_name or "", "triggerName": self.trigger_name or "", "url": self.url}


def _error(message: str) -> ParseError:
    return ParseError(errors.INVALID_IMAGE_DATA, message)  # 143 is Parse's webhook error code


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise _error(INVALID)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _error("webhook url must be an http or https URL")
    return url


def function_hook(name: Any, url: Any) -> Hook:
    if not isinstance(name, str) or not name or not url:
        raise _error(INVALID)
    return Hook(_check_url(url), function_name=name)


def trigger_hook(class_name: Any, trigger_name: Any, url: Any) -> Hook:
    if (not isinstance(class_name, str) or not class_name or trigger_name not in TRIGGER_NAMES or not url):
        raise _error(INVALID)
    types.check_class_name(class_name)
    return Hook(_check_url(url), class_name=class_name, trigger_name=trigger_name)


# ------------------------------------------------------------------ storage

def _where(hook: Hook) -> dict:
    if hook.function_name:
        return {"functionName": hook.function_name}
    return {"className": hook.class_name, "triggerName": hook.trigger_name}


async def _find(engine: Engine, where: dict) -> list[dict]:
    rows = await engine.storage.find(HOOKS_CLASS, FIELDS, where, FindOptions(limit=1000))
    # As Parse Server: the stored document's id is not part of the answer.
    return [{k: v for k, v in row.items() if k in FIELDS} for row in rows]


async def functions(engine: Engine) -> list[dict]:
    return await _find(engine, {"functionName": {"$exists": True}})


async def triggers(engine: Engine) -> list[dict]:
    return await _find(engine, {"className": {"$exists": True}, "triggerName": {"$exists": True}})


async def get_function(engine: Engine, name: str) -> dict | None:
    found = await _find(engine, {"functionName": name})
    return found[0] if found else None


async def get_trigger(engine: Engine, class_name: str, trigger_name: str) -> dict | None:
    found = await _find(engine, {"className": class_name, "triggerName": trigger_name})
    return found[0] if found else None


async def _existing(engine: Engine, hook: Hook) -> dict | None:
    if hook.function_name:
        return await get_function(engine, hook.function_name)
    return await get_trigger(engine, hook.class_name or "", hook.trigger_name or "")


async def create(engine: Engine, hook: Hook) -> dict:
    """Parse Server's createHook: 143 when the name (or class/trigger) exists."""
    if await _existing(engine, hook):
        if hook.function_name:
            raise _error(f"function name: {hook.function_name} already exists")
        raise _error(f"class {hook.class_name} already has trigger {hook.trigger_name}")
    doc = {"objectId": types.new_object_id(engine.settings.object_id_size), **hook.to_json()}
    await engine.storage.create(HOOKS_CLASS, FIELDS, doc)
    register(engine, hook)
    engine.announce("hooks", None)
    return hook.to_json()


async def update(engine: Engine, hook: Hook) -> dict:
    if not await _existing(engine, hook):
        if hook.function_name:
            raise _error(f"no function named: {hook.function_name} is defined")
        raise _error(f"class {hook.class_name} does not exist")
    await engine.storage.update(HOOKS_CLASS, FIELDS, _where(hook), {"url": hook.url})
    register(engine, hook)
    engine.announce("hooks", None)
    return hook.to_json()


async def delete_function(engine: Engine, name: str) -> None:
    engine.triggers.web_functions.pop(name, None)
    await engine.storage.delete_many(HOOKS_CLASS, FIELDS, {"functionName": name})
    engine.announce("hooks", None)


async def delete_trigger(engine: Engine, class_name: str, trigger_name: str) -> None:
    engine.triggers.web_triggers.pop((trigger_name, class_name), None)
    await engine.storage.delete_many(HOOKS_CLASS, FIELDS, {"className": class_name, "triggerName": trigger_name})
    engine.announce("hooks", None)


async def load(engine: Engine) -> None:
    """Registers the stored webhooks (at start-up, and again when another
    instance announces a change)."""
    # Read first, then swap without awaiting: requests never see a half
    # loaded set, and a failed read keeps the hooks already registered.
    function_rows, trigger_rows = await functions(engine), await triggers(engine)
    engine.triggers.web_functions.clear()
    engine.triggers.web_triggers.clear()
    for row in function_rows:
        register(engine, Hook(row.get("url", ""), function_name=row["functionName"]))
    for row in trigger_rows:
        if row.get("triggerName") in TRIGGER_NAMES:
            register(engine, Hook(row.get("url", ""), class_name=row["className"], trigger_name=row["triggerName"]))


def register(engine: Engine, hook: Hook) -> None:
    caller = Caller(engine, hook)
    if hook.function_name:
        engine.triggers.web_functions[hook.function_name] = Registered(caller, None, "function", hook.function_name)
    else:
        key = (hook.trigger_name or "", hook.class_name or "")
        engine.triggers.web_triggers[key] = Registered(caller, None, hook.trigger_name or "", hook.class_name or "")


# ------------------------------------------------------------------ calling

class Caller:
    """The hook function standing for a webhook: POSTs the request and maps
    the answer (``{"success": ...}`` or ``{"error": ...}``) back."""

    def __init__(self, engine: Engine, hook: Hook) -> None:
        self.engine = engine
        self.hook = hook

    async def __call__(self, req: Request) -> Any:
        body = request_body(req, self.hook)
        answer = await post(self.engine, self.hook.url, body)
        if isinstance(answer, dict) and answer.get("error") not in (None, ""):
            raise _answer_error(answer["error"])
        if self.hook.function_name and not (isinstance(answer, dict) and "success" in answer):
            return UNDEFINED  # no result at all: Parse Server answers {}
        result = answer.get("success") if isinstance(answer, dict) else None
        if self.hook.trigger_name == "beforeSave":
            if isinstance(result, dict) and isinstance(req.object, dict):
                for key, value in result.items():
                    if key not in ("createdAt", "updatedAt", "className", "objectId"):
                        req.object[key] = value
            return None
        return result


def _answer_error(error: Any) -> ParseError:
    # Parse Server's resolveError: the code is always 141, the message is the
    # string or the object's message.
    if isinstance(error, dict):
        text = error.get("message") or error.get("error")
        return ParseError(errors.SCRIPT_FAILED, str(text) if text else "Script failed.")
    return ParseError(errors.SCRIPT_FAILED, str(error))


def _user(auth: Auth | None) -> dict | None:
    if auth is None or not auth.user:
        return None
    # Deliberately safer than Parse Server: the session token stays here.
    user = {k: v for k, v in auth.user.items() if not k.startswith("_") and k not in ("password", "sessionToken")}
    user["className"] = "_User"
    return user


def request_body(req: Request, hook: Hook) -> dict:
    """What the webhook receives. Unlike Parse Server the caller's request
    headers are not forwarded: they may carry the master key or a session."""
    body: dict[str, Any] = {"master": bool(req.master), "user": _user(req.auth),
                            "installationId": req.installation_id, "ip": req.ip, "context": req.context or {}}
    if hook.function_name:
        body.update({"functionName": hook.function_name, "params": req.params or {}})
        return body
    body["triggerName"] = hook.trigger_name
    for key in ("object", "original"):
        value = getattr(req, key)
        if isinstance(value, dict):
            body[key] = {**value, "className": hook.class_name}
    return body


def _is_self(engine: Engine, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if ip.is_loopback or ip.is_unspecified:
        return True
    host = engine.settings.host
    if host in ("0.0.0.0", "::", ""):
        try:
            local = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
        except OSError:
            local = set()
        return address in local
    return address == host


async def _resolve(host: str, port: int) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise ParseError(errors.SCRIPT_FAILED, "Webhook request failed: unknown host") from None
    return infos[0][4][0]


def _own_endpoints(engine: Engine) -> set[tuple[str, int]]:
    out = set()
    for url in (engine.settings.server_url, engine.settings.public_server_url):
        if url:
            parts = urlsplit(url)
            if parts.hostname:
                out.add((parts.hostname.lower(), parts.port or (443 if parts.scheme == "https" else 80)))
    return out


async def target(engine: Engine, url: str) -> tuple[str, str, int]:
    """The address the call connects to (resolved once, so the name cannot
    change between the check and the connection). A call to this server
    itself is refused unless a webhook key is configured."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = await _resolve(host, port)
    if not engine.settings.webhook_key:
        own = (host.lower(), port) in _own_endpoints(engine)
        if own or (port == engine.settings.port and _is_self(engine, address)):
            raise ParseError(errors.SCRIPT_FAILED,
                             "Webhook refused: it would call this server without a webhook key")
    return host, address, port


async def post(engine: Engine, url: str, body: dict) -> Any:
    """POSTs ``body``; the decoded JSON answer (141 on any failure)."""
    host, address, port = await target(engine, url)
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    direct = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    headers = {"Content-Type": "application/json", "Host": parts.netloc.rsplit("@", 1)[-1]}
    key = engine.settings.webhook_key
    if key:
        headers["X-Parse-Webhook-Key"] = key
    else:
        log.warning("Making outgoing webhook request without webhookKey being set!")
    timeout = aiohttp.ClientTimeout(total=engine.settings.webhook_timeout)
    extra = {"server_hostname": host} if parts.scheme == "https" else {}
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(direct, data=orjson.dumps(body, default=str), headers=headers,
                                    allow_redirects=False, **extra) as reply:
                raw = await reply.content.read(RESPONSE_LIMIT + 1)
                status = reply.status
    except TimeoutError:
        raise ParseError(errors.SCRIPT_FAILED, "Webhook request timed out") from None
    except (aiohttp.ClientError, OSError, ValueError):
        raise ParseError(errors.SCRIPT_FAILED, "Webhook request failed") from None
    if len(raw) > RESPONSE_LIMIT:
        raise ParseError(errors.SCRIPT_FAILED, "Webhook response is too large")
    if not raw.strip():
        if status >= 400:
            raise ParseError(errors.SCRIPT_FAILED, f"Webhook responded with HTTP {status}")
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ParseError(errors.SCRIPT_FAILED, "Malformed response") from None
