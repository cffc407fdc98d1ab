"""Validators of cloud functions and triggers, with Parse Server's rules and
messages (all failures are 142 "Validation failed. ...").

A validator is a function (called with the request; raising rejects) or a
dict of options, checked when it is registered so a typo stops start-up:

- ``require_user``, ``require_master``, ``validate_master_key``,
  ``skip_with_master_key``;
- ``require_any_user_roles`` / ``require_all_user_roles``: role names, or a
  (possibly async) function returning them;
- ``require_user_keys``: names that must be set on the user, or a dict of
  ``{name: {"options": ..., "error": ...}}``;
- ``fields``: required names, or ``{name: {"type", "required", "default",
  "options", "constant", "error"}}``. ``type`` is a Python type (str, int,
  float, bool, list, dict) or a Parse name ("String", "Number", ...).

Parse's camelCase spellings (``requireUser``, ...) are accepted too."""

from __future__ import annotations

import copy
import inspect
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.errors import ParseError

if TYPE_CHECKING:
    from bapp.core.engine import Engine
    from bapp.core.triggers import Registered, Request

_OPTIONS = {
    "require_user": "require_user", "requireUser": "require_user",
    "require_master": "require_master", "requireMaster": "require_master",
    "validate_master_key": "validate_master_key", "validateMasterKey": "validate_master_key",
    "skip_with_master_key": "skip_with_master_key", "skipWithMasterKey": "skip_with_master_key",
    "require_any_user_roles": "require_any_user_roles", "requireAnyUserRoles": "require_any_user_roles",
    "require_all_user_roles": "require_all_user_roles", "requireAllUserRoles": "require_all_user_roles",
    "require_user_keys": "require_user_keys", "requireUserKeys": "require_user_keys",
    "fields": "fields",
}
_FIELD_KEYS = frozenset({"type", "required", "default", "options", "constant", "error"})
_TYPE_NAMES = {
    str: "string", int: "number", float: "number", bool: "boolean", list: "array", dict: "object",
    "string": "string", "number": "number", "boolean": "boolean", "array": "array", "object": "object",
}


# ------------------------------------------------------------------ registration

def normalize(validator: Any) -> Any:
    """The validator in canonical form; raises ValueError for an unknown
    option or a malformed one (a registration error, as in Parse)."""
    if validator is None or callable(validator):
        return validator
    if not isinstance(validator, dict):
        raise ValueError("a validator must be a function or a dict of options")
    out: dict[str, Any] = {}
    for key, value in validator.items():
        canon = _OPTIONS.get(key) if isinstance(key, str) else None
        if canon is None:
            raise ValueError(f"invalid validator option: {key!r}")
        out[canon] = value
    for key in ("require_any_user_roles", "require_all_user_roles"):
        if key in out and not callable(out[key]) and not _str_list(out[key]):
            raise ValueError(f"{key} must be a list of role names or a function")
    keys = out.get("require_user_keys")
    if keys is not None and not _str_list(keys) and not isinstance(keys, dict):
        raise ValueError("require_user_keys must be a list of names or a dict")
    if "fields" in out:
        out["fields"] = _normalize_fields(out["fields"])
    return out


def _str_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _normalize_fields(fields: Any) -> Any:
    if _str_list(fields):
        return list(fields)
    if not isinstance(fields, dict):
        raise ValueError("fields must be a list of names or a dict of field options")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if not isinstance(name, str):
            raise ValueError(f"invalid field name in validator: {name!r}")
        if isinstance(spec, str):
            out[name] = spec
            continue
        if not isinstance(spec, dict):
            raise ValueError(f"the validator options of field {name} must be a dict")
        unknown = [k for k in spec if k not in _FIELD_KEYS]
        if unknown:
            raise ValueError(f"invalid option {unknown[0]!r} for field {name}")
        spec = dict(spec)
        if "type" in spec:
            spec["type"] = _type_name(name, spec["type"])
        out[name] = spec
    return out


def _type_name(field_name: str, kind: Any) -> str:
    key = kind.lower() if isinstance(kind, str) else kind
    try:
        return _TYPE_NAMES[key]
    except (KeyError, TypeError):
        raise ValueError(f"invalid type {kind!r} for field {field_name}") from None


# ------------------------------------------------------------------ running

def _fail(message: str) -> ParseError:
    return ParseError(errors.VALIDATION_ERROR, message)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def run(validator: Any, req: Request, hook: Registered, engine: Engine) -> bool:
    """Runs a validator; returns True when the handler must be skipped
    (``skip_with_master_key`` on a trigger called with the master key)."""
    if callable(validator):
        try:
            await _maybe_await(validator(req))
        except ParseError:
            raise
        except Exception as exc:
            raise _fail(str(exc) or "Validation failed.") from None
        return False
    # Parse skips only trigger handlers, never a cloud function's.
    skip = bool(validator.get("skip_with_master_key")) and req.master and hook.kind not in ("function", "job")
    if req.master and not validator.get("validate_master_key"):
        return skip
    try:
        await _check(validator, req, hook, engine)
    except ParseError:
        raise
    except Exception as exc:
        raise _fail(str(exc) or "Validation failed.") from None
    return skip


