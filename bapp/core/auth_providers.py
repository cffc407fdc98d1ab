"""Auth providers (Parse Server's ``auth`` option): who may vouch for an
``authData`` entry on ``/users``.

- ``anonymous`` is built in (off with ``auth.anonymous.enabled: false`` or
  ``enableAnonymousUsers: false``);
- ``apple`` and ``google`` are built in as the JWT/OIDC provider with those
  issuers' keys (``bapp.core.jwt_auth``), as is any provider whose
  ``module`` is ``"jwt"``;
- any other provider is a Python file (``"module": "path/to/provider.py"``)
  defining ``validate_auth_data(auth_data, options)`` and optionally
  ``validate_app_id(app_ids, auth_data, options)`` (called when the options
  carry ``appIds``), plain or ``async``, rejecting by raising: a
  ``cloud.Error`` answers with its code, any other exception with 141 and
  its message, as Parse Server resolves adapter errors.

A provider listed with ``"enabled": false`` is refused like an unknown one
(252 "This authentication method is unsupported.")."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bapp import errors
from bapp.config import ConfigError, Settings
from bapp.core import jwt_auth, plugins
from bapp.errors import ParseError

log = logging.getLogger("bapp.auth")
UNSUPPORTED = "This authentication method is unsupported."
JWT_MODULES = ("jwt", "oidc")

Validator = Callable[[dict, dict], Awaitable[Any]]


def unsupported() -> ParseError:
    return ParseError(errors.UNSUPPORTED_SERVICE, UNSUPPORTED)


@dataclass
class Provider:
    name: str
    options: dict
    validate: Validator
    validate_app_id: Callable[..., Any] | None = None


async def _accept(auth_data: dict, options: dict) -> None:
    return None


def _module_provider(name: str, options: dict) -> Provider:
    what = f"auth.{name}"
    module = plugins.load_module(options["module"], what)
    validate_fn = plugins.function(module, "validate_auth_data", what, required=True)
    app_id_fn = plugins.function(module, "validate_app_id", what, required=False)

    async def validate(auth_data: dict, opts: dict) -> Any:
        return await plugins.call(validate_fn, auth_data, opts)

    return Provider(name, options, validate, app_id_fn)


def _jwt_provider(name: str, options: dict, defaults: dict | None) -> Provider:
    try:
        verifier = jwt_auth.JwtProvider.from_options(name, options, defaults)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Provider(name, options, verifier.validate)


def build_provider(name: str, options: dict) -> Provider:
    module = options.get("module")
    if module in JWT_MODULES:
        return _jwt_provider(name, options, None)
    if module:
        return _module_provider(name, options)
    if name in jwt_auth.BUILT_IN:
        return _jwt_provider(name, options, jwt_auth.BUILT_IN[name])
    raise ConfigError(f"auth.{name}: bapp has no built-in {name} provider; "
                      "name a Python module that validates its authData (\"module\": \"path/to/provider.py\")")


class AuthProviders:
    def __init__(self, providers: dict[str, Provider], anonymous: bool) -> None:
        self.providers = providers
        self.anonymous = anonymous

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthProviders:
        providers: dict[str, Provider] = {}
        for name, options in (settings.auth_providers or {}).items():
            if options.get("enabled", True) is False or name == "anonymous":
                continue
            providers[name] = build_provider(name, options)
        return cls(providers, settings.enable_anonymous_users)

    def knows(self, name: str) -> bool:
        return (name == "anonymous" and self.anonymous) or name in self.providers

    async def validate(self, auth_data: dict[str, dict]) -> None:
        """Runs every provider's check, one after the other in name order
        (as Parse Server, so a failing one stops the others)."""
        for name in sorted(auth_data):
            data = auth_data[name]
            if name == "anonymous" and self.anonymous:
                continue
            provider = self.providers.get(name)
            if provider is None:
                raise unsupported()
            try:
                app_ids = provider.options.get("appIds")
                if app_ids and provider.validate_app_id is not None:
                    await plugins.call(provider.validate_app_id, app_ids, data, provider.options)
                await provider.validate(data, provider.options)
            except ParseError as exc:
                log.info("auth provider %s refused authData: %s", name, exc.message)
                raise
            except Exception as exc:  # the provider's own failure, reported as Parse Server does
                log.info("auth provider %s failed: %r", name, exc)
                raise ParseError(errors.SCRIPT_FAILED, str(exc) or "Auth failed. Unknown error.") from None
