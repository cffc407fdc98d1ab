"""The account pages the links in the mails open (Parse Server's
PagesRouter), under ``<mount>/<pagesEndpoint>`` (default ``apps``):

* ``GET  /apps/<appId>/verify_email?token=``: verifies, then the success,
  expired-link (with a form to send a new mail) or invalid-link page.
* ``POST /apps/<appId>/resend_verification_email`` (form ``token`` or
  ``username``): redirects (303) to the send-success or send-fail page.
* ``GET  /apps/<appId>/request_password_reset?token=``: the choose-a-new-password
  form, or the invalid-link page.
* ``POST /apps/<appId>/request_password_reset`` (form ``token``,
  ``new_password``): the success page, or the form again with the error.
  With ``X-Requested-With: XMLHttpRequest`` it answers JSON instead:
  ``"Password successfully reset"`` or ``{"code", "error"}``.
* ``GET  /apps/choose_password`` and ``GET /apps/<file>.html``: the pages themselves.

As in Parse Server, a GET answers with the page's HTML and a POST with a
303 redirect to it (``pages.forceRedirect`` makes every answer a redirect);
``pages.customUrls`` (and the legacy ``customPages``) redirect to the
deployment's own pages instead. The page parameters are in the query of a
redirect and in ``x-parse-page-param-*`` headers. ``pages.pagesPath`` names
a directory of HTML files that replace the built-in ones (placeholders:
``{{appName}}``, ``{{token}}``, ``{{error}}``, ... escaped; ``{{{x}}}`` raw)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from aiohttp import web

from bapp import errors
from bapp.config_accounts import PAGE_FILES
from bapp.core import accounts
from bapp.core.engine import Engine
from bapp.http.app import ENGINE_KEY

BUILTIN_DIR = Path(__file__).with_name("page_templates")
PARAM_HEADER = "x-parse-page-param-"
_PLACEHOLDER = re.compile(r"\{\{\{\s*(\w+)\s*\}\}\}|\{\{\s*(\w+)\s*\}\}")


def register(app: web.Application, mount: str) -> None:
    """Adds the page routes under ``mount`` (call before the catch-all)."""
    engine = app[ENGINE_KEY]
    base = f"{mount}/{engine.settings.pages.pages_endpoint}"
    app.router.add_get(base + "/choose_password", choose_password)
    app.router.add_get(base + "/{app_id}/verify_email", verify_email)
    app.router.add_post(base + "/{app_id}/resend_verification_email", resend_verification_email)
    app.router.add_get(base + "/{app_id}/request_password_reset", request_password_reset_page)
    app.router.add_post(base + "/{app_id}/request_password_reset", reset_password)
    app.router.add_get(base + "/{name:[A-Za-z0-9_\\-]+\\.html}", static_page)


# ------------------------------------------------------------------ rendering

def render(template: str, params: dict[str, Any]) -> str:
    """Mustache-style placeholders: ``{{x}}`` HTML-escaped, ``{{{x}}}`` raw."""
    def fill(match: re.Match) -> str:
        raw, escaped = match.group(1), match.group(2)
        value = params.get(raw or escaped)
        text = "" if value is None else str(value)
        return text if raw else html.escape(text, quote=True)

    return _PLACEHOLDER.sub(fill, template)


def _template(engine: Engine, filename: str) -> str | None:
    """The page file: the deployment's ``pagesPath`` first, then bapp's own."""
    custom = engine.settings.pages.pages_path
    for directory in ([Path(custom).resolve()] if custom else []) + [BUILTIN_DIR]:
        path = (directory / filename).resolve()
        if path.parent != directory.resolve() or not path.is_file():
            continue  # never a file outside the pages directory
        return path.read_text(encoding="utf-8")
    return None


def _default_params(engine: Engine) -> dict[str, Any]:
    settings = engine.settings
    return {"appId": settings.app_id, "appName": settings.app_name, "publicServerUrl": settings.public_server_url}


def _param_headers(params: dict[str, Any]) -> dict[str, str]:
    return {PARAM_HEADER + k.lower(): str(v) for k, v in params.items() if v is not None}


def _page_url(engine: Engine, filename: str) -> str:
    base = engine.settings.public_server_url.rstrip("/")
    return f"{base}/{engine.settings.pages.pages_endpoint}/{filename}"


def _redirect(url: str, params: dict[str, Any]) -> web.Response:
    parts = urlsplit(url)
    present = {k: str(v) for k, v in params.items() if v is not None}
    query = "&".join(q for q in (parts.query, urlencode(present)) if q)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return web.Response(status=303, headers={"Location": location, **_param_headers(present)})


def not_found() -> web.Response:
    return web.Response(status=404, text="Not found.")


def go_to_page(request: web.Request, page_id: str, params: dict[str, Any] | None = None,
               redirect: bool | None = None) -> web.Response:
    """Parse Server's goToPage: a custom URL, a redirect or the page itself."""
    engine = request.app[ENGINE_KEY]
    pages = engine.settings.pages
    defaults = _default_params(engine)
    if any(v is None for v in defaults.values()):
        return not_found()
    params = {**(params or {}), **defaults}
    if pages.force_redirect:
        redirect = True
    elif redirect is None:
        redirect = request.method == "POST"
    filename = PAGE_FILES[page_id]
    custom = pages.custom_url(page_id)
    if custom and urlsplit(custom).scheme in ("http", "https"):
        # A path-like custom URL is ignored, as Parse Server's Utils.isPath check does.
        return _redirect(custom, params)
    if redirect:
        return _redirect(_page_url(engine, filename), params)
    return _page_response(engine, filename, params)


