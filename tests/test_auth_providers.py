"""The ``auth`` option: Python provider modules, the built-in JWT/OIDC
provider (keys from a JWKS URL served here on 127.0.0.1), sign-up, login,
link and unlink through authData on /users, with Parse Server's errors."""

from __future__ import annotations

import json
import textwrap
import time

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import make_settings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bapp.config import ConfigError, Settings, apply_parse_config
from bapp.core.auth_providers import AuthProviders

UNSUPPORTED = (400, {"code": 252, "error": "This authentication method is unsupported."})
LINKED = (400, {"code": 208, "error": "this auth is already used"})

PROVIDER = '''
from bapp import cloud

CALLS = []

async def validate_auth_data(auth_data, options):
    CALLS.append(auth_data.get("id"))
    if auth_data.get("token") != options["secret"]:
        raise cloud.Error(cloud.Error.OBJECT_NOT_FOUND, "bad token")

def validate_app_id(app_ids, auth_data, options):
    if auth_data.get("app") not in app_ids:
        raise ValueError("wrong app")
'''

SYNC_PROVIDER = '''
def validate_auth_data(auth_data, options):
    if auth_data.get("pin") != "1234":
        raise RuntimeError()
'''

CLIENT_ID = "com.example.app"
ISSUER = "https://issuer.example"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY = rsa_key()
OTHER_KEY = rsa_key()
PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_jwk(key, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def token(sub="user-1", aud=CLIENT_ID, iss=ISSUER, key=KEY, kid="k1", exp_in=600, **extra) -> str:
    claims = {"sub": sub, "aud": aud, "iss": iss, "iat": int(time.time()), "exp": int(time.time()) + exp_in, **extra}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid} if kid else None)


@pytest.fixture
async def jwks_url():
    fetched = []

    async def keys(request):
        fetched.append(1)
        return web.json_response({"keys": [public_jwk(KEY, "k1")]})

    app = web.Application()
    app.router.add_get("/keys", keys)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}/keys"
    finally:
        await server.close()


@pytest.fixture
def settings(tmp_path, jwks_url):
    (tmp_path / "provider.py").write_text(textwrap.dedent(PROVIDER))
    (tmp_path / "sync_provider.py").write_text(textwrap.dedent(SYNC_PROVIDER))
    return make_settings(auth_providers={
        "myAuth": {"module": str(tmp_path / "provider.py"), "secret": "s3cret"},
        "appAuth": {"module": str(tmp_path / "provider.py"), "secret": "s3cret", "appIds": ["a1"]},
        "pinAuth": {"module": str(tmp_path / "sync_provider.py")},
        "offAuth": {"module": str(tmp_path / "provider.py"), "secret": "x", "enabled": False},
        "oidc": {"module": "jwt", "jwksUrl": jwks_url, "clientId": CLIENT_ID, "issuer": ISSUER},
        "apple": {"jwksUrl": jwks_url, "clientId": CLIENT_ID},
        "pem": {"module": "jwt", "key": PUBLIC_PEM, "clientId": [CLIENT_ID, "other-app"]},
    })


def my(id_="u1", secret="s3cret") -> dict:
    return {"authData": {"myAuth": {"id": id_, "token": secret}}}


async def test_sign_up_then_log_in_with_a_provider(api):
    first = await api.post("/users", my())
    assert first.status == 201, first.body
    assert first.body["sessionToken"].startswith("r:") and first.body["username"]
    again = await api.post("/users", my())
    assert again.status == 200
    assert again.body["objectId"] == first.body["objectId"]
    assert again.body["authData"] == {"myAuth": {"id": "u1", "token": "s3cret"}}
    assert again.body["sessionToken"] != first.body["sessionToken"]
    me = await api.get("/users/me", token=again.body["sessionToken"])
    assert me.body["objectId"] == first.body["objectId"]
    session = await api.get("/sessions/me", token=again.body["sessionToken"])
    assert session.body["createdWith"] == {"action": "login", "authProvider": "myAuth"}


async def test_a_refusing_provider_creates_nothing(api):
    assert tuple(await api.post("/users", my(secret="wrong"))) == (404, {"code": 101, "error": "bad token"})
    assert (await api.get("/classes/_User", {"count": 1}, master=True)).body["count"] == 0
    assert (await api.post("/users", my())).status == 201
    # an existing user's login is refused the same way, without a session
    assert tuple(await api.post("/users", my(secret="wrong"))) == (404, {"code": 101, "error": "bad token"})
    assert (await api.get("/classes/_Session", {"count": 1}, master=True)).body["count"] == 1


