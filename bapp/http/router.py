"""Routing of API calls after the envelope is unwrapped.

The JS SDK sends every call as a POST carrying the real verb in ``_method``,
and ``/batch`` replays sub-requests in-process, so routes are matched here
on the effective method rather than by aiohttp's router."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.errors import master_key_required

if TYPE_CHECKING:
    from bapp.config import Settings
    from bapp.core.auth import Auth
    from bapp.core.engine import Engine


@dataclass
class ApiRequest:
    """One API call, transport-free: what every handler receives."""

    method: str
    path: str  # relative to the mount path, e.g. "/classes/Foo"
    engine: Engine
    auth: Auth
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    mount_url: str = ""
    raw: Any = None  # the aiohttp request, for streaming routes only
    in_batch: bool = False

    def require_master(self, refused: str | None = None) -> None:
        """Master-only routes: 403 without the master key; with ``refused``
        (what a write would do, e.g. "create a schema") the read-only master
        key gets Parse Server's 119 too."""
        if not self.auth.master:
            raise master_key_required()
        if refused and self.auth.read_only:
            raise errors.denied(errors.OPERATION_FORBIDDEN, f"read-only masterKey isn't allowed to {refused}.")

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def options(self) -> dict[str, Any]:
        """Body fields merged over the URL query (GET-style calls)."""
        merged = dict(self.query)
        if isinstance(self.body, dict):
            merged.update(self.body)
        return merged


@dataclass
class ApiResponse:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: Any = None  # a ready aiohttp response (file downloads)


Handler = Callable[[ApiRequest], Awaitable[ApiResponse]]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """``{name}`` matches one path segment, ``{name:path}`` the rest of the path."""
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+?)", pattern)
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex) + "/?$"
        self._routes.append((method, re.compile(regex), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for route_method, regex, handler in self._routes:
            if route_method != method:
                continue
            match = regex.match(path)
            if match:
                return handler, match.groupdict()
        return None

    def knows_path(self, path: str) -> bool:
        return any(regex.match(path) for _, regex, _ in self._routes)
