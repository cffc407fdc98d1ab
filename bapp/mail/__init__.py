"""Outgoing e-mail: the adapter a deployment configures and the service the
engine sends verification and password-reset mails through.

``emailAdapter`` (Parse Server's option) is ``{"module": ..., "options": {...}}``:

* ``"module": "smtp"``: the built-in SMTP adapter (``bapp.mail.smtp``).
* ``"module": "path/to/mailer.py"`` (or an importable module name): a
  Python module of the deployment's that defines ``send_mail(message)``
  and/or both ``send_verification_email(data)`` and
  ``send_password_reset_email(data)``; each may be ``def`` or ``async def``.
  ``message`` is ``{"to", "subject", "text", "options"}``; ``data`` is
  ``{"appName", "link", "user", "options"}`` with ``user`` the REST user
  (no password or internal fields) and ``options`` the adapter's options.
  When a specific function is missing, ``send_mail`` gets Parse Server's
  default text for that mail.

Sending is fire-and-forget, as in Parse Server: the request that caused a
mail (a sign-up, ``/requestPasswordReset``) is answered without waiting for
the mail server, so a failing mail server never fails or half-writes a
sign-up. A failed send is logged (logger ``bapp.mail``) with the recipient
and the error; the token stays valid, so the user can ask again."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("bapp.mail")


class MailConfigError(ValueError):
    """An emailAdapter that cannot be loaded (stops start-up)."""


class ModuleAdapter:
    """A deployment's Python mailer module."""

    def __init__(self, module: Any, options: dict) -> None:
        self.options = options
        self.send_mail_fn: Callable | None = getattr(module, "send_mail", None)
        self.verification_fn: Callable | None = getattr(module, "send_verification_email", None)
        self.reset_fn: Callable | None = getattr(module, "send_password_reset_email", None)
        if self.send_mail_fn is None and (self.verification_fn is None or self.reset_fn is None):
            raise MailConfigError(f"mail module {module.__name__} must define send_mail, or both "
                                  "send_verification_email and send_password_reset_email")

    async def send_mail(self, message: dict) -> None:
        await _call(self.send_mail_fn, {**message, "options": self.options})

    async def send_verification_email(self, data: dict) -> bool:
        if self.verification_fn is None:
            return False
        await _call(self.verification_fn, {**data, "options": self.options})
        return True

    async def send_password_reset_email(self, data: dict) -> bool:
        if self.reset_fn is None:
            return False
        await _call(self.reset_fn, {**data, "options": self.options})
        return True


async def _call(fn: Callable | None, arg: dict) -> None:
    if fn is None:
        raise MailConfigError("the mail module has no send_mail")
    if inspect.iscoroutinefunction(fn):
        await fn(arg)
        return
    result = await asyncio.to_thread(fn, arg)  # a blocking mailer must not stall the event loop
    if inspect.isawaitable(result):
        await result


def _load_module(name: str) -> Any:
    path = Path(name)
    if name.endswith(".py") or path.is_file():
        if not path.is_file():
            raise MailConfigError(f"emailAdapter module not found: {name}")
        mod_name = f"bapp_mail_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise MailConfigError(f"cannot load emailAdapter module {name}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(mod_name, None)
            raise MailConfigError(f"emailAdapter module {name} failed to load: {exc!r}") from exc
        return module
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MailConfigError(f"cannot import emailAdapter module {name}: {exc}") from exc


def build_mail_adapter(config: dict | None) -> Any:
    """The adapter ``emailAdapter`` names, or None without one."""
    if not config:
        return None
    options = dict(config.get("options") or {})
    if config["module"] == "smtp":
        from bapp.mail.smtp import SmtpAdapter

        return SmtpAdapter(options)
    return ModuleAdapter(_load_module(config["module"]), options)


def default_verification_email(link: str, user: dict, app_name: str) -> dict:
    """Parse Server's default verification mail."""
    email = user.get("email")
    text = (f"Hi,\n\nYou are being asked to confirm the e-mail address {email} with {app_name}\n\n"
            f"Click here to confirm it:\n{link}")
    return {"text": text, "to": email, "subject": f"Please verify your e-mail for {app_name}"}


def default_password_reset_email(link: str, user: dict, app_name: str) -> dict:
    """Parse Server's default password-reset mail."""
    username = user.get("username")
    named = f" (your username is '{username}')" if username else ""
    text = f"Hi,\n\nYou requested to reset your password for {app_name}{named}.\n\nClick here to reset it:\n{link}"
    return {"text": text, "to": user.get("email") or username, "subject": f"Password Reset for {app_name}"}


class Mailer:
    """Sends the account mails in the background and keeps track of the
    sends in flight (``drain`` waits for them, e.g. at shutdown)."""

    def __init__(self, adapter: Any, app_name: str | None) -> None:
        self.adapter = adapter
        self.app_name = app_name or ""
        self._tasks: set[asyncio.Task] = set()

    def send_verification_email(self, link: str, user: dict) -> None:
        self._spawn("verification", user, self._verification(link, user))

    def send_password_reset_email(self, link: str, user: dict) -> None:
        self._spawn("password reset", user, self._reset(link, user))

    async def _verification(self, link: str, user: dict) -> None:
        data = {"appName": self.app_name, "link": link, "user": user}
        if not await self.adapter.send_verification_email(data):
            await self.adapter.send_mail(default_verification_email(link, user, self.app_name))

    async def _reset(self, link: str, user: dict) -> None:
        data = {"appName": self.app_name, "link": link, "user": user}
        if not await self.adapter.send_password_reset_email(data):
            await self.adapter.send_mail(default_password_reset_email(link, user, self.app_name))

    def _spawn(self, kind: str, user: dict, work: Any) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as exc:  # logged, never shown to the client (as Parse Server)
                log.error("sending the %s e-mail for user %s <%s> failed: %s", kind, user.get("objectId"),
                          user.get("email") or user.get("username"), exc)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Waits for the mails being sent."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