async def test_unknown_disabled_and_malformed_providers(api):
    assert tuple(await api.post("/users", {"authData": {"nope": {"id": "x"}}})) == UNSUPPORTED
    assert tuple(await api.post("/users", {"authData": {"offAuth": {"id": "x", "token": "x"}}})) == UNSUPPORTED
    assert (await api.post("/users", {"authData": {"myAuth": {"id": {"$ne": None}, "token": "s3cret"}}})).body[
        "code"] == 162
    assert tuple(await api.post("/users", {"authData": {"myAuth": {"token": "s3cret"}}})) == UNSUPPORTED
    assert tuple(await api.post("/users", {"authData": {"myAuth": "x"}})) == UNSUPPORTED


async def test_ids_must_be_strings_and_sync_providers(api):
    # Parse Server 9 refuses a non-string id before any provider is asked
    assert tuple(await api.post("/users", {"authData": {"myAuth": {"id": 1234, "token": "s3cret"}}})) == \
        (400, {"code": 162, "error": "Invalid authData id for provider 'myAuth'."})
    assert (await api.post("/users", {"authData": {"pinAuth": {"id": "p", "pin": "1234"}}})).status == 201
    assert (await api.post("/users", {"authData": {"pinAuth": {"id": "p", "pin": "1234"}}})).status == 200
    # a plain exception without a message: 141 and Parse Server's default text
    assert tuple(await api.post("/users", {"authData": {"pinAuth": {"id": "p", "pin": "0"}}})) == \
        (400, {"code": 141, "error": "Auth failed. Unknown error."})


async def test_app_ids_are_checked_first(api):
    data = {"authData": {"appAuth": {"id": "a", "token": "s3cret", "app": "other"}}}
    assert tuple(await api.post("/users", data)) == (400, {"code": 141, "error": "wrong app"})
    data["authData"]["appAuth"]["app"] = "a1"
    assert (await api.post("/users", data)).status == 201


async def test_link_and_unlink(api):
    ann = await api.signup("ann")
    path = f"/users/{ann['objectId']}"
    assert tuple(await api.put(path, my(secret="wrong"), token=ann["sessionToken"])) == \
        (404, {"code": 101, "error": "bad token"})
    assert (await api.put(path, my(), token=ann["sessionToken"])).status == 200
    login = await api.post("/users", my())
    assert (login.status, login.body["objectId"], login.body["username"]) == (200, ann["objectId"], "ann")
    # a second provider keeps the first
    assert (await api.put(path, {"authData": {"pinAuth": {"id": "pp", "pin": "1234"}}},
                          token=ann["sessionToken"])).status == 200
    stored = (await api.get(path, master=True)).body["authData"]
    assert set(stored) == {"myAuth", "pinAuth"}
    # unlink
    assert (await api.put(path, {"authData": {"myAuth": None}}, token=ann["sessionToken"])).status == 200
    assert set((await api.get(path, master=True)).body["authData"]) == {"pinAuth"}
    fresh = await api.post("/users", my())
    assert fresh.status == 201 and fresh.body["objectId"] != ann["objectId"]


async def test_unchanged_authdata_is_not_asked_again(api):
    ann = await api.signup("ann")
    path = f"/users/{ann['objectId']}"
    assert (await api.put(path, my(), token=ann["sessionToken"])).status == 200
    provider = api.engine.auth_providers.providers["myAuth"]
    # the secret changes: an update resending the same authData is not checked
    # again (it would fail now), a login is
    provider.options["secret"] = "rotated"
    assert (await api.put(path, {**my(), "city": "Oslo"}, token=ann["sessionToken"])).status == 200
    # a login always asks
    assert tuple(await api.post("/users", my())) == (404, {"code": 101, "error": "bad token"})


async def test_authdata_of_another_user(api):
    await api.post("/users", my("taken"))
    bob = await api.signup("bob")
    assert tuple(await api.put(f"/users/{bob['objectId']}", my("taken"), token=bob["sessionToken"])) == LINKED
    # a signed-in user posting someone else's authData
    reply = await api.post("/users", my("taken"), token=bob["sessionToken"])
    assert tuple(reply) == LINKED
    # refused before being told anything when the provider says no
    assert tuple(await api.post("/users", my("taken", "wrong"), token=bob["sessionToken"])) == \
        (404, {"code": 101, "error": "bad token"})


