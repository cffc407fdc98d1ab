"""``/users`` and the login routes: sign-up (and authData login), ``/login``,
``/logout``, ``/users/me``, ``/loginAs``, ``/verifyPassword``, and the
e-mail request routes. Registered before the generic class routes, so
``/users/me`` is never read as an objectId."""

from __future__ import annotations

from bapp.core import accounts, login
from bapp.http import classes
from bapp.http.router import ApiRequest, ApiResponse, Router


def _body(req: ApiRequest) -> dict:
    return req.body if isinstance(req.body, dict) else {}


async def sign_up(req: ApiRequest) -> ApiResponse:
    """201 for a new user; 200 when the authData names an existing user
    (the SDKs read the status to tell a login from a sign-up)."""
    existing = await login.auth_data_login(req.engine, req.body, req.auth)
    if existing is not None:
        return ApiResponse(existing, 200)
    return await classes.create_object(req, "_User")


def _login_params(req: ApiRequest) -> dict:
    # Parse Server reads the URL query instead of the body when only the
    # query names the user (``GET /login?username=..&password=..``).
    body = _body(req)
    query = req.query or {}
    if (not body.get("username") and query.get("username")) or (not body.get("email") and query.get("email")):
        return {k: (v if isinstance(v, str) or v is None else str(v)) for k, v in query.items()}
    return body


async def log_in(req: ApiRequest) -> ApiResponse:
    return ApiResponse(await login.login(req.engine, _login_params(req), req.auth))


async def verify_password(req: ApiRequest) -> ApiResponse:
    return ApiResponse(await login.verify_password(req.engine, _login_params(req), req.auth))


async def log_out(req: ApiRequest) -> ApiResponse:
    return ApiResponse(await login.logout(req.engine, req.auth))


async def me(req: ApiRequest) -> ApiResponse:
    return ApiResponse(await login.me(req.engine, req.auth))


async def log_in_as(req: ApiRequest) -> ApiResponse:
    user_id = _body(req).get("userId") or (req.query or {}).get("userId")
    return ApiResponse(await login.login_as(req.engine, user_id, req.auth))


async def request_password_reset(req: ApiRequest) -> ApiResponse:
    await accounts.request_password_reset(req.engine, _body(req).get("email"))
    return ApiResponse({})


async def request_verification_email(req: ApiRequest) -> ApiResponse:
    await accounts.request_verification_email(req.engine, _body(req).get("email"))
    return ApiResponse({})


def register(router: Router) -> None:
    router.add("POST", "/users", sign_up)
    router.add("POST", "/classes/_User", sign_up)
    router.add("GET", "/users/me", me)
    router.add("GET", "/login", log_in)
    router.add("POST", "/login", log_in)
    router.add("POST", "/loginAs", log_in_as)
    router.add("POST", "/logout", log_out)
    router.add("GET", "/verifyPassword", verify_password)
    router.add("POST", "/verifyPassword", verify_password)
    router.add("POST", "/requestPasswordReset", request_password_reset)
    router.add("POST", "/verificationEmailRequest", request_verification_email)
    classes.register_class_routes(router, "/users", "_User")
