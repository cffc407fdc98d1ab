"""The engine: one object that ties storage, schemas, auth, hooks and the
LiveQuery hub together, and the entry points every route and cloud-code
call goes through."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import quote

from bapp.config import Settings
from bapp.core import logbuffer, read, webhooks, write
from bapp.core.auth import Auth, AuthService
from bapp.core.auth_providers import AuthProviders
from bapp.core.idempotency import Idempotency
from bapp.core.push import PushService
from bapp.core.ratelimit import RateLimiter
from bapp.core.schema import ClassSchema, SchemaCache
from bapp.core.triggers import Registered, Registry, Request
from bapp.model import types
from bapp.model.query import QueryOptions


class Hub(Protocol):
    """Where committed writes are announced (LiveQuery)."""

    async def publish(self, class_name: str, original: dict | None, current: dict | None) -> None: ...


class NullHub:
    async def publish(self, class_name: str, original: dict | None, current: dict | None) -> None:
        return None


def _announce_nowhere(kind: str, key: str | None) -> None:
    """A single instance has nobody to tell about a cache invalidation."""


class Engine:
    def __init__(self, settings: Settings, storage: Any, triggers: Registry | None = None) -> None:
        self.settings = settings
        self.storage = storage
        # Tells other instances on the same database which cached entries a
        # change made stale: (kind, key), kind one of "session", "user",
        # "roles", "schema", "hooks". Replaced by ``bapp.cluster`` when a bus exists.
        self.announce: Callable[[str, str | None], None] = _announce_nowhere
        self.schemas = SchemaCache(storage)
        self.schemas.on_change = lambda class_name: self.announce("schema", class_name)
        self.auth = AuthService(self)
        self.triggers = triggers or Registry()
        self.hub: Hub = NullHub()
        self.files: Any = None
        self.mail: Any = None  # bapp.mail.Mailer when an emailAdapter is configured
        self.log = logging.getLogger("bapp")
        # Set by the cloud-code layer to run hooks with its request object.
        self.hook_runner: Callable[[Registered, Request], Awaitable[Any]] | None = None
        # Run in order at the end of start() (e.g. applying schema files).
        self.startup_tasks: list[Callable[[Engine], Awaitable[None]]] = []
        # Recent log records for GET /scriptlog, collected while running.
        self.logs = logbuffer.LogBuffer(settings.log_buffer_size)
        self.auth_providers = AuthProviders.from_settings(settings)
        self.idempotency = Idempotency(self, settings.idempotency_paths, settings.idempotency_ttl)
        # Its counter can be replaced by one shared between instances.
        self.rate_limiter = RateLimiter(settings.rate_limits)
        self.push = PushService(self, settings.push)
        storage.file_url = self.file_url

    # ---------------------------------------------------------------- setup
    async def start(self) -> None:
        logbuffer.attach(self.logs)
        await self.storage.connect()
        await self.schemas.load()
        for name in ("_User", "_Role"):
            await self.schemas.ensure_class(name)
        await self._ensure_system_indexes()
        await webhooks.load(self)
        if self.idempotency.enabled:
            await self.idempotency.start()
        for task in self.startup_tasks:
            await task(self)

    async def _ensure_system_indexes(self) -> None:
        user_fields = self.schemas.fields_of("_User")
        await self.storage.ensure_index("_User", user_fields, {"username": 1}, "username_1", unique=True)
        await self.storage.ensure_index("_User", user_fields, {"email": 1}, "email_1", unique=True)
        await self.storage.ensure_index("_User", user_fields, {"username": 1}, "case_insensitive_username",
                                        case_insensitive=True)
        await self.storage.ensure_index("_User", user_fields, {"email": 1}, "case_insensitive_email",
                                        case_insensitive=True)
        await self.storage.ensure_index("_Role", self.schemas.fields_of("_Role"), {"name": 1}, "name_1", unique=True)

    async def stop(self) -> None:
        logbuffer.detach(self.logs)
        await self.push.drain()
        await self.storage.close()

    def file_url(self, name: str) -> str:
        # Percent-encoded as Parse Server's encodeURIComponent (names may hold spaces).
        return f"{self.settings.mount_url()}/files/{self.settings.app_id}/{quote(name, safe='')}"

    # ---------------------------------------------------------------- entry points
    async def find(self, class_name: str, opts: QueryOptions, auth: Auth) -> dict:
        return await read.find(self, class_name, opts, auth)

    async def get(self, class_name: str, object_id: Any, opts: QueryOptions, auth: Auth) -> dict:
        return await read.get(self, class_name, object_id, opts, auth)

    async def create(self, class_name: str, data: Any, auth: Auth) -> dict:
        return await write.create(self, class_name, data, auth)

    async def update(self, class_name: str, object_id: Any, data: Any, auth: Auth,
                     where: dict | None = None) -> dict:
        """``where``: a condition the object must match at the moment of the
        (atomic) write; a miss is 101 (see ``write.update``)."""
        return await write.update(self, class_name, object_id, data, auth, condition=where)

    async def delete(self, class_name: str, object_id: Any, auth: Auth) -> dict:
        return await write.delete(self, class_name, object_id, auth)

    # ---------------------------------------------------------------- helpers
    def hook_request(self, trigger: str, auth: Auth, **kwargs: Any) -> Request:
        return Request(
            trigger_name=trigger,
            user=dict(auth.user) if auth.user else None,
            master=auth.master,
            context=auth.context,
            headers=auth.headers,
            ip=auth.ip,
            installation_id=auth.installation_id,
            auth=auth,
            **kwargs,
        )

    def decode_for_event(self, class_name: str, schema: ClassSchema, stored: dict) -> dict:
        """A just-written object in REST form (what a read would return)."""
        obj = self.storage.as_read(schema.fields, stored)
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    async def after_write(self, class_name: str, original: dict | None, current: dict) -> None:
        """Cache invalidation and the LiveQuery event of a committed write."""
        self._invalidate(class_name, current)
        await self.hub.publish(class_name, original, current)

    async def after_delete(self, class_name: str, obj: dict) -> None:
        self._invalidate(class_name, obj)
        await self.hub.publish(class_name, obj, None)

    def _invalidate(self, class_name: str, obj: dict) -> None:
        if class_name == "_Role":
            self.auth.forget_roles()
        elif class_name == "_User":
            self.auth.forget_user(obj.get("objectId", ""))
        elif class_name == "_Session":
            self.auth.forget_session(obj.get("sessionToken"))

    def clean(self, class_name: str, obj: dict, auth: Auth) -> dict:
        return read.clean_object(self, class_name, dict(obj), auth)

    def pointer(self, class_name: str, object_id: str) -> dict:
        return types.pointer(class_name, object_id)
