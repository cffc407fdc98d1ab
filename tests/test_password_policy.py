"""passwordPolicy and accountLockout through the REST API, with Parse
Server's codes and messages."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bapp.config_accounts import AccountLockout, PasswordPolicy
from bapp.core.password_policy import as_datetime
from bapp.model import types
from tests.test_email_verification import stored_user

POLICY = "Password does not meet the Password Policy requirements."


async def test_validator_pattern_and_error(api):
    api.engine.settings.password_policy = PasswordPolicy(validator_pattern="^(?=.*[a-z])(?=.*[0-9]).{8,}$")
    reply = await api.post("/users", {"username": "a", "password": "short"})
    assert (reply.status, reply.body) == (400, {"code": 142, "error": POLICY})
    api.engine.settings.password_policy.validation_error = "Use 8+ characters with a digit."
    reply = await api.post("/users", {"username": "a", "password": "nodigitshere"})
    assert (reply.status, reply.body) == (400, {"code": 142, "error": "Use 8+ characters with a digit."})
    user = await api.signup("a", "longenough1")
    reply = await api.put(f"/users/{user['objectId']}", {"password": "bad"}, token=user["sessionToken"])
    assert (reply.status, reply.body) == (400, {"code": 142, "error": "Use 8+ characters with a digit."})
    assert (await api.post("/login", {"username": "a", "password": "longenough1"})).status == 200


async def test_do_not_allow_username(api):
    api.engine.settings.password_policy = PasswordPolicy(do_not_allow_username=True)
    reply = await api.post("/users", {"username": "zoe", "password": "i-am-zoe!"})
    assert (reply.status, reply.body) == (400, {"code": 142, "error": "Password cannot contain your username."})
    user = await api.signup("zoe", "secret")
    # On a change the stored username counts.
    reply = await api.put(f"/users/{user['objectId']}", {"password": "zoe123"}, token=user["sessionToken"])
    assert (reply.status, reply.body) == (400, {"code": 142, "error": "Password cannot contain your username."})


async def test_password_history(api):
    api.engine.settings.password_policy = PasswordPolicy(max_password_history=2)
    user = await api.signup("hal", "one")
    token = user["sessionToken"]

    async def change(password: str):
        nonlocal token
        reply = await api.put(f"/users/{user['objectId']}", {"password": password}, token=token)
        if reply.status == 200:
            token = reply.body["sessionToken"]
        return reply

    assert (await change("two")).status == 200
    stored = await stored_user(api, "hal")
    assert len(stored["_password_history"]) == 1 and stored["_password_history"][0].startswith("$2")
    for repeated in ("one", "two"):
        reply = await change(repeated)
        assert (reply.status, reply.body) == (
            400, {"code": 142, "error": "New password should not be the same as last 2 passwords."})
    assert (await change("three")).status == 200
    assert (await change("one")).status == 200  # older than the last two
    assert len((await stored_user(api, "hal"))["_password_history"]) == 1


async def test_max_password_age(api):
    api.engine.settings.password_policy = PasswordPolicy(max_password_age=1)
    await api.signup("ian", "pw")
    stored = await stored_user(api, "ian")
    changed = as_datetime(stored["_password_changed_at"])
    assert abs(changed - types.now()) < timedelta(minutes=1)
    assert (await api.post("/login", {"username": "ian", "password": "pw"})).status == 200
    old = types.date_json(types.now() - timedelta(days=2))
    await api.engine.storage.update("_User", api.engine.schemas.fields_of("_User"), {"objectId": stored["objectId"]},
                                    {"_password_changed_at": old})
    reply = await api.post("/login", {"username": "ian", "password": "pw"})
    assert (reply.status, reply.body) == (
        404, {"code": 101, "error": "Your password has expired. Please reset your password."})


async def test_max_password_age_starts_for_users_from_before_the_policy(api):
    api.engine.settings.password_policy = None
    await api.signup("jo", "pw")
    assert "_password_changed_at" not in await stored_user(api, "jo")
    api.engine.settings.password_policy = PasswordPolicy(max_password_age=1)
    assert (await api.post("/login", {"username": "jo", "password": "pw"})).status == 200
    assert "_password_changed_at" in await stored_user(api, "jo")


async def test_validator_callback_from_cloud_code(settings, tmp_path):
    from tests.conftest import Client, start_server

    code = tmp_path / "main.py"
    code.write_text(
        "from bapp import cloud\n\n"
        "@cloud.password_validator\n"
        "def strong(password):\n"
        "    return password != 'password' and len(password) >= 4\n")
    settings.cloud_path = str(code)
    settings.password_policy = PasswordPolicy(validation_error="Too weak.")
    server, session = await start_server(settings)
    api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        reply = await api.post("/users", {"username": "kim", "password": "password"})
        assert (reply.status, reply.body) == (400, {"code": 142, "error": "Too weak."})
        assert (await api.post("/users", {"username": "kim", "password": "good one"})).status == 201
    finally:
        await session.close()
        await server.close()


LOCKED = "Your account is locked due to multiple failed login attempts. Please try again after 2 minute(s)"
INVALID = {"code": 101, "error": "Invalid username/password."}


async def test_account_lockout(api):
    api.engine.settings.account_lockout = AccountLockout(duration=2, threshold=3)
    await api.signup("lee", "right")
    for _ in range(3):
        reply = await api.post("/login", {"username": "lee", "password": "wrong"})
        assert (reply.status, reply.body) == (404, INVALID)
    stored = await stored_user(api, "lee")
    assert stored["_failed_login_count"] == 3
    until = as_datetime(stored["_account_lockout_expires_at"])
    assert timedelta(minutes=1) < until - types.now() <= timedelta(minutes=2)
    reply = await api.post("/login", {"username": "lee", "password": "right"})
    assert (reply.status, reply.body) == (404, {"code": 101, "error": LOCKED})
    # The lock runs out.
    past = types.date_json(types.now() - timedelta(seconds=1))
    await api.engine.storage.update("_User", api.engine.schemas.fields_of("_User"), {"objectId": stored["objectId"]},
                                    {"_account_lockout_expires_at": past})
    assert (await api.post("/login", {"username": "lee", "password": "right"})).status == 200
    assert (await stored_user(api, "lee"))["_failed_login_count"] == 0


async def test_concurrent_wrong_guesses_are_all_counted(api):
    api.engine.settings.account_lockout = AccountLockout(duration=2, threshold=50)
    await api.signup("max", "right")
    await asyncio.gather(*[api.post("/login", {"username": "max", "password": "wrong"}) for _ in range(10)])
    assert (await stored_user(api, "max"))["_failed_login_count"] == 10


async def test_unknown_users_are_not_counted(api):
    api.engine.settings.account_lockout = AccountLockout(duration=2, threshold=1)
    reply = await api.post("/login", {"username": "nobody", "password": "x"})
    assert (reply.status, reply.body) == (404, INVALID)
