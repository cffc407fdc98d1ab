"""The hook registry and the code that runs hooks.

Hooks live in plain dicts keyed by (trigger, class name) or by function/job
name; a name coming from a request is only ever a dict key, never an
attribute lookup, so ``constructor`` or ``__class__`` are unknown names like
any other."""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bapp import errors
from bapp.core import cloud_validators
from bapp.errors import ParseError

log = logging.getLogger("bapp.cloud")

TRIGGERS = (
    "beforeSave", "afterSave", "beforeDelete", "afterDelete", "beforeFind", "afterFind",
    "beforeLogin", "afterLogin", "afterLogout", "beforeSaveFile", "afterSaveFile",
    "beforeDeleteFile", "afterDeleteFile",
    # LiveQuery (Parse's names: beforeConnect is kept under "@Connect",
    # afterLiveQueryEvent under "afterEvent").
    "beforeConnect", "beforeSubscribe", "afterEvent",
)
MAX_HOOK_DEPTH = 16

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("bapp_hook_depth", default=0)

Hook = Callable[..., Any]
_ALIASES = {"User": "_User", "Role": "_Role", "Session": "_Session", "Installation": "_Installation"}


def normalize_class(name: str) -> str:
    """``"User"`` and ``"_User"`` both name the user class (as in the JS SDK)."""
    return _ALIASES.get(name, name)


class _Undefined:
    """JavaScript's ``undefined`` for function results: returned, the
    answer is ``{}`` (Parse's "no result"); inside a dict the key is left
    out, inside a list it is a null, as JSON.stringify does."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "cloud.UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


@dataclass
class Registered:
    """One registered handler: a trigger, a cloud function or a job."""

    fn: Hook
    validator: Any = None
    kind: str = ""  # the trigger name, "function" or "job"
    name: str = ""  # the class name of a trigger, else the function/job name


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
    job_name: str | None = None
    job_id: str | None = None
    file: Any = None
    message: Callable[[str], Awaitable[None]] | None = None
    log: logging.Logger = log
    # The caller's Auth, for the cloud layer (validators, acting as the caller).
    auth: Any = field(default=None, repr=False)
    # beforeSave of an update may set a where the object must still match when
    # the write happens: ANDed into the one atomic write, as engine.update(where=)
    # (e.g. {"stock": {"$gte": 2}} next to an Increment of -2); a miss is 101.
    condition: dict | None = None


def _check_trigger_class(trigger: str, class_name: str) -> None:
    """The class restrictions Parse Server applies at registration."""
    if trigger == "beforeSave" and class_name == "_PushStatus":
        raise ValueError("Only afterSave is allowed on _PushStatus")
    if trigger in ("beforeLogin", "afterLogin") and class_name != "_User":
        raise ValueError("Only the _User class is allowed for the beforeLogin and afterLogin triggers")
    if trigger == "afterLogout" and class_name != "_Session":
        raise ValueError("Only the _Session class is allowed for the afterLogout trigger.")
    if class_name == "_Session" and trigger != "afterLogout":
        raise ValueError("Only the afterLogout trigger is allowed for the _Session class.")


class Registry:
    """Functions, jobs and triggers of the loaded cloud code."""

    def __init__(self) -> None:
        self.triggers: dict[tuple[str, str], Registered] = {}
        self.functions: dict[str, Registered] = {}
        self.jobs: dict[str, Registered] = {}
        # Names of the Python modules the code was loaded from.
        self.modules: list[str] = []
        # passwordPolicy.validatorCallback: password -> truthy when acceptable.
        self.password_validator: Hook | None = None
        # Webhooks (the hooks API, stored in _Hooks): kept apart from the
        # loaded code, carried over when cloud code reloads, and consulted
        # first, as Parse Server registers them after the code.
        self.web_functions: dict[str, Registered] = {}
        self.web_triggers: dict[tuple[str, str], Registered] = {}

    def clear(self) -> None:
        self.triggers.clear()
        self.functions.clear()
        self.jobs.clear()
        self.password_validator = None

    def add_trigger(self, trigger: str, class_name: str, fn: Hook, validator: Any = None) -> None:
        if trigger not in TRIGGERS:
            raise ValueError(f"unknown trigger {trigger}")
        if not isinstance(class_name, str) or not class_name:
            raise ValueError(f"{trigger} needs a class name")
        name = normalize_class(class_name)
        _check_trigger_class(trigger, name)
        if (trigger, name) in self.triggers:
            log.warning("%s for %s registered twice; the last one wins", trigger, name)
        self.triggers[(trigger, name)] = Registered(fn, cloud_validators.normalize(validator), trigger, name)

    def add_function(self, name: str, fn: Hook, validator: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a cloud function needs a name")
        if name in self.functions:
            log.warning("cloud function %s registered twice; the last one wins", name)
        self.functions[name] = Registered(fn, cloud_validators.normalize(validator), "function", name)

    def add_job(self, name: str, fn: Hook) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a job needs a name")
        self.jobs[name] = Registered(fn, None, "job", name)

    def adopt_webhooks(self, other: Registry) -> None:
        self.web_functions = other.web_functions
        self.web_triggers = other.web_triggers

    def trigger(self, trigger: str, class_name: str) -> Registered | None:
        key = (trigger, class_name)
        return self.web_triggers.get(key) or self.triggers.get(key)

    def function(self, name: Any) -> Registered | None:
        if not isinstance(name, str):
            return None
        return self.web_functions.get(name) or self.functions.get(name)

    def job(self, name: Any) -> Registered | None:
        return self.jobs.get(name) if isinstance(name, str) else None

    def has(self, trigger: str, class_name: str) -> bool:
        return (trigger, class_name) in self.triggers or (trigger, class_name) in self.web_triggers


def _default_message(req: Request) -> str:
    # Parse Server: an empty throw in a function is "Script failed.", in a
    # trigger "Script failed. Unknown error."
    return "Script failed." if req.function_name and not req.trigger_name else "Script failed. Unknown error."


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
    except (Exception, SystemExit) as exc:  # a hook's own failure; sys.exit() must not stop the server
        log.exception("%s hook failed", req.trigger_name or req.function_name or req.job_name)
        raise ParseError(errors.SCRIPT_FAILED, str(exc) or _default_message(req)) from None
    finally:
        _depth.reset(token)
