"""The built-in JWT/OpenID Connect auth provider: an ``id_token`` (or
``token``) signed by a configured key or by a key from the provider's JWKS
URL, issued by the expected issuer for the configured client id, whose
``sub`` is the authData ``id``. Sign in with Apple and with Google are this
provider with their issuers and key URLs (Parse Server's ``apple`` and
``google`` adapters, same codes and messages).

Verification uses PyJWT; keys from a JWKS URL are cached for
``cacheMaxAge`` ms (default one hour) and fetched again, at most every ten
seconds, when a token names an unknown key id."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import jwt

from bapp import errors
from bapp.errors import ParseError

log = logging.getLogger("bapp.auth")

APPLE = {"issuer": ["https://appleid.apple.com"], "jwksUrl": "https://appleid.apple.com/auth/keys",
         "tokenField": "token", "issuerMessage": "id token not issued by correct OpenID provider - expected: "
                                                  "https://appleid.apple.com"}
GOOGLE = {"issuer": ["accounts.google.com", "https://accounts.google.com"],
          "jwksUrl": "https://www.googleapis.com/oauth2/v3/certs", "tokenField": "id_token",
          "issuerMessage": "id token not issued by correct provider - expected: accounts.google.com or "
                           "https://accounts.google.com"}
BUILT_IN = {"apple": APPLE, "google": GOOGLE}
DEFAULT_ALGORITHMS = ["RS256", "ES256"]
REFETCH_INTERVAL = 10.0
FETCH_TIMEOUT = 10.0


def _fail(message: str) -> ParseError:
    return ParseError(errors.OBJECT_NOT_FOUND, message)


def _jsonwebtoken_message(exc: jwt.PyJWTError, audience: list[str]) -> str:
    """The wording of jsonwebtoken (Parse Server's verifier) for the usual failures."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "jwt expired"
    if isinstance(exc, jwt.InvalidAudienceError):
        return f"jwt audience invalid. expected: {' or '.join(audience)}"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "jwt not active"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "invalid signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "invalid algorithm"
    if isinstance(exc, jwt.DecodeError):
        return "jwt malformed"
    return str(exc) or "jwt invalid"


@dataclass
class JwtProvider:
    name: str
    audience: list[str]
    issuer: list[str] | None = None
    jwks_url: str | None = None
    key: Any = None
    algorithms: list[str] = field(default_factory=lambda: list(DEFAULT_ALGORITHMS))
    token_fields: tuple[str, ...] = ("id_token", "token")
    issuer_message: str | None = None
    cache_max_age: float = 3600.0
    _keys: dict[str, Any] = field(default_factory=dict, repr=False)
    _fetched_at: float = field(default=0.0, repr=False)

    @classmethod
    def from_options(cls, name: str, options: dict, defaults: dict | None) -> JwtProvider:
        defaults = defaults or {}
        audience = options.get("clientId", options.get("audience"))
        if isinstance(audience, str):
            audience = [audience]
        if not audience or not all(isinstance(a, str) for a in audience):
            # A token check without an audience accepts tokens minted for any
            # app of the issuer: refused (Parse Server leaves it optional).
            raise ValueError(f"auth.{name}: clientId (the expected token audience) is required")
        issuer = options.get("issuer", defaults.get("issuer"))
        if isinstance(issuer, str):
            issuer = [issuer]
        jwks_url = options.get("jwksUrl", defaults.get("jwksUrl"))
        key = options.get("key")
        if not jwks_url and not key:
            raise ValueError(f"auth.{name}: a key or a jwksUrl is required")
        algorithms = options.get("algorithms", DEFAULT_ALGORITHMS)
        if not isinstance(algorithms, list) or not algorithms or "none" in algorithms:
            raise ValueError(f"auth.{name}: algorithms must be a list of JWT algorithms")
        fields = (defaults["tokenField"],) if "tokenField" in defaults else ("id_token", "token")
        message = defaults.get("issuerMessage") or (
            f"id token not issued by correct OpenID provider - expected: {' or '.join(issuer)}" if issuer else None)
        return cls(name=name, audience=list(audience), issuer=issuer, jwks_url=jwks_url, key=key,
                   algorithms=list(algorithms), token_fields=fields, issuer_message=message,
                   cache_max_age=float(options.get("cacheMaxAge", 3_600_000)) / 1000.0)

    async def validate(self, auth_data: dict, options: dict) -> None:
        token = next((auth_data.get(f) for f in self.token_fields if auth_data.get(f)), None)
        if not isinstance(token, str):
            raise _fail("id token is invalid for this user.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _fail("provided token does not decode as JWT") from None
        key = await self._signing_key(header.get("kid"))
        try:
            claims = jwt.decode(token, key, algorithms=self.algorithms, audience=self.audience,
                                options={"require": ["sub"]})
        except jwt.PyJWTError as exc:
            raise _fail(_jsonwebtoken_message(exc, self.audience)) from None
        if self.issuer and claims.get("iss") not in self.issuer:
            raise _fail(f"{self.issuer_message} | from: {claims.get('iss')}")
        if claims.get("sub") != auth_data.get("id"):
            raise _fail("auth data is invalid for this user.")

    async def _signing_key(self, kid: Any) -> Any:
        if self.key is not None:
            return self.key
        now = time.monotonic()
        stale = now - self._fetched_at > self.cache_max_age
        if stale or (kid not in self._keys and now - self._fetched_at > REFETCH_INTERVAL):
            await self._fetch()
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise _fail(f"Unable to find matching key for Key ID: {kid}")

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            document = await asyncio.to_thread(_get_json, self.jwks_url)
            keys = {jwk.get("kid"): jwt.PyJWK.from_json(json.dumps(jwk)).key for jwk in document.get("keys", [])}
        except (OSError, ValueError, AttributeError, TypeError, jwt.PyJWTError) as exc:
            # The keys we had stay; a token naming an unknown key fails.
            log.warning("auth.%s: cannot read the keys at %s: %r", self.name, self.jwks_url, exc)
            return
        self._keys = keys


def _get_json(url: str) -> Any:
    if not url.startswith(("https://", "http://")):
        raise ValueError("jwksUrl must be an http(s) URL")
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as resp:  # noqa: S310 (scheme checked above)
        return json.loads(resp.read(1_000_000))
