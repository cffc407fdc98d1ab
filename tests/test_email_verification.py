"""E-mail verification through a real SMTP server: sign-up mails, the link
pages, ``/verificationEmailRequest``, token expiry and reuse, and the
``preventLogin/SignupWithUnverifiedEmail`` options."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bapp.core.password_policy import as_datetime
from bapp.model import types
from bapp.storage.base import FindOptions
from tests.mail_support import SmtpServer, free_port

FROM = "My App <noreply@example.com>"


def configure_mail(settings, smtp_url: str) -> None:
    settings.port = free_port()
    settings.public_server_url = f"http://127.0.0.1:{settings.port}{settings.mount_path}"
    settings.app_name = "My App"
    settings.email.verify_user_emails = True
    settings.email.adapter = {"module": "smtp", "options": {"url": smtp_url, "fromAddress": FROM,
                                                            "starttls": False}}


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(settings, smtp):
    configure_mail(settings, smtp.url)
    return settings


async def stored_user(api, username: str) -> dict:
    rows = await api.engine.storage.find("_User", api.engine.schemas.fields_of("_User"), {"username": username},
                                         FindOptions(limit=1))
    assert rows, username
    return rows[0]


async def open_link(api, url: str, method: str = "GET", data: dict | None = None, headers: dict | None = None):
    async with api.session.request(method, url, data=data, headers=headers, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp.headers


async def test_signup_sends_a_verification_mail_whose_link_verifies_once(api, smtp):
    user = await api.signup("alice", "pw", email="alice@example.com")
    assert "sessionToken" in user
    stored = await stored_user(api, "alice")
    assert stored["emailVerified"] is False
    token = stored["_email_verify_token"]
    assert len(token) == 25 and token.isalnum()

    (mail,) = await smtp.inbox.wait_for(1)
    assert mail["To"] == "alice@example.com"
    assert mail["From"] == FROM
    assert mail["Subject"] == "Please verify your e-mail for My App"
    link = smtp.inbox.link()
    assert link == f"{api.engine.settings.public_server_url}/apps/{api.engine.settings.app_id}/verify_email?token={token}"
    body = mail.get_body(("plain",)).get_content()
    assert "You are being asked to confirm the e-mail address alice@example.com with My App" in body

    me = await api.get("/users/me", token=user["sessionToken"])
    assert me.body["emailVerified"] is False

    status, html, headers = await open_link(api, link)
    assert status == 200 and "Your email address has been verified." in html
    assert headers["x-parse-page-param-appname"] == "My App"
    assert headers["x-parse-page-param-appid"] == api.engine.settings.app_id
    stored = await stored_user(api, "alice")
    assert stored["emailVerified"] is True
    assert "_email_verify_token" not in stored

    # Single use: the same link now lands on the expired-link page with its resend form.
    status, html, headers = await open_link(api, link)
    assert status == 200 and "has expired or was already used" in html
    assert headers["x-parse-page-param-token"] == token
    assert f'name="token" type="hidden" value="{token}"' in html


async def test_a_link_without_token_or_with_another_app_id(api):
    base = f"{api.engine.settings.public_server_url}/apps"
    status, html, _ = await open_link(api, f"{base}/{api.engine.settings.app_id}/verify_email")
    assert status == 200 and "This verification link is invalid." in html
    status, text, _ = await open_link(api, f"{base}/other-app/verify_email?token=x")
    assert status == 403 and '"unauthorized"' in text


async def test_prevent_login_with_unverified_email(api, smtp):
    api.engine.settings.email.prevent_login_with_unverified_email = True
    reply = await api.post("/users", {"username": "bob", "password": "pw", "email": "bob@example.com"})
    assert reply.status == 201 and "sessionToken" not in reply.body
    login = await api.post("/login", {"username": "bob", "password": "pw"})
    assert (login.status, login.body) == (400, {"code": 205, "error": "User email is not verified."})
    # The master key may skip the check explicitly.
    skipped = await api.post("/login", {"username": "bob", "password": "pw", "ignoreEmailVerification": True},
                             master=True)
    assert skipped.status == 200
    await smtp.inbox.wait_for(1)
    status, _, _ = await open_link(api, smtp.inbox.link())
    assert status == 200
    login = await api.post("/login", {"username": "bob", "password": "pw"})
    assert login.status == 200 and login.body["emailVerified"] is True


async def test_prevent_signup_with_unverified_email_stores_the_user_and_mails(api, smtp):
    api.engine.settings.email.prevent_login_with_unverified_email = True
    api.engine.settings.email.prevent_signup_with_unverified_email = True
    reply = await api.post("/users", {"username": "carol", "password": "pw", "email": "carol@example.com"})
    assert (reply.status, reply.body) == (400, {"code": 205, "error": "User email is not verified."})
    assert (await stored_user(api, "carol"))["emailVerified"] is False
    await smtp.inbox.wait_for(1)
    assert smtp.inbox.messages[0]["To"] == "carol@example.com"


async def test_verification_email_request(api, smtp):
    assert (await api.post("/verificationEmailRequest", {})).body == {
        "code": 204, "error": "you must provide an email"}
    reply = await api.post("/verificationEmailRequest", {"email": 7})
    assert (reply.status, reply.body) == (400, {"code": 125, "error": "you must provide a valid email string"})
    reply = await api.post("/verificationEmailRequest", {"email": "nobody@example.com"})
    assert (reply.status, reply.body) == (400, {"code": 205, "error": "No user found with email nobody@example.com"})

    await api.signup("dave", "pw", email="dave@example.com")
    await smtp.inbox.wait_for(1)
    first_link = smtp.inbox.link()
    reply = await api.post("/verificationEmailRequest", {"email": "dave@example.com"})
    assert (reply.status, reply.body) == (200, {})
    await smtp.inbox.wait_for(2)
    second_link = smtp.inbox.link()
    assert second_link != first_link  # a fresh token; the old link is void
    status, html, _ = await open_link(api, first_link)
    assert "has expired or was already used" in html
    status, html, _ = await open_link(api, second_link)
    assert "has been verified" in html
    reply = await api.post("/verificationEmailRequest", {"email": "dave@example.com"})
    assert (reply.status, reply.body) == (400, {"code": -1, "error": "Email dave@example.com is already verified."})


async def test_success_on_invalid_email_hides_whether_the_address_exists(api):
    api.engine.settings.email.success_on_invalid_email = True
    reply = await api.post("/verificationEmailRequest", {"email": "nobody@example.com"})
    assert (reply.status, reply.body) == (200, {})


async def test_expired_token_and_the_resend_form(api, smtp):
    api.engine.settings.email.token_validity_duration = 3600
    await api.signup("erin", "pw", email="erin@example.com")
    stored = await stored_user(api, "erin")
    expires = stored["_email_verify_token_expires_at"]
    assert abs((as_datetime(expires) - types.now()) - timedelta(hours=1)) < timedelta(minutes=1)
    await smtp.inbox.wait_for(1)
    past = types.date_json(types.now() - timedelta(seconds=5))
    await api.engine.storage.update("_User", api.engine.schemas.fields_of("_User"), {"objectId": stored["objectId"]},
                                    {"_email_verify_token_expires_at": past})
    status, html, headers = await open_link(api, smtp.inbox.link())
    assert status == 200 and "has expired" in html
    assert (await stored_user(api, "erin"))["emailVerified"] is False

    action = f"{api.engine.settings.public_server_url}/apps/{api.engine.settings.app_id}/resend_verification_email"
    status, _, headers = await open_link(api, action, "POST", {"token": headers["x-parse-page-param-token"]})
    assert status == 303
    assert headers["Location"].startswith(f"{api.engine.settings.public_server_url}/apps/"
                                          "email_verification_send_success.html?")
    await smtp.inbox.wait_for(2)
    status, html, _ = await open_link(api, smtp.inbox.link())
    assert "has been verified" in html
    # Following the redirect shows the page itself.
    status, html, _ = await open_link(api, headers["Location"])
    assert status == 200 and "A new verification email has been sent." in html
    status, _, headers = await open_link(api, action, "POST", {"token": "not-a-token"})
    assert status == 303 and "email_verification_send_fail.html" in headers["Location"]


async def test_token_reused_while_valid(api, smtp):
    api.engine.settings.email.token_validity_duration = 3600
    api.engine.settings.email.token_reuse_if_valid = True
    await api.signup("frank", "pw", email="frank@example.com")
    await smtp.inbox.wait_for(1)
    assert (await api.post("/verificationEmailRequest", {"email": "frank@example.com"})).status == 200
    await smtp.inbox.wait_for(2)
    assert smtp.inbox.link(0) == smtp.inbox.link(1)


async def test_changing_the_email_asks_for_verification_again(api, smtp):
    user = await api.signup("gina", "pw", email="gina@example.com")
    await smtp.inbox.wait_for(1)
    await open_link(api, smtp.inbox.link())
    assert (await stored_user(api, "gina"))["emailVerified"] is True
    reply = await api.put(f"/users/{user['objectId']}", {"email": "gina2@example.com"}, token=user["sessionToken"])
    assert reply.status == 200
    assert (await stored_user(api, "gina"))["emailVerified"] is False
    await smtp.inbox.wait_for(2)
    assert smtp.inbox.messages[1]["To"] == "gina2@example.com"
    # Saving the same address again sends nothing new.
    await api.put(f"/users/{user['objectId']}", {"email": "gina2@example.com"}, token=user["sessionToken"])
    await asyncio.sleep(0.2)
    assert len(smtp.inbox.messages) == 2


async def test_users_without_email_or_with_other_providers_get_no_mail(api, smtp):
    await api.signup("harry", "pw")
    assert "emailVerified" not in await stored_user(api, "harry")
    await asyncio.sleep(0.2)
    assert smtp.inbox.messages == []


async def test_clients_cannot_set_email_verified(api):
    reply = await api.post("/users", {"username": "ivy", "password": "pw", "email": "i@example.com",
                                      "emailVerified": True})
    assert (reply.status, reply.body) == (
        400, {"code": 119, "error": "Permission denied"})  # sanitized, as Parse Server 9


async def test_a_failing_mail_server_keeps_the_signup_and_logs(settings, caplog):
    from tests.conftest import Client, start_server

    configure_mail(settings, f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    server, session = await start_server(settings)
    api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        with caplog.at_level(logging.ERROR, logger="bapp.mail"):
            user = await api.signup("jack", "pw", email="jack@example.com")
            assert user["sessionToken"]
            await api.engine.mail.drain()
        assert (await stored_user(api, "jack"))["emailVerified"] is False
        assert any("verification e-mail" in r.getMessage() and "jack@example.com" in r.getMessage()
                   for r in caplog.records)
        reply = await api.post("/verificationEmailRequest", {"email": "jack@example.com"})
        assert (reply.status, reply.body) == (200, {})
    finally:
        await session.close()
        await server.close()


async def test_custom_urls_redirect_with_the_page_params(api, smtp):
    api.engine.settings.pages.custom_urls["emailVerificationSuccess"] = "https://example.com/verified?x=1"
    await api.signup("kate", "pw", email="kate@example.com")
    await smtp.inbox.wait_for(1)
    status, _, headers = await open_link(api, smtp.inbox.link())
    assert status == 303
    assert headers["Location"].startswith("https://example.com/verified?x=1&")
    assert "appName=My+App" in headers["Location"]
    assert f"appId={api.engine.settings.app_id}" in headers["Location"]


async def test_force_redirect_and_static_pages(api, smtp):
    api.engine.settings.pages.force_redirect = True
    await api.signup("liam", "pw", email="liam@example.com")
    await smtp.inbox.wait_for(1)
    status, _, headers = await open_link(api, smtp.inbox.link())
    assert status == 303
    location = headers["Location"]
    assert location.startswith(f"{api.engine.settings.public_server_url}/apps/email_verification_success.html?")
    status, html, _ = await open_link(api, location)
    assert status == 200 and "has been verified" in html
    status, _, _ = await open_link(api, f"{api.engine.settings.public_server_url}/apps/nothing.html")
    assert status == 404


async def test_a_user_the_master_key_creates_verified_can_sign_up_and_log_in(api):
    api.engine.settings.email.prevent_login_with_unverified_email = True
    api.engine.settings.email.prevent_signup_with_unverified_email = True
    reply = await api.post("/users", {"username": "ops", "password": "pw", "emailVerified": True}, master=True)
    assert reply.status == 201 and reply.body["sessionToken"]
    assert (await api.post("/login", {"username": "ops", "password": "pw"})).status == 200
    # Without an address and unverified, Parse Server's rule stands: no login.
    await api.post("/users", {"username": "plain", "password": "pw"}, master=True)
    login = await api.post("/login", {"username": "plain", "password": "pw"})
    assert (login.status, login.body["code"]) == (400, 205)


async def test_page_parameters_are_escaped(api):
    evil = '"><script>alert(1)</script>'
    async with api.session.get(f"{api.engine.settings.public_server_url}/apps/choose_password",
                               params={"token": evil, "error": "<b>x</b>"}) as resp:
        html = await resp.text()
    assert resp.status == 200
    assert "<script>alert(1)</script>" not in html and "<b>x</b>" not in html
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


async def test_custom_pages_directory(api, tmp_path):
    (tmp_path / "email_verification_link_invalid.html").write_text("<p>Custom {{appName}} {{{appId}}}</p>")
    api.engine.settings.pages.pages_path = str(tmp_path)
    base = f"{api.engine.settings.public_server_url}/apps"
    status, html, _ = await open_link(api, f"{base}/{api.engine.settings.app_id}/verify_email")
    assert (status, html) == (200, f"<p>Custom My App {api.engine.settings.app_id}</p>")
    status, html, _ = await open_link(api, f"{base}/password_reset_success.html")
    assert status == 200 and "Your password has been changed." in html  # the built-in one
