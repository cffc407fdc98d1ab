"""The engine side of cloud code: running hooks, functions and jobs, and
the server-side data access cloud code uses (``cloud.find``, ...).

Data access goes through ``engine.find/get/create/update/delete``, the same
pipeline as REST, so ACLs, CLPs, triggers, schema checks and LiveQuery
events apply. It never acts with implicit rights: it is anonymous unless
``master=True``, ``user=`` or ``session_token=`` says otherwise (as Parse
Server's cloud-code SDK calls). The engine it acts on is the one running
the current hook, function or job (a context variable), so several servers
in one process stay apart.

Objects handed to cloud code are REST JSON dicts carrying ``className``."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import copy
import functools
import inspect
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bapp import errors
from bapp.core import cloud_validators
from bapp.core.auth import Auth
from bapp.core.triggers import UNDEFINED, Registered, Request, call_hook, log, normalize_class
from bapp.errors import ParseError
from bapp.model import denylist, ops, types
from bapp.model.query import parse_options
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

_engine: contextvars.ContextVar[Engine | None] = contextvars.ContextVar("bapp_cloud_engine", default=None)
_MAX_RESULT_DEPTH = 64


def current_engine() -> Engine:
    engine = _engine.get()
    if engine is None:
        raise RuntimeError("bapp.cloud data access works only inside a hook, cloud function or job "
                           "run by a bapp server")
    return engine


class Error(ParseError):
    """A Parse error raised by or for cloud code (``cloud.Error``). Errors of
    data access calls are raised as this class, so ``except cloud.Error``
    catches them; the Parse codes are attributes (``Error.OBJECT_NOT_FOUND``)."""


for _name, _value in vars(errors).items():
    if _name.isupper() and isinstance(_value, int):
        setattr(Error, _name, _value)


_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])


def _cloud_errors(fn: _F) -> _F:
    """Raises the Parse errors of a data access call as ``cloud.Error``."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except Error:
            raise
        except ParseError as exc:
            raise Error(exc.code, exc.message, sanitized=exc.sanitized) from None

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------ hook runner

class CloudState:
    """Per-engine state: background jobs still running."""

    def __init__(self) -> None:
        self.jobs: set[asyncio.Task] = set()


_states: weakref.WeakKeyDictionary[Any, CloudState] = weakref.WeakKeyDictionary()


def state(engine: Engine) -> CloudState:
    found = _states.get(engine)
    if found is None:
        found = _states[engine] = CloudState()
    return found


def install(engine: Engine) -> None:
    """Makes ``engine`` run hooks through this layer (validators, ``req``
    normalisation, the engine context for data access)."""
    engine.hook_runner = make_runner(engine)
    state(engine)


def make_runner(engine: Engine) -> Callable[[Registered, Request], Awaitable[Any]]:
    async def runner(hook: Registered, req: Request) -> Any:
        token = _engine.set(engine)
        try:
            _prepare(hook, req)
            if hook.validator is not None:
                if await cloud_validators.run(hook.validator, req, hook, engine):
                    return None
            result = hook.fn(req)
            if inspect.isawaitable(result):
                result = await result
            if hook.kind == "afterFind":
                result = _finish_after_find(req, result)
            return result
        finally:
            _engine.reset(token)

    return runner


def public_user(auth: Auth | None) -> dict | None:
    """``req.user``: the caller's user without internal keys, with its
    session token (so cloud code can act as the user)."""
    if auth is None or not auth.user:
        return None
    user = {k: copy.deepcopy(v) for k, v in auth.user.items() if not k.startswith("_") and k != "password"}
    user["className"] = "_User"
    if auth.session_token:
        user["sessionToken"] = auth.session_token
    return user


def _prepare(hook: Registered, req: Request) -> None:
    if req.user is not None and req.auth is not None:
        req.user = public_user(req.auth)
    if hook.kind in ("function", "job"):
        return
    for obj in (req.object, req.original):
        if isinstance(obj, dict):
            obj.setdefault("className", hook.name)
    if hook.kind == "afterFind" and isinstance(req.objects, list):
        for obj in req.objects:
            if isinstance(obj, dict):
                obj.setdefault("className", hook.name)