def _request_user(req: Request, hook: Registered) -> dict | None:
    """The user the checks apply to: a signup counts as its new user."""
    if req.user is not None:
        return req.user
    if (hook.name == "_User" and hook.kind in ("beforeSave", "afterSave") and req.object is not None
            and req.original is None):
        return req.object
    return None


async def _check(options: dict, req: Request, hook: Registered, engine: Engine) -> None:
    user = _request_user(req, hook)
    any_roles = options.get("require_any_user_roles")
    all_roles = options.get("require_all_user_roles")
    if (options.get("require_user") or any_roles or all_roles) and not user:
        raise _fail("Validation failed. Please login to continue.")
    if options.get("require_master") and not req.master:
        raise _fail("Validation failed. Master key is required to complete this request.")
    await _check_fields(options.get("fields"), req)
    if any_roles or all_roles:
        await _check_roles(any_roles, all_roles, req, engine)
    await _check_user_keys(options.get("require_user_keys"), user)


async def _check_fields(fields: Any, req: Request) -> None:
    if not fields:
        return
    params = req.object if req.object is not None else req.params
    if params is None:
        params = {}

    def required(key: str) -> None:
        if params.get(key) is None:
            raise _fail(f"Validation failed. Please specify data for {key}.")

    if isinstance(fields, list):
        for key in fields:
            required(key)
        return
    for key, spec in fields.items():
        if isinstance(spec, str):
            required(spec)
            continue
        _apply_default_and_constant(key, spec, params, req)
        if spec.get("required"):
            required(key)
        if not spec.get("required") and key not in params:
            continue  # optional and absent: nothing to check
        value = params.get(key)
        if "type" in spec and _js_type(value) != spec["type"]:
            raise _fail(f"Validation failed. Invalid type for {key}. Expected: {spec['type']}")
        if "options" in spec:
            await check_options(spec, key, value)


def _apply_default_and_constant(key: str, spec: dict, params: dict, req: Request) -> None:
    default = spec.get("default")
    if default is not None and params.get(key) is None:
        params[key] = copy.deepcopy(default)
    if spec.get("constant") and req.object is not None:
        if req.original is not None:
            # Parse's revert(): the stored value stays.
            if key in req.original:
                req.object[key] = copy.deepcopy(req.original[key])
            else:
                req.object.pop(key, None)
        elif default is not None:
            req.object[key] = copy.deepcopy(default)


def _js_type(value: Any) -> str:
    """``typeof`` as Parse's validator computes it (null is "object")."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _js_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(a: Any, b: Any) -> bool:
    # JS includes(): true is not 1.
    return isinstance(a, bool) == isinstance(b, bool) and a == b


async def check_options(spec: dict, key: str, value: Any) -> None:
    options = spec["options"]
    custom = spec.get("error")
    if callable(options):
        try:
            result = await _maybe_await(options(value))
        except Exception as exc:
            message = exc.message if isinstance(exc, ParseError) else str(exc)
            raise _fail(custom or message or f"Validation failed. Invalid value for {key}.") from None
        if not result and result is not None:
            raise _fail(custom or f"Validation failed. Invalid value for {key}.")
        return
    allowed = list(options) if isinstance(options, (list, tuple)) else [options]
    if not any(_same(value, option) for option in allowed):
        expected = ", ".join(_js_text(o) for o in allowed)
        raise _fail(custom or f"Validation failed. Invalid option for {key}. Expected: {expected}")


async def _role_list(value: Any) -> Any:
    if callable(value):
        resolved = await _maybe_await(value())
        return resolved if isinstance(resolved, (list, tuple)) else None
    return value


async def _check_roles(any_roles: Any, all_roles: Any, req: Request, engine: Engine) -> None:
    held = await engine.auth.roles_of(req.auth) if req.auth is not None else []
    wanted_any = await _role_list(any_roles)
    wanted_all = await _role_list(all_roles)
    if wanted_any and not any(f"role:{name}" in held for name in wanted_any):
        raise _fail("Validation failed. User does not match the required roles.")
    for name in wanted_all or []:
        if f"role:{name}" not in held:
            raise _fail("Validation failed. User does not match all the required roles.")


async def _check_user_keys(keys: Any, user: dict | None) -> None:
    if not keys:
        return
    if isinstance(keys, dict):
        if user is None:
            raise _fail("Please login to make this request.")
        for key, spec in keys.items():
            if isinstance(spec, dict) and "options" in spec:
                await check_options(spec, key, user.get(key))
        return
    for key in keys:
        if user is None:
            raise _fail("Please login to make this request.")
        if user.get(key) is None:
            raise _fail(f"Validation failed. Please set data for {key} on your account.")

