"""The hook registry and the code that runs hooks.

Hooks live in one dict keyed by (trigger, class name); a name coming from a
request is only ever a dict key, never an attribute lookup."""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bapp import errors
from bapp.errors import ParseError

log = logging.getLogger("bapp.cloud")

TRIGGERS = (
    "beforeSave", "afterSave", "beforeDelete", "afterDelete", "beforeFind", "afterFind",
    "beforeLogin", "afterLogin", "afterLogout", "beforeSaveFile", "afterSaveFile",
    "beforeDeleteFile", "afterDeleteFile",
)
MAX_HOOK_DEPTH = 16

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("bapp_hook_depth", default=0)

Hook = Callable[..., Any]


def normalize_class(name: str) -> str:
    return {"User": "_User", "Role": "_Role", "Session": "_Session", "Installation": "_Installation"}.get(name, name)


@dataclass
class Registered:
    fn: Hook
    validator: Any = None


@dataclass
class Request:
    """What a hook receives (``req``). Objects are REST JSON dicts."""

    trigger_name: str = ""
    object: dict | None = None
    original: dict | None = None
    user: dict | None = None
    master: bool = False
    params: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    query: Any = None
    objects: list | None = None
    headers: dict = field(default_factory=dict)
    ip: str | None = None
    installation_id: str | None = None
    function_name: str | None = None
    job_id: str | None = None
    file: Any = None
    message: Callable[[str], Awaitable[None]] | None = None
    log: logging.Logger = log


class Registry:
    """Functions, jobs and triggers of the loaded cloud code."""

    def __init__(self) -> None:
        self.triggers: dict[tuple[str, str], Registered] = {}
        self.functions: dict[str, Registered] = {}
        self.jobs: dict[str, Registered] = {}

    def clear(self) -> None:
        self.triggers.clear()
        self.functions.clear()
        self.jobs.clear()

    def add_trigger(self, trigger: str, class_name: str, fn: Hook, validator: Any = None) -> None:
        if trigger not in TRIGGERS:
            raise ValueError(f"unknown trigger {trigger}")
        self.triggers[(trigger, normalize_class(class_name))] = Registered(fn, validator)

    def trigger(self, trigger: str, class_name: str) -> Registered | None:
        return self.triggers.get((trigger, class_name))

    def has(self, trigger: str, class_name: str) -> bool:
        return (trigger, class_name) in self.triggers


async def call_hook(hook: Registered, req: Request, runner: Callable[[Registered, Request], Awaitable[Any]] | None = None) -> Any:
    """Runs one hook with the recursion guard and Parse's error mapping: a
    ParseError keeps its code, anything else becomes 141."""
    depth = _depth.get()
    if depth >= MAX_HOOK_DEPTH:
        raise ParseError(errors.SCRIPT_FAILED, f"Hooks nested more than {MAX_HOOK_DEPTH} levels deep.")
    token = _depth.set(depth + 1)
    try:
        if runner is not None:
            return await runner(hook, req)
        result = hook.fn(req)
        if inspect.isawaitable(result):
            result = await result
        return result
    except ParseError:
        raise
    except Exception as exc:  # a hook's own failure
        log.exception("%s hook failed", req.trigger_name or req.function_name)
        message = str(exc) or "Script failed."
        raise ParseError(errors.SCRIPT_FAILED, message) from None
    finally:
        _depth.reset(token)