def _finish_after_find(req: Request, result: Any) -> Any:
    # REST find results carry no className; the one added for the hook goes.
    for rows in (result, req.objects):
        if isinstance(rows, list):
            for obj in rows:
                if isinstance(obj, dict) and "__type" not in obj:
                    obj.pop("className", None)
    return result


# ------------------------------------------------------------------ acting as someone

async def auth_for(engine: Engine, *, master: bool = False, user: Any = None, session_token: str | None = None,
                   context: dict | None = None) -> Auth:
    """The Auth a data-access call runs with; anonymous by default."""
    if context is not None and not isinstance(context, dict):
        raise TypeError("context must be a dict")
    ctx = copy.deepcopy(context) if context else {}
    if master:
        return Auth(master=True, context=ctx)
    token = session_token
    if token is None and isinstance(user, dict):
        token = user.get("sessionToken")
    if token is not None:
        row = await engine.auth.user_for_token(token)
        return Auth(user=row, session_token=token, context=ctx)
    if user is not None:
        user_id = user.get("objectId") if isinstance(user, dict) else user
        if not isinstance(user_id, str) or not user_id:
            raise TypeError("user must be a user dict (with objectId or sessionToken) or a user id")
        rows = await engine.storage.find("_User", engine.schemas.fields_of("_User"), {"objectId": user_id},
                                         FindOptions(limit=1))
        if not rows:
            raise ParseError(errors.OBJECT_NOT_FOUND, "User not found.")
        return Auth(user=rows[0], context=ctx)
    return Auth(context=ctx)


def _tag(class_name: str, obj: dict) -> dict:
    obj["className"] = class_name
    return obj


