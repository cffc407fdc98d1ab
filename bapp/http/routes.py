"""Every API route module, in matching order (specific paths before the
generic ``/{prefix}/{objectId}`` ones)."""

from __future__ import annotations

from bapp.http import admin, batch, classes, functions, hooks, misc, schemas, sessions, users
from bapp.http.router import Router


def build_router() -> Router:
    router = Router()
    for module in (misc, admin, hooks, batch, functions, schemas, users, sessions, classes):
        module.register(router)
    return router
