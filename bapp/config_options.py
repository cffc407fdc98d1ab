"""Checks and mapping of the Parse Server options that carry structure:
``idempotencyOptions``, ``rateLimit``, ``trustProxy``, ``auth``, ``push`` and
``schema``. Each function takes the option's JSON value and raises
``ValueError`` with Parse Server's wording where it has one."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from bapp.core.ratelimit import DEFAULT_MESSAGE, ZONES, RateLimitRule

_RATE_LIMIT_KEYS = {
    "requestPath", "requestTimeWindow", "requestCount", "errorResponseMessage", "includeMasterKey",
    "includeInternalRequests", "requestMethods", "zone", "redisUrl",
}
_TRUST_NAMES = {
    "loopback": ["127.0.0.1/8", "::1/128"],
    "linklocal": ["169.254.0.0/16", "fe80::/10"],
    "uniquelocal": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def idempotency(value: Any) -> tuple[list[str], int]:
    """``{paths, ttl}``: the path regexes and the TTL in seconds (default 300)."""
    if value is None:
        return [], 300
    if not isinstance(value, dict):
        raise ValueError("idempotencyOptions must be an object")
    ttl = value.get("ttl", 300)
    if not _is_number(ttl):
        raise ValueError("idempotency TTL value must be a number")
    if ttl <= 0:
        raise ValueError("idempotency TTL value must be greater than 0 seconds")
    paths = value.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError("idempotency paths must be of an array of strings")
    for path in paths:
        try:
            re.compile(path)
        except re.error as exc:
            raise ValueError(f"idempotency path {path!r} is not a valid regular expression: {exc}") from None
    return list(paths), int(ttl)


def rate_limits(value: Any) -> list[RateLimitRule]:
    if value is None:
        return []
    if not isinstance(value, (dict, list)):
        raise ValueError("rateLimit must be an array or object")
    rules = []
    for option in value if isinstance(value, list) else [value]:
        if not isinstance(option, dict):
            raise ValueError("rateLimit must be an array of objects")
        rules.append(_rate_limit(option))
    return rules


def _rate_limit(option: dict) -> RateLimitRule:
    for key in option:
        if key not in _RATE_LIMIT_KEYS:
            raise ValueError(f'Invalid rate limit option "{key}"')
    redis_url = option.get("redisUrl")
    if redis_url is not None and not isinstance(redis_url, str):
        raise ValueError("rateLimit.redisUrl must be a string")
    path = option.get("requestPath")
    if path is None:
        raise ValueError("rateLimit.requestPath must be defined")
    if not isinstance(path, str):
        raise ValueError("rateLimit.requestPath must be a string")
    window = option.get("requestTimeWindow")
    if window is None:
        raise ValueError("rateLimit.requestTimeWindow must be defined")
    if not _is_number(window):
        raise ValueError("rateLimit.requestTimeWindow must be a number")
    if option.get("includeInternalRequests") and not isinstance(option["includeInternalRequests"], bool):
        raise ValueError("rateLimit.includeInternalRequests must be a boolean")
    count = option.get("requestCount")
    if count is None:
        raise ValueError("rateLimit.requestCount must be defined")
    if not _is_number(count):
        raise ValueError("rateLimit.requestCount must be a number")
    message = option.get("errorResponseMessage")
    if message and not isinstance(message, str):
        raise ValueError("rateLimit.errorResponseMessage must be a string")
    zone = option.get("zone") or "ip"
    if zone not in ZONES:
        raise ValueError(f"rateLimit.zone must be one of {', '.join(ZONES[:-1])}, or {ZONES[-1]}")
    methods = option.get("requestMethods")
    if methods is not None and not isinstance(methods, (list, str)):
        raise ValueError("rateLimit.requestMethods must be an array or a string")
    return RateLimitRule(
        request_path=path, request_time_window=int(window), request_count=int(count),
        error_response_message=message or DEFAULT_MESSAGE,
        include_master_key=bool(option.get("includeMasterKey", False)),
        include_internal_requests=bool(option.get("includeInternalRequests", False)),
        request_methods=methods, zone=zone, redis_url=redis_url or None,
    )


def trust_proxy(value: Any) -> bool | int | list[str]:
    """Express's ``trust proxy``: ``true`` (the left-most ``X-Forwarded-For``
    address), a hop count, or the proxies' addresses/networks (a list or a
    comma-separated string; ``loopback``, ``linklocal``, ``uniquelocal``)."""
    if value is None or value is False or value == []:
        return False
    if value is True:
        return True
    if isinstance(value, int):
        if value < 0:
            raise ValueError("trustProxy hop count must not be negative")
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
        if text.isdigit():
            return int(text)
        value = [p.strip() for p in value.split(",") if p.strip()]
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise ValueError("trustProxy must be a boolean, a number of hops, or a list of addresses")
    networks: list[str] = []
    for entry in value:
        for item in _TRUST_NAMES.get(entry, [entry]):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"trustProxy: {entry!r} is not an address or network") from None
            networks.append(item)
    return networks


def auth_providers(value: Any, base: Path | None) -> dict[str, dict]:
    """``auth``: provider name -> options; a ``module`` naming a Python file
    is made absolute (relative paths are read from the config file's folder)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("auth must be an object of providers")
    out: dict[str, dict] = {}
    for name, options in value.items():
        if not isinstance(options, dict):
            raise ValueError(f"auth.{name} must be an object")
        options = dict(options)
        if "enabled" in options and not isinstance(options["enabled"], bool):
            raise ValueError(f"auth.{name}.enabled must be a boolean")
        module = options.get("module")
        if module is not None and module not in ("jwt", "oidc"):
            options["module"] = module_path(module, base, f"auth.{name}")
        out[name] = options
    return out


def push(value: Any, base: Path | None) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("push must be an object")
    value = dict(value)
    if "module" not in value:
        raise ValueError("bapp has no built-in push adapter (APNs, FCM); name a Python module defining "
                         "send(body, installations) (\"module\": \"path/to/push.py\")")
    value["module"] = module_path(value["module"], base, "push")
    return value


def module_path(value: Any, base: Path | None, what: str) -> str:
    """A ``module`` option naming a Python file: absolute, or relative to
    the config file's directory."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what}: module must be a path to a Python file")
    path = Path(value)
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path)
