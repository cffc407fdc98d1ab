"""Who a subscriber is and what it may see, decided with the REST read
rules (``bapp.core.permissions``, ``read.clean_object``) -- never a second
copy of them.

A subscriber's identity is one thing used everywhere (ACL, CLP, protected
fields): master when the connection presented the master key, else the
subscription's session token, else the connection's token, else
anonymous.  Identities are resolved through ``AuthService``'s session and
role caches, once per event per identity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.core import permissions as perms
from bapp.core.auth import Auth
from bapp.core.read import clean_object
from bapp.core.schema import ClassSchema, builtin_fields
from bapp.errors import ParseError
from bapp.model.matcher import CompiledWhere, compile_where

if TYPE_CHECKING:
    from bapp.core.engine import Engine

Identity = tuple  # ("master",) | ("token", token) | ("anonymous",)

INVALID_TOKEN = "Invalid session token"


def identity(master: bool, token: str | None) -> Identity:
    if master:
        return ("master",)
    if token:
        return ("token", token)
    return ("anonymous",)


async def resolve_auth(engine: Engine, ident: Identity, installation_id: str | None = None) -> Auth:
    """A fresh ``Auth`` for an identity (fresh so its role list comes from the
    role cache, which the write pipeline invalidates); 209 for a bad token."""
    if ident[0] == "master":
        return Auth(master=True, installation_id=installation_id)
    if ident[0] == "token":
        try:
            user = await engine.auth.user_for_token(ident[1])
        except ParseError:
            raise ParseError(errors.INVALID_SESSION_TOKEN, INVALID_TOKEN) from None
        return Auth(user=user, installation_id=installation_id)
    return Auth(installation_id=installation_id)


async def schema_for(engine: Engine, class_name: str) -> ClassSchema:
    """The class's schema; a class that does not exist yet (subscribing
    before the first save is allowed) gets the default, public CLP."""
    schema = await engine.schemas.get(class_name)
    return schema if schema is not None else ClassSchema(class_name, builtin_fields(class_name))


def clp_operation(where: dict) -> str:
    """Parse Server checks ``get`` for ``{objectId: "..."}`` alone, else ``find``."""
    return "get" if len(where) == 1 and isinstance(where.get("objectId"), str) else "find"


@dataclass
class Viewer:
    """One identity's view of one class during one event."""

    key: Identity
    auth: Auth
    group: list[str]
    schema: ClassSchema
    merged: dict
    applicable: list[str]
    _clp: dict[str, tuple[bool, CompiledWhere | None]] = field(default_factory=dict)

    def clp(self, op: str) -> tuple[bool, CompiledWhere | None]:
        """(allowed, pointer-permission matcher) for ``find``/``get``."""
        found = self._clp.get(op)
        if found is None:
            try:
                extra = perms.clp_constraint(self.schema, op, self.auth, self.group)
            except ParseError:
                found = (False, None)
            else:
                found = (True, compile_where(extra) if extra else None)
            self._clp[op] = found
        return found

    def can_see(self, obj: dict | None, op: str) -> bool:
        """Would a REST query by this identity return ``obj``?"""
        if obj is None:
            return False
        if self.auth.master:
            return True
        allowed, pointer_rule = self.clp(op)
        if not allowed or not perms.can_read(obj, self.group):
            return False
        return pointer_rule is None or _safe_match(pointer_rule, obj)

    def render(self, engine: Engine, class_name: str, obj: dict, keys: tuple[str, ...] | None) -> dict:
        """The object as this identity may see it: internal keys, secrets and
        protected fields removed (on a copy), then ``keys`` applied."""
        row = clean_object(engine, class_name, dict(obj), self.auth, self.merged, self.applicable)
        if class_name == "_User":  # never in events, not even one's own
            row.pop("sessionToken", None)
        if keys is not None:
            row = {k: v for k, v in row.items() if k in keys or k in _ALWAYS}
        row["className"] = class_name
        return row


_ALWAYS = frozenset({"objectId", "createdAt", "updatedAt", "ACL"})


def _safe_match(matcher: CompiledWhere, obj: dict) -> bool:
    try:
        return matcher.matches(obj)
    except ParseError:
        return False


async def viewer_for(engine: Engine, schema: ClassSchema, ident: Identity) -> Viewer:
    """Raises ParseError 209 when a token no longer resolves."""
    auth = await resolve_auth(engine, ident)
    group = await engine.auth.acl_group(auth)
    merged, applicable = perms.protected_sets(schema, engine.settings.protected_fields, auth, group)
    return Viewer(ident, auth, group, schema, merged, applicable)


def select_keys(keys: Any) -> tuple[str, ...] | None:
    """Subscription ``keys`` as the top-level names kept in events."""
    if keys is None:
        return None
    return tuple(dict.fromkeys(k.split(".", 1)[0] for k in keys))