def _page_response(engine: Engine, filename: str, params: dict[str, Any]) -> web.Response:
    template = _template(engine, filename)
    if template is None:
        return not_found()
    pages = engine.settings.pages
    body = render(template, {"pagesEndpoint": pages.pages_endpoint, **params, **pages.placeholders})
    return web.Response(text=body, content_type="text/html", headers=_param_headers(params))


# ------------------------------------------------------------------ requests

def _engine_for(request: web.Request, app_id: str | None) -> Engine:
    engine = request.app[ENGINE_KEY]
    if app_id != engine.settings.app_id:
        # Parse Server: no app with that id -> 403 "unauthorized".
        raise web.HTTPForbidden(text=orjson.dumps({"error": "unauthorized"}).decode(),
                                content_type="application/json")
    return engine


async def _form(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}
    return dict(await request.post())


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


async def verify_email(request: web.Request) -> web.Response:
    engine = _engine_for(request, request.match_info["app_id"])
    token = _text(request.query.get("token"))
    if token is None:
        return go_to_page(request, "emailVerificationLinkInvalid")
    if await accounts.verify_email(engine, token):
        return go_to_page(request, "emailVerificationSuccess")
    return go_to_page(request, "emailVerificationLinkExpired", {"token": token})


async def resend_verification_email(request: web.Request) -> web.Response:
    engine = _engine_for(request, request.match_info["app_id"])
    form = await _form(request)
    username, token = _text(form.get("username")), _text(form.get("token"))
    if username is None and token is None:
        return go_to_page(request, "emailVerificationLinkInvalid")
    if await accounts.resend_verification_email(engine, username=username, token=token):
        return go_to_page(request, "emailVerificationSendSuccess")
    return go_to_page(request, "emailVerificationSendFail")


async def choose_password(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    params = {"token": request.query.get("token"), "error": request.query.get("error")}
    return _page_response(engine, PAGE_FILES["passwordReset"], {**params, **_default_params(engine)})


async def request_password_reset_page(request: web.Request) -> web.Response:
    engine = _engine_for(request, request.match_info["app_id"])
    token = _text(request.query.get("token"))
    if token is None:
        return go_to_page(request, "passwordResetLinkInvalid")
    try:
        await accounts.check_reset_token(engine, token)
    except accounts.AccountError:
        return go_to_page(request, "passwordResetLinkInvalid")
    return go_to_page(request, "passwordReset", {"token": token})


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def reset_password(request: web.Request) -> web.Response:
    engine = _engine_for(request, request.match_info["app_id"])
    xhr = request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest"
    form = await _form(request)
    token, new_password = _text(form.get("token")), form.get("new_password")
    if (token is None or not new_password) and not xhr:
        return go_to_page(request, "passwordResetLinkInvalid")
    if token is None:
        return _json({"code": errors.OTHER_CAUSE, "error": "Missing token"}, 400)
    if not isinstance(new_password, str) or not new_password:
        return _json({"code": errors.PASSWORD_MISSING, "error": "Missing password"}, 400)
    try:
        await accounts.reset_password(engine, token, new_password)
    except accounts.AccountError as exc:
        if xhr:
            return _json({"code": errors.OTHER_CAUSE, "error": exc.message}, 400)
        # Parse Server answers the form again, with the error, as the page itself.
        return go_to_page(request, "passwordReset", {"token": token, "error": exc.message}, redirect=False)
    if xhr:
        return _json("Password successfully reset")
    return go_to_page(request, "passwordResetSuccess", redirect=False)


async def static_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    name = request.match_info["name"]
    if name not in PAGE_FILES.values() and engine.settings.pages.pages_path is None:
        return not_found()
    return _page_response(engine, name, _default_params(engine))
