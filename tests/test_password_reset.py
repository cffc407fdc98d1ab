"""Password reset through a real SMTP server: ``/requestPasswordReset``, the
link, the choose-a-password form (HTML and XHR), expiry, reuse, single use
and session revocation."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from bapp.config_accounts import PasswordPolicy
from bapp.core.password_policy import as_datetime
from bapp.errors import ParseError
from bapp.model import types
from tests.mail_support import SmtpServer
from tests.test_email_verification import configure_mail, open_link, stored_user

XHR = {"X-Requested-With": "XMLHttpRequest"}


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(settings, smtp):
    configure_mail(settings, smtp.url)
    settings.email.verify_user_emails = False  # resets need no verification
    return settings


def form_action(html: str) -> tuple[str, str]:
    action = re.search(r'action="([^"]+)"', html).group(1)
    token = re.search(r'name="token" type="hidden" value="([^"]*)"', html).group(1)
    return action, token


async def request_reset(api, smtp, email: str, count: int = 1) -> str:
    reply = await api.post("/requestPasswordReset", {"email": email})
    assert (reply.status, reply.body) == (200, {})
    await smtp.inbox.wait_for(count)
    return smtp.inbox.link()


async def test_reset_through_the_mail_and_the_form(api, smtp):
    user = await api.signup("alice", "old-password", email="alice@example.com")
    link = await request_reset(api, smtp, "alice@example.com")
    mail = smtp.inbox.messages[0]
    assert mail["Subject"] == "Password Reset for My App"
    assert mail["To"] == "alice@example.com"
    assert "You requested to reset your password for My App (your username is 'alice')." in \
        mail.get_body(("plain",)).get_content()
    stored = await stored_user(api, "alice")
    assert link == (f"{api.engine.settings.public_server_url}/apps/{api.engine.settings.app_id}"
                    f"/request_password_reset?token={stored['_perishable_token']}")

    status, html, headers = await open_link(api, link)
    assert status == 200 and "Choose a new password" in html
    action, token = form_action(html)
    assert token == stored["_perishable_token"] == headers["x-parse-page-param-token"]
    assert action == link.split("?")[0]

    status, html, _ = await open_link(api, action, "POST", {"token": token, "new_password": "new-password"})
    assert status == 200 and "Your password has been changed." in html
    assert "_perishable_token" not in await stored_user(api, "alice")
    old = await api.post("/login", {"username": "alice", "password": "old-password"})
    assert (old.status, old.body) == (404, {"code": 101, "error": "Invalid username/password."})
    assert (await api.post("/login", {"username": "alice", "password": "new-password"})).status == 200
    # revokeSessionOnPasswordReset (default true): the old session is gone.
    me = await api.get("/users/me", token=user["sessionToken"])
    assert (me.status, me.body["code"]) == (400, 209)

    # The link is single-use.
    status, html, _ = await open_link(api, link)
    assert "This password reset link is invalid or has expired." in html
    status, html, _ = await open_link(api, action, "POST", {"token": token, "new_password": "third"})
    assert status == 200
    assert "Failed to reset password: username / email / token is invalid" in html


async def test_sessions_survive_when_revocation_is_off(api, smtp):
    api.engine.settings.revoke_session_on_password_reset = False
    user = await api.signup("bob", "pw", email="bob@example.com")
    link = await request_reset(api, smtp, "bob@example.com")
    _, html, _ = await open_link(api, link)
    action, token = form_action(html)
    await open_link(api, action, "POST", {"token": token, "new_password": "new"})
    assert (await api.get("/users/me", token=user["sessionToken"])).status == 200


async def test_xhr_answers(api, smtp):
    await api.signup("carol", "pw", email="carol@example.com")
    link = await request_reset(api, smtp, "carol@example.com")
    action, token = link.split("?")[0], link.split("token=")[1]
    status, text, _ = await open_link(api, action, "POST", {"new_password": "x"}, XHR)
    assert (status, text) == (400, '{"code":-1,"error":"Missing token"}')
    status, text, _ = await open_link(api, action, "POST", {"token": token}, XHR)
    assert (status, text) == (400, '{"code":201,"error":"Missing password"}')
    status, text, _ = await open_link(api, action, "POST", {"token": "wrong", "new_password": "x"}, XHR)
    assert (status, text) == (400, '{"code":-1,"error":"Failed to reset password: username / email / token is invalid"}')
    status, text, _ = await open_link(api, action, "POST", {"token": token, "new_password": "x"}, XHR)
    assert (status, text) == (200, '"Password successfully reset"')


async def test_missing_fields_without_xhr_show_the_invalid_link_page(api, smtp):
    action = f"{api.engine.settings.public_server_url}/apps/{api.engine.settings.app_id}/request_password_reset"
    status, _, headers = await open_link(api, action, "POST", {"new_password": "x"})
    assert status == 303 and "password_reset_link_invalid.html" in headers["Location"]
    status, html, _ = await open_link(api, action)
    assert status == 200 and "invalid or has expired" in html


async def test_concurrent_uses_of_one_token_succeed_once(api, smtp):
    await api.signup("dave", "pw", email="dave@example.com")
    link = await request_reset(api, smtp, "dave@example.com")
    action, token = link.split("?")[0], link.split("token=")[1]
    results = await asyncio.gather(*[
        open_link(api, action, "POST", {"token": token, "new_password": f"pw-{i}"}, XHR) for i in range(8)])
    assert sorted(status for status, _, _ in results) == [200] + [400] * 7
    winner = next(i for i, (status, _, _) in enumerate(results) if status == 200)
    assert (await api.post("/login", {"username": "dave", "password": f"pw-{winner}"})).status == 200


async def test_unknown_addresses(api, smtp):
    assert (await api.post("/requestPasswordReset", {"email": "nobody@example.com"})).body == {}
    assert (await api.post("/requestPasswordReset", {})).body == {"code": 204, "error": "you must provide an email"}
    reply = await api.post("/requestPasswordReset", {"email": ["x"]})
    assert (reply.status, reply.body) == (400, {"code": 125, "error": "you must provide a valid email string"})
    api.engine.settings.password_policy = PasswordPolicy(reset_password_success_on_invalid_email=False)
    reply = await api.post("/requestPasswordReset", {"email": "nobody@example.com"})
    assert (reply.status, reply.body) == (404, {"code": 101, "error": "A user with that email does not exist."})
    await asyncio.sleep(0.1)
    assert smtp.inbox.messages == []


async def test_a_user_without_email_resets_by_username(api, smtp):
    await api.signup("erin@example.com", "pw")
    await request_reset(api, smtp, "erin@example.com")
    assert smtp.inbox.messages[0]["To"] == "erin@example.com"


async def test_reset_token_expiry_and_reuse(api, smtp):
    api.engine.settings.password_policy = PasswordPolicy(reset_token_validity_duration=600,
                                                         reset_token_reuse_if_valid=True)
    await api.signup("frank", "pw", email="frank@example.com")
    first = await request_reset(api, smtp, "frank@example.com")
    second = await request_reset(api, smtp, "frank@example.com", 2)
    assert first == second  # reused while valid
    stored = await stored_user(api, "frank")
    left = as_datetime(stored["_perishable_token_expires_at"]) - types.now()
    assert timedelta(minutes=9) < left <= timedelta(minutes=10)

    past = types.date_json(types.now() - timedelta(seconds=1))
    await api.engine.storage.update("_User", api.engine.schemas.fields_of("_User"), {"objectId": stored["objectId"]},
                                    {"_perishable_token_expires_at": past})
    status, html, _ = await open_link(api, first)
    assert "This password reset link is invalid or has expired." in html
    action, token = first.split("?")[0], first.split("token=")[1]
    status, text, _ = await open_link(api, action, "POST", {"token": token, "new_password": "x"}, XHR)
    assert (status, text) == (400, '{"code":-1,"error":"The password reset link has expired"}')
    third = await request_reset(api, smtp, "frank@example.com", 3)
    assert third != first  # an expired token is never reused


async def test_requests_need_an_email_configuration(api):
    api.engine.settings.app_name = None
    reply = await api.post("/requestPasswordReset", {"email": "a@example.com"})
    assert (reply.status, reply.body["code"]) == (500, 1)


async def test_engine_functions_for_other_front_ends(api, smtp):
    from bapp.core import accounts

    user = await api.signup("gina", "pw", email="gina@example.com")
    await accounts.send_password_reset_for_user(api.engine, user["objectId"])
    await smtp.inbox.wait_for(1)
    assert "request_password_reset?token=" in smtp.inbox.link()
    token = (await stored_user(api, "gina"))["_perishable_token"]
    with pytest.raises(ParseError) as refused:
        await accounts.confirm_reset_password(api.engine, "gina", "x", "wrong-token")
    assert (refused.value.code, refused.value.message) == (-1, accounts.RESET_TOKEN_INVALID)
    with pytest.raises(ParseError) as refused:
        await accounts.confirm_reset_password(api.engine, "gina", "", token)
    assert (refused.value.code, refused.value.message) == (201, "you must provide a password")
    await accounts.confirm_reset_password(api.engine, "gina", "from-graphql", token)
    assert (await api.post("/login", {"username": "gina", "password": "from-graphql"})).status == 200
    await accounts.set_password(api.engine, user["objectId"], "set-by-admin")
    assert (await api.post("/login", {"username": "gina", "password": "set-by-admin"})).status == 200
    assert (await api.get("/users/me", token=user["sessionToken"])).status == 400


async def test_the_form_shows_policy_errors_and_reset_unlocks(api, smtp):
    from bapp.config_accounts import AccountLockout

    api.engine.settings.password_policy = PasswordPolicy(validator_pattern="[0-9]", validation_error="Add a digit.")
    api.engine.settings.account_lockout = AccountLockout(duration=5, threshold=1, unlock_on_password_reset=True)
    await api.signup("hank", "pw1", email="hank@example.com")
    assert (await api.post("/login", {"username": "hank", "password": "wrong"})).status == 404
    locked = await api.post("/login", {"username": "hank", "password": "pw1"})
    assert locked.body["error"].startswith("Your account is locked")
    link = await request_reset(api, smtp, "hank@example.com")
    _, html, _ = await open_link(api, link)
    action, token = form_action(html)
    status, html, headers = await open_link(api, action, "POST", {"token": token, "new_password": "nodigit"})
    assert status == 200 and "Add a digit." in html and headers["x-parse-page-param-error"] == "Add a digit."
    assert form_action(html)[1] == token  # the form again, still usable
    status, html, _ = await open_link(api, action, "POST", {"token": token, "new_password": "digit9"})
    assert "Your password has been changed." in html
    stored = await stored_user(api, "hank")
    assert "_failed_login_count" not in stored and "_account_lockout_expires_at" not in stored
    assert (await api.post("/login", {"username": "hank", "password": "digit9"})).status == 200
