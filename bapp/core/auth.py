"""Who is asking: the request's auth, session resolution and role sets.

Sessions and role sets are cached in-process (they are read on nearly every
request) and invalidated by the write pipeline when ``_Session``, ``_User``
or ``_Role`` objects change; a short TTL bounds staleness across instances."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.core import types
from bapp.errors import ParseError
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


class AuthService:
    """Resolves session tokens to users and users to role names."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions: dict[str, tuple[float, dict, datetime | None]] = {}
        self._roles: dict[str, tuple[float, list[str]]] = {}
        self.role_loads = 0

    # ------------------------------------------------------------ sessions
    async def user_for_token(self, token: Any) -> dict:
        """The user of a session token, or 209 (also for an expired session)."""
        if not isinstance(token, str) or not token or len(token) > 512:
            raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
        cached = self._sessions.get(token)
        now = time.monotonic()
        if cached and now - cached[0] < SESSION_TTL:
            _, user, expires = cached
        else:
            user, expires = await self._load_session(token)
            self._sessions[token] = (now, user, expires)
        # Expiry is checked on every use, cached or not.
        if expires is not None and expires <= datetime.now(UTC):
            raise ParseError(errors.INVALID_SESSION_TOKEN, "Session token is expired.")
        return user

    async def _load_session(self, token: str) -> tuple[dict, datetime | None]:
        storage = self.engine.storage
        sessions = await storage.find("_Session", self.engine.schemas.fields_of("_Session"),
                                      {"sessionToken": token}, FindOptions(limit=1))
        user_ptr = sessions[0].get("user") if sessions else None
        if not types.is_pointer(user_ptr):
            legacy = await storage.find("_User", self.engine.schemas.fields_of("_User"),
                                        {"_session_token": token}, FindOptions(limit=1))
            if not legacy:
                raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
            return legacy[0], None
        users = await storage.find("_User", self.engine.schemas.fields_of("_User"),
                                   {"objectId": user_ptr["objectId"]}, FindOptions(limit=1))
        if not users:
            raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
        expires = sessions[0].get("expiresAt")
        moment = types.parse_iso(expires["iso"]) if isinstance(expires, dict) and expires.get("iso") else None
        return users[0], moment

    def forget_session(self, token: str | None = None) -> None:
        if token is None:
            self._sessions.clear()
        else:
            self._sessions.pop(token, None)

    def forget_user(self, user_id: str) -> None:
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
        if cached and now - cached[0] < ROLE_TTL:
            auth.roles = cached[1]
            return auth.roles
        names = await self._load_roles(user_id)
        self._roles[user_id] = (now, names)
        auth.roles = names
        return names

    async def _load_roles(self, user_id: str) -> list[str]:
        storage = self.engine.storage
        self.role_loads += 1
        found = set(await storage.owning_ids("users", "_Role", [user_id]))
        frontier = set(found)
        # Parents are the roles whose `roles` relation lists a role we hold.
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
        self._roles.clear()

    async def acl_group(self, auth: Auth) -> list[str]:
        group = ["*"]
        if auth.user_id:
            group.append(auth.user_id)
            group.extend(await self.roles_of(auth))
        return group
