"""Who is asking: the request's auth, session resolution and role sets.

Sessions and role sets are cached in-process (they are read on nearly every
request) and invalidated by the write pipeline when ``_Session``, ``_User``
or ``_Role`` objects change. Each invalidation is also announced through
``engine.announce`` so that other instances on the same database drop the
same entries (``bapp.cluster``); a short TTL bounds staleness where no
announcement can arrive (instances without a shared bus, or a bus that is
down, when the cluster layer shortens it further).
A load that was under way while the cache was invalidated is used for its
own request but not cached, so a revoked session or a removed role never
comes back from a slow read."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.errors import ParseError
from bapp.model import types
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

SESSION_TTL = 5.0
ROLE_TTL = 5.0


@dataclass
class Auth:
    """The caller of one request, plus the request facts hooks may read."""

    master: bool = False
    read_only: bool = False
    user: dict | None = None
    session_token: str | None = None
    installation_id: str | None = None
    context: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    ip: str | None = None
    roles: list[str] | None = None

    @property
    def user_id(self) -> str | None:
        return self.user.get("objectId") if self.user else None

    @property
    def user_pointer(self) -> dict | None:
        return types.pointer("_User", self.user["objectId"]) if self.user else None

    @classmethod
    def as_master(cls, **kwargs: Any) -> Auth:
        return cls(master=True, **kwargs)


CACHE_LIMIT = 10_000


def _bounded_put(cache: dict, key: str, entry: tuple, ttl: float) -> None:
    """Stores ``entry`` (whose first item is its time); past the limit,
    expired entries go first, then the oldest, so the caches cannot grow
    without bound however many users and tokens pass through."""
    cache.pop(key, None)
    cache[key] = entry
    if len(cache) <= CACHE_LIMIT:
        return
    now = time.monotonic()
    for stale in [k for k, v in cache.items() if now - v[0] >= ttl]:
        del cache[stale]
    while len(cache) > CACHE_LIMIT:
        del cache[next(iter(cache))]


class AuthService:
    """Resolves session tokens to users and users to role names."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions: dict[str, tuple[float, dict, datetime | None]] = {}
        self._roles: dict[str, tuple[float, list[str]]] = {}
        self._role_loading: dict[str, asyncio.Future] = {}
        self._session_gen = 0
        self._role_gen = 0
        self.role_loads = 0
        self.session_loads = 0
        self.session_ttl = SESSION_TTL
        self.role_ttl = ROLE_TTL

    # ------------------------------------------------------------ sessions
    async def user_for_token(self, token: Any) -> dict:
        """The user of a session token, or 209 (also for an expired session)."""
        if not isinstance(token, str) or not token or len(token) > 512:
            raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
        cached = self._sessions.get(token)
        now = time.monotonic()
        if cached and now - cached[0] < self.session_ttl:
            _, user, expires = cached
        else:
            gen = self._session_gen
            user, expires = await self._load_session(token)
            if gen == self._session_gen:
                _bounded_put(self._sessions, token, (now, user, expires), self.session_ttl)
        # Expiry is checked on every use, cached or not.
        if expires is not None and expires <= datetime.now(UTC):
            raise ParseError(errors.INVALID_SESSION_TOKEN, "Session token is expired.")
        return user

    async def _load_session(self, token: str) -> tuple[dict, datetime | None]:
        """Only ``_Session`` tokens authenticate; a legacy token stored on the
        user is good for ``/upgradeToRevocableSession`` alone, as in Parse."""
        storage = self.engine.storage
        self.session_loads += 1
        sessions = await storage.find("_Session", self.engine.schemas.fields_of("_Session"),
                                      {"sessionToken": token}, FindOptions(limit=1))
        user_ptr = sessions[0].get("user") if sessions else None
        if not types.is_pointer(user_ptr) or user_ptr.get("className") != "_User":
            raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
        users = await storage.find("_User", self.engine.schemas.fields_of("_User"),
                                   {"objectId": user_ptr["objectId"]}, FindOptions(limit=1))
        if not users:
            raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
        expires = sessions[0].get("expiresAt")
        moment = types.parse_iso(expires["iso"]) if isinstance(expires, dict) and expires.get("iso") else None
        return users[0], moment

    def forget_session(self, token: str | None = None) -> None:
        """Drops one cached session (every one for ``None``), here and on the
        other instances."""
        self.drop_session(token)
        self.engine.announce("session", token)

    def drop_session(self, token: str | None = None) -> None:
        self._session_gen += 1
        if token is None:
            self._sessions.clear()
        else:
            self._sessions.pop(token, None)

    def forget_user(self, user_id: str) -> None:
        """Drops the cached sessions of a user (changed or deleted), here and
        on the other instances."""
        self.drop_user(user_id)
        self.engine.announce("user", user_id)

    def drop_user(self, user_id: str) -> None:
        self._session_gen += 1
        for token in [t for t, (_, u, _) in self._sessions.items() if u.get("objectId") == user_id]:
            del self._sessions[token]

    # ------------------------------------------------------------ roles
    async def roles_of(self, auth: Auth) -> list[str]:
        """``role:<name>`` entries for the caller, with inherited roles."""
        if auth.roles is not None:
            return auth.roles
        user_id = auth.user_id
        if not user_id:
            auth.roles = []
            return auth.roles
        cached = self._roles.get(user_id)
        now = time.monotonic()
        if cached and now - cached[0] < self.role_ttl:
            auth.roles = cached[1]
            return auth.roles
        # Concurrent requests of one user share a single load.
        pending = self._role_loading.get(user_id)
        if pending is None:
            pending = asyncio.ensure_future(self._load_and_cache_roles(user_id))
            self._role_loading[user_id] = pending
            pending.add_done_callback(lambda done: self._loaded(user_id, done))
        auth.roles = list(await asyncio.shield(pending))
        return auth.roles

    def _loaded(self, user_id: str, done: asyncio.Future) -> None:
        if self._role_loading.get(user_id) is done:
            del self._role_loading[user_id]

    async def _load_and_cache_roles(self, user_id: str) -> list[str]:
        gen = self._role_gen
        names = await self._load_roles(user_id)
        if gen == self._role_gen:
            _bounded_put(self._roles, user_id, (time.monotonic(), names), self.role_ttl)
        return names

    async def _load_roles(self, user_id: str) -> list[str]:
        storage = self.engine.storage
        self.role_loads += 1
        found = set(await storage.owning_ids("users", "_Role", [user_id]))
        frontier = set(found)
        # Role P's `roles` relation lists the roles whose members inherit P:
        # the parents of a held role are the owners of _Join:roles:_Role rows
        # whose relatedId is that role. Cycles end because only new roles
        # are followed; the depth cap bounds a pathological hierarchy.
        for _ in range(64):
            if not frontier:
                break
            parents = set(await storage.owning_ids("roles", "_Role", list(frontier)))
            frontier = parents - found
            found |= parents
        if not found:
            return []
        docs = await storage.find("_Role", self.engine.schemas.fields_of("_Role"),
                                  {"objectId": {"$in": sorted(found)}}, FindOptions(keys=["name"]))
        return sorted("role:" + d["name"] for d in docs if isinstance(d.get("name"), str))

    def forget_roles(self) -> None:
        """Drops every cached role set (a role or its membership changed),
        here and on the other instances."""
        self.drop_roles()
        self.engine.announce("roles", None)

    def drop_roles(self) -> None:
        self._role_gen += 1
        self._roles.clear()
        self._role_loading.clear()

    async def acl_group(self, auth: Auth) -> list[str]:
        group = ["*"]
        if auth.user_id:
            group.append(auth.user_id)
            group.extend(await self.roles_of(auth))
        return group
