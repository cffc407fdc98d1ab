"""Cloud code for bapp: Python modules the server runs with the semantics
of Parse Cloud Code.

    from bapp import cloud

    @cloud.define("hello")
    async def hello(req):
        return "Hello " + req.params.get("name", "world")

    @cloud.before_save("Inventory")
    async def check(req):
        if req.object.get("quantity", 0) < 0:
            raise cloud.Error(142, "quantity must not be negative")

Start the server with ``bapp serve --cloud PATH`` (a module file or a
package directory; ``--reload`` reloads it on change).

Registration. Decorators write into the registry being loaded (the server
builds a fresh one per load, so servers in one process never share hooks),
or into a default registry outside a load. Hooks may be ``async def`` or
plain ``def``. Class names: ``"User"`` and ``"_User"`` both mean the user
class (likewise Role, Session, Installation).

Requests. ``req`` has ``object``, ``original`` (updates), ``user`` (with
``sessionToken``), ``master``, ``params``, ``context``, ``query``
(before_find: a mutable dict with where/limit/skip/keys/include/order;
after_find: the query that was answered), ``condition`` (before_save on
an update: a where ANDed into the one atomic write, e.g. to refuse a
decrement below zero), ``objects`` (after_find), ``headers``, ``ip``, ``installation_id``,
``trigger_name``, ``function_name``, ``job_name``/``job_id``/``message``
(jobs) and ``log``.

LiveQuery hooks. ``before_connect`` (Parse's beforeConnect, registered
under ``@Connect``) runs on a client's ``connect``: ``req.user`` (from the
connect session token, when it resolves), ``installation_id``,
``session_token``, ``keys``/``client_key`` (the keys the client sent, never
the master key), ``headers`` (of the websocket upgrade), ``master``,
``clients``/``subscriptions`` (counts); raising refuses the connection with
an ``error`` frame. ``before_subscribe(cls)`` runs on ``subscribe``:
``req.query`` is a mutable dict (``where``, ``keys``, ``watch``) that is
then validated like the client's own query; raising refuses the
subscription (the error frame carries the ``requestId``).
``after_live_query_event(cls)`` (Parse's afterLiveQueryEvent) runs per
event per subscriber before it is sent, in that subscriber's sending path:
``req.event`` (create/enter/update/leave/delete), ``object``, ``original``,
``user`` (the subscriber), ``client_id``, ``request_id``, ``send_event``
(set False to drop the event); a changed ``req.object`` is what is sent,
still filtered for the subscriber afterwards (protected fields, ``keys``).
A failing hook is logged and the subscriber gets an ``error`` frame
instead of the event.

Errors. ``raise cloud.Error(code, message)`` answers with that code
(``cloud.Error.OBJECT_NOT_FOUND`` and the other Parse codes are attributes);
any other exception answers 141 with its message; validator failures
answer 142 (see ``bapp.core.cloud_validators`` for the options). Data
access calls raise ``cloud.Error`` too.

Data access. ``find``, ``first``, ``get``, ``count``, ``create``,
``update``, ``delete`` and ``run`` act as nobody unless given
``master=True``, ``user=`` (e.g. ``req.user``) or ``session_token=``; they
go through the full REST pipeline (ACLs, CLPs, triggers, schema,
LiveQuery). Objects are REST JSON dicts carrying ``className``; data may
use datetimes (saved as Dates). A hook that saves its own class fires its
own triggers again; nesting deeper than 16 hooks fails with 141.

Function results. A returned dict with a string ``className`` and
``objectId`` (and no other ``__type``), at any depth, is encoded as a Parse
object (``{"__type": "Object", "className", "objectId", ...}``) so SDKs get
a ``Parse.Object``; datetimes become Dates. Returning None answers
``{"result": null}``; return ``cloud.UNDEFINED`` for Parse's "no result"
answer ``{}`` (a JS function returning undefined; the SDK resolves it to
``undefined``).
Params arrive in REST JSON (Dates and Pointers stay typed dicts)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bapp.cloud.runtime import UNDEFINED, Error, count, create, delete, find, first, get, pointer, run, update
from bapp.core import cloud_validators as _validators
from bapp.core.triggers import Registry, Request

__all__ = [
    "Error", "Request", "Registry", "registry", "registering", "define", "job", "before_save", "after_save",
    "before_delete", "after_delete", "before_find", "after_find", "before_login", "after_login",
    "after_logout", "before_save_file", "after_save_file", "before_delete_file", "after_delete_file",
    "find", "first", "get", "count", "create", "update", "delete", "run", "pointer", "UNDEFINED",
    "password_validator",
]

_default_registry = Registry()
_loading: contextvars.ContextVar[Registry | None] = contextvars.ContextVar("bapp_cloud_loading", default=None)

Hook = Callable[..., Any]


def registry() -> Registry:
    """Where decorators register now: the registry being loaded, else the default."""
    return _loading.get() or _default_registry


@contextmanager
def registering(target: Registry) -> Iterator[Registry]:
    """Makes decorators applied inside the block register into ``target``."""
    token = _loading.set(target)
    try:
        yield target
    finally:
        _loading.reset(token)


def _check_hook(fn: Any) -> Hook:
    if not callable(fn):
        raise TypeError("a cloud hook must be a function")
    return fn


def define(name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    """Registers a cloud function, called by ``POST /functions/<name>``."""
    spec = _validators.normalize(validator)

    def decorate(fn: Hook) -> Hook:
        registry().add_function(name, _check_hook(fn), spec)
        return fn

    return decorate


def job(name: str) -> Callable[[Hook], Hook]:
    """Registers a background job, started by ``POST /jobs/<name>``."""

    def decorate(fn: Hook) -> Hook:
        registry().add_job(name, _check_hook(fn))
        return fn

    return decorate


def _trigger(trigger: str, class_name: str, validator: Any) -> Callable[[Hook], Hook]:
    spec = _validators.normalize(validator)

    def decorate(fn: Hook) -> Hook:
        registry().add_trigger(trigger, class_name, _check_hook(fn), spec)
        return fn

    return decorate


def before_save(class_name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    return _trigger("beforeSave", class_name, validator)


def after_save(class_name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    return _trigger("afterSave", class_name, validator)


def before_delete(class_name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    return _trigger("beforeDelete", class_name, validator)


def after_delete(class_name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    return _trigger("afterDelete", class_name, validator)


def before_find(class_name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    return _trigger("beforeFind", class_name, validator)


def after_find(class_name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    return _trigger("afterFind", class_name, validator)


def _user_trigger(trigger: str, class_name: str, fn: Hook | None, validator: Any) -> Any:
    """Login/logout triggers have a fixed class: usable as ``@cloud.x`` or ``@cloud.x()``."""
    register = _trigger(trigger, class_name, validator)
    return register(fn) if fn is not None else register


def before_login(fn: Hook | None = None, *, validator: Any = None) -> Any:
    return _user_trigger("beforeLogin", "_User", fn, validator)


def after_login(fn: Hook | None = None, *, validator: Any = None) -> Any:
    return _user_trigger("afterLogin", "_User", fn, validator)


def after_logout(fn: Hook | None = None, *, validator: Any = None) -> Any:
    return _user_trigger("afterLogout", "_Session", fn, validator)


# File hooks: ``req.file`` is a ``bapp.core.files.FileInfo`` (name, url,
# content_type, size, metadata). ``cloud.before_save("@File")`` is the same
# hook under Parse 7+'s name.
def before_save_file(fn: Hook | None = None, *, validator: Any = None) -> Any:
    """May rename the file, change its metadata, refuse it, or return an
    already stored file (``{"__type": "File", "name", "url"}``) to skip the upload."""
    return _user_trigger("beforeSaveFile", "@File", fn, validator)


def after_save_file(fn: Hook | None = None, *, validator: Any = None) -> Any:
    return _user_trigger("afterSaveFile", "@File", fn, validator)


def before_delete_file(fn: Hook | None = None, *, validator: Any = None) -> Any:
    return _user_trigger("beforeDeleteFile", "@File", fn, validator)


def after_delete_file(fn: Hook | None = None, *, validator: Any = None) -> Any:
    return _user_trigger("afterDeleteFile", "@File", fn, validator)


# LiveQuery hooks (see the module docstring for their requests).
def before_connect(fn: Hook | None = None, *, validator: Any = None) -> Any:
    """Parse's ``beforeConnect``: raise to refuse a LiveQuery connection."""
    return _user_trigger("beforeConnect", "@Connect", fn, validator)


def before_subscribe(class_name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    """Parse's ``beforeSubscribe``: may change ``req.query`` or raise to refuse."""
    return _trigger("beforeSubscribe", class_name, validator)


def after_live_query_event(class_name: str, validator: Any = None) -> Callable[[Hook], Hook]:
    """Parse's ``afterLiveQueryEvent``: may drop (``req.send_event = False``)
    or change an event before it reaches one subscriber."""
    return _trigger("afterEvent", class_name, validator)


def password_validator(fn: Hook) -> Hook:
    """Parse's ``passwordPolicy.validatorCallback``: ``fn(password)`` (sync
    or async) returns truthy for an acceptable password; otherwise the
    sign-up, change or reset answers 142 with ``passwordPolicy.validationError``
    (or Parse Server's default message). Applies whether or not the config
    file has a ``passwordPolicy``."""
    registry().password_validator = _check_hook(fn)
    return fn