def to_rest(value: Any) -> Any:
    """Python conveniences in data and queries: datetimes become Parse
    Dates, tuples and sets become arrays."""
    if isinstance(value, datetime):
        return types.date_json(value)
    if isinstance(value, dict):
        return {k: to_rest(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_rest(v) for v in value]
    return value


def _query_options(where: Any, **params: Any) -> Any:
    raw: dict[str, Any] = {"where": to_rest(where) if where is not None else {}}
    raw.update({k: v for k, v in params.items() if v is not None})
    return raw


# ------------------------------------------------------------------ data access

@_cloud_errors
async def find(class_name: str, where: dict | None = None, *, limit: int | None = None, skip: int | None = None,
               order: str | list[str] | None = None, keys: str | list[str] | None = None,
               include: str | list[str] | None = None, exclude_keys: str | list[str] | None = None,
               master: bool = False, user: Any = None, session_token: str | None = None,
               context: dict | None = None) -> list[dict]:
    """Objects matching ``where`` (a REST where), as the given caller sees them."""
    engine = current_engine()
    name = normalize_class(class_name)
    auth = await auth_for(engine, master=master, user=user, session_token=session_token, context=context)
    opts = parse_options(_query_options(where, limit=limit, skip=skip, order=order, keys=keys, include=include,
                                        excludeKeys=exclude_keys))
    found = await engine.find(name, opts, auth)
    return [_tag(name, obj) for obj in found["results"]]


async def first(class_name: str, where: dict | None = None, **kwargs: Any) -> dict | None:
    kwargs["limit"] = 1
    rows = await find(class_name, where, **kwargs)
    return rows[0] if rows else None


@_cloud_errors
async def count(class_name: str, where: dict | None = None, *, master: bool = False, user: Any = None,
                session_token: str | None = None, context: dict | None = None) -> int:
    engine = current_engine()
    name = normalize_class(class_name)
    auth = await auth_for(engine, master=master, user=user, session_token=session_token, context=context)
    opts = parse_options(_query_options(where, limit=0, count=True))
    found = await engine.find(name, opts, auth)
    return int(found.get("count", 0))


@_cloud_errors
async def get(class_name: str, object_id: str, *, keys: str | list[str] | None = None,
              include: str | list[str] | None = None, master: bool = False, user: Any = None,
              session_token: str | None = None, context: dict | None = None) -> dict:
    """One object by id; 101 "Object not found." when missing or unreadable."""
    engine = current_engine()
    name = normalize_class(class_name)
    auth = await auth_for(engine, master=master, user=user, session_token=session_token, context=context)
    raw = {k: v for k, v in (("keys", keys), ("include", include)) if v is not None}
    obj = await engine.get(name, object_id, parse_options(raw, single=True), auth)
    return _tag(name, obj)


def _saved(class_name: str, data: dict, response: dict, object_id: str | None = None) -> dict:
    """The object after a save as the client SDK would hold it: the sent
    values (operations applied), overlaid by what the server answered."""
    out = ops.apply_all({}, {k: v for k, v in data.items() if "." not in k})
    out.pop("password", None)
    out.update(copy.deepcopy(response))
    if object_id is not None:
        out["objectId"] = object_id
    return _tag(class_name, out)


@_cloud_errors
async def create(class_name: str, data: dict, *, master: bool = False, user: Any = None,
                 session_token: str | None = None, context: dict | None = None) -> dict:
    """Creates an object; returns it with ``objectId`` and ``createdAt``."""
    engine = current_engine()
    name = normalize_class(class_name)
    auth = await auth_for(engine, master=master, user=user, session_token=session_token, context=context)
    body = to_rest(data)
    response = await engine.create(name, body, auth)
    return _saved(name, body, response)


@_cloud_errors
async def update(class_name: str, object_id: str, data: dict, *, where: dict | None = None, master: bool = False,
                 user: Any = None, session_token: str | None = None, context: dict | None = None) -> dict:
    """Updates an object (``__op`` operations allowed); returns the changed
    fields with ``objectId`` and ``updatedAt``. ``where`` makes it
    conditional: the object must match it at the moment of the atomic
    write, else 101 and nothing changes (e.g. ``where={"stock": {"$gte": 3}}``
    with ``{"stock": {"__op": "Increment", "amount": -3}}`` never oversells)."""
    engine = current_engine()
    name = normalize_class(class_name)
    auth = await auth_for(engine, master=master, user=user, session_token=session_token, context=context)
    body = to_rest(data)
    response = await engine.update(name, object_id, body, auth, where=to_rest(where) if where is not None else None)
    return _saved(name, body, response, object_id)


@_cloud_errors
async def delete(class_name: str, object_id: str, *, master: bool = False, user: Any = None,
                 session_token: str | None = None, context: dict | None = None) -> None:
    engine = current_engine()
    name = normalize_class(class_name)
    auth = await auth_for(engine, master=master, user=user, session_token=session_token, context=context)
    await engine.delete(name, object_id, auth)


@_cloud_errors
async def run(name: str, params: dict | None = None, *, master: bool = False, user: Any = None,
              session_token: str | None = None, context: dict | None = None) -> Any:
    """Calls a cloud function (validator included); returns its result."""
    engine = current_engine()
    auth = await auth_for(engine, master=master, user=user, session_token=session_token, context=context)
    result = await call_function(engine, name, to_rest(params or {}), auth)
    return None if result is UNDEFINED else result


def pointer(obj: Any, object_id: str | None = None) -> dict:
    """A pointer to ``obj`` (a dict with className and objectId), or to
    ``pointer("Class", "id")``."""
    if isinstance(obj, str):
        class_name, oid = normalize_class(obj), object_id
    elif isinstance(obj, dict):
        class_name, oid = obj.get("className"), obj.get("objectId")
    else:
        raise TypeError("pointer() takes an object dict or a class name and an object id")
    if not isinstance(class_name, str) or not isinstance(oid, str) or not oid:
        raise ValueError("a pointer needs a className and an objectId (is the object saved?)")
    return types.pointer(class_name, oid)


# ------------------------------------------------------------------ functions



async def call_function(engine: Engine, name: Any, params: dict, auth: Auth) -> Any:
    """Runs cloud function ``name`` for ``auth``; 141 for an unknown name."""
    hook = engine.triggers.function(name)
    if hook is None:
        raise ParseError(errors.SCRIPT_FAILED, f'Invalid function: "{name}"')
    denylist.check(params)  # before the function sees them (__proto__, constructor, ...)
    req = Request(function_name=name, params=params, user=public_user(auth), master=auth.master,
                  context=auth.context, headers=auth.headers, ip=auth.ip,
                  installation_id=auth.installation_id, auth=auth)
    return await call_hook(hook, req, engine.hook_runner or make_runner(engine))


def encode_result(value: Any, depth: int = 0) -> Any:
    """A function's result in Parse's encoding. A dict with a string
    ``className`` and ``objectId`` (and no other ``__type``) is a Parse
    object: ``{"__type": "Object", "className", "objectId", ...}``.
    Datetimes become Dates, bytes become Bytes; other dicts, lists and
    JSON scalars are kept."""
    if depth > _MAX_RESULT_DEPTH:
        raise ParseError(errors.SCRIPT_FAILED, "The function result is nested too deeply.")
    if value is None or value is UNDEFINED or isinstance(value, (str, bool, int, float)):
        return None if value is UNDEFINED else value
    if isinstance(value, datetime):
        return types.date_json(value)
    if isinstance(value, (bytes, bytearray)):
        return {"__type": "Bytes", "base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode_result(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {str(k): encode_result(v, depth + 1) for k, v in value.items() if v is not UNDEFINED}
        if (isinstance(value.get("className"), str) and isinstance(value.get("objectId"), str)
                and value.get("__type", "Object") == "Object"):
            out = {"__type": "Object", **{k: v for k, v in out.items() if k != "__type"}}
        return out
    raise ParseError(errors.SCRIPT_FAILED, f"A function cannot return a {type(value).__name__}.")


def function_response(result: Any) -> dict:
    """``{"result": ...}``; None is ``{"result": null}`` (a JS function
    returning null) and ``UNDEFINED`` answers ``{}`` (returning undefined)."""
    return {} if result is UNDEFINED else {"result": encode_result(result)}


# ------------------------------------------------------------------ jobs

class JobStatus:
    """The ``_JobStatus`` record of one run, written through the engine."""

    def __init__(self, engine: Engine, name: str, params: dict) -> None:
        self.engine = engine
        self.name = name
        self.params = params
        self.object_id = ""
        self._lock = asyncio.Lock()
        self._pending: list[asyncio.Task] = []

    async def start(self) -> str:
        created = await self.engine.create(
            "_JobStatus",
            {"jobName": self.name, "source": "api", "status": "running", "params": self.params, "ACL": {}},
            Auth.as_master())
        self.object_id = created["objectId"]
        return self.object_id

    async def _write(self, data: dict) -> None:
        async with self._lock:
            await self.engine.update("_JobStatus", self.object_id, data, Auth.as_master())

    def message(self, text: Any) -> Awaitable[None]:
        """``req.message("...")``: records progress; awaiting it is optional."""
        if not isinstance(text, str) or not text:
            future: asyncio.Future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future
        task = asyncio.get_running_loop().create_task(self._write({"message": text}))
        self._pending.append(task)
        return task

    async def finish(self, status: str, message: Any) -> None:
        await asyncio.gather(*self._pending, return_exceptions=True)
        data: dict[str, Any] = {"status": status, "finishedAt": types.date_json(types.now())}
        if isinstance(message, str) and message:
            data["message"] = message
        await self._write(data)


async def start_job(engine: Engine, name: Any, params: dict, auth: Auth) -> str:
    """Records a running ``_JobStatus``, starts the job in the background
    and returns the status id; 141 "Invalid job." for an unknown name."""
    hook = engine.triggers.job(name)
    if hook is None:
        raise ParseError(errors.SCRIPT_FAILED, "Invalid job.")
    denylist.check(params)  # the params are stored in _JobStatus, whose writes refuse them
    status = JobStatus(engine, name, params)
    job_id = await status.start()
    req = Request(params=copy.deepcopy(params), headers=auth.headers, ip=auth.ip, job_name=name, job_id=job_id,
                  message=status.message)
    task = asyncio.get_running_loop().create_task(_run_job(engine, hook, req, status))
    jobs = state(engine).jobs
    jobs.add(task)
    task.add_done_callback(jobs.discard)
    return job_id


async def _run_job(engine: Engine, hook: Registered, req: Request, status: JobStatus) -> None:
    try:
        result = await call_hook(hook, req, engine.hook_runner or make_runner(engine))
    except ParseError as exc:
        outcome, message = "failed", exc.message
    else:
        outcome, message = "succeeded", result
    try:
        await status.finish(outcome, message)
    except Exception:
        log.exception("could not record the end of job %s", status.name)


async def stop_jobs(engine: Engine) -> None:
    """Cancels jobs still running (server shutdown)."""
    jobs = list(state(engine).jobs)
    for task in jobs:
        task.cancel()
    if jobs:
        await asyncio.gather(*jobs, return_exceptions=True)
