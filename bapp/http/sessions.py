"""``/sessions`` (own sessions only for non-master callers), ``/sessions/me``
and ``/upgradeToRevocableSession``."""

from __future__ import annotations

from bapp.core import login
from bapp.http import classes
from bapp.http.router import ApiRequest, ApiResponse, Router


async def session_me(req: ApiRequest) -> ApiResponse:
    return ApiResponse(await login.session_me(req.engine, req.auth))


async def upgrade(req: ApiRequest) -> ApiResponse:
    return ApiResponse(await login.upgrade_session(req.engine, req.auth.session_token, req.auth))


def register(router: Router) -> None:
    router.add("GET", "/sessions/me", session_me)
    router.add("POST", "/upgradeToRevocableSession", upgrade)
    classes.register_class_routes(router, "/sessions", "_Session")