async def test_jwt_provider(api):
    ok = await api.post("/users", {"authData": {"oidc": {"id": "user-1", "id_token": token()}}})
    assert ok.status == 201, ok.body
    assert (await api.post("/users", {"authData": {"oidc": {"id": "user-1", "id_token": token()}}})).status == 200

    async def refused(data: dict) -> tuple:
        return tuple(await api.post("/users", {"authData": {"oidc": data}}))

    def not_found(message: str) -> tuple:
        return (404, {"code": 101, "error": message})

    assert await refused({"id": "user-1"}) == not_found("id token is invalid for this user.")
    assert await refused({"id": "user-2", "id_token": token()}) == not_found("auth data is invalid for this user.")
    assert await refused({"id": "user-1", "id_token": token(aud="other")}) == \
        not_found("jwt audience invalid. expected: com.example.app")
    assert await refused({"id": "user-1", "id_token": token(exp_in=-60)}) == not_found("jwt expired")
    assert await refused({"id": "user-1", "id_token": token(iss="https://evil.example")}) == \
        not_found("id token not issued by correct OpenID provider - expected: https://issuer.example | "
                  "from: https://evil.example")
    assert await refused({"id": "user-1", "id_token": token(key=OTHER_KEY)}) == not_found("invalid signature")
    assert await refused({"id": "user-1", "id_token": token(kid="k9")}) == \
        not_found("Unable to find matching key for Key ID: k9")
    assert await refused({"id": "user-1", "id_token": "not.a.jwt"}) == \
        not_found("provided token does not decode as JWT")
    unsigned = jwt.encode({"sub": "user-1", "aud": CLIENT_ID, "iss": ISSUER}, key=None, algorithm="none")
    assert (await refused({"id": "user-1", "id_token": unsigned}))[1]["code"] == 101


async def test_jwt_provider_with_a_configured_key(api):
    # no issuer configured: any issuer, but the audience and signature are checked
    assert (await api.post("/users", {"authData": {"pem": {"id": "p-1", "token": token(sub="p-1", aud="other-app",
                                                                                       kid=None)}}})).status == 201
    reply = await api.post("/users", {"authData": {"pem": {"id": "p-2", "token": token(sub="p-2", key=OTHER_KEY)}}})
    assert tuple(reply) == (404, {"code": 101, "error": "invalid signature"})


async def test_apple_sign_in(api):
    apple = "https://appleid.apple.com"
    reply = await api.post("/users", {"authData": {"apple": {"id": "a-1", "token": token(sub="a-1", iss=apple)}}})
    assert reply.status == 201, reply.body
    assert tuple(await api.post("/users", {"authData": {"apple": {"id": "a-1", "token": token(sub="a-1")}}})) == \
        (404, {"code": 101, "error": "id token not issued by correct OpenID provider - expected: "
                                     "https://appleid.apple.com | from: https://issuer.example"})


async def test_anonymous_users_can_be_turned_off(tmp_path):
    from conftest import Client, start_server

    settings = make_settings(enable_anonymous_users=False)
    server, session = await start_server(settings)
    try:
        api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
        assert tuple(await api.post("/users", {"authData": {"anonymous": {"id": "x1"}}})) == UNSUPPORTED
    finally:
        await session.close()
        await server.close()


def write_config(tmp_path, auth: dict) -> Settings:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "auth": auth}))
    settings = Settings()
    apply_parse_config(settings, path)
    return settings


def test_config_mapping(tmp_path):
    (tmp_path / "p.py").write_text(textwrap.dedent(PROVIDER))
    settings = write_config(tmp_path, {"anonymous": {"enabled": False}, "mine": {"module": "p.py", "secret": "s"}})
    assert settings.enable_anonymous_users is False
    assert settings.auth_providers["mine"]["module"] == str(tmp_path / "p.py")
    providers = AuthProviders.from_settings(settings)
    assert providers.knows("mine") and not providers.knows("anonymous")


@pytest.mark.parametrize("auth, message", [
    ({"facebook": {"appIds": ["1"]}}, "auth.facebook: bapp has no built-in facebook provider"),
    ({"mine": {"module": "missing.py"}}, "auth.mine: module .* does not exist"),
    ({"mine": {"module": "empty.py"}}, "must define validate_auth_data"),
    ({"mine": {"module": "broken.py"}}, "failed to load: ZeroDivisionError"),
    ({"google": {}}, "auth.google: clientId .* is required"),
    ({"x": {"module": "jwt", "clientId": "c"}}, "auth.x: a key or a jwksUrl is required"),
    ({"x": "on"}, "auth.x must be an object"),
])
def test_config_errors(tmp_path, auth, message):
    (tmp_path / "empty.py").write_text("X = 1\n")
    (tmp_path / "broken.py").write_text("1 / 0\n")
    with pytest.raises(ConfigError, match=message):
        AuthProviders.from_settings(write_config(tmp_path, auth))
