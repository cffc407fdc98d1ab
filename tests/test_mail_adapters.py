"""The mail adapters: SMTP with STARTTLS, implicit TLS and AUTH against a
real aiosmtpd server, and a deployment's Python mailer module."""

from __future__ import annotations

import json

import pytest

from bapp.mail import MailConfigError, Mailer, build_mail_adapter
from bapp.mail.smtp import SmtpAdapter
from tests.mail_support import SmtpServer, authenticator, self_signed_cert, server_tls_context
from tests.test_email_verification import configure_mail, open_link

MESSAGE = {"to": "someone@example.com", "subject": "Hello", "text": "Body text"}


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


async def test_starttls_and_auth(cert):
    certfile, keyfile = cert
    with SmtpServer(tls_context=server_tls_context(certfile, keyfile), require_starttls=True,
                    authenticator=authenticator("mailer", "s3cret"), auth_required=True) as server:
        adapter = SmtpAdapter({"url": f"smtp://mailer:s3cret@127.0.0.1:{server.port}", "fromAddress": "a@example.com",
                               "caFile": str(certfile), "starttls": True})
        await adapter.send_mail(MESSAGE)
        (mail,) = await server.inbox.wait_for(1)
        assert (mail["To"], mail["Subject"], mail["From"]) == ("someone@example.com", "Hello", "a@example.com")
        assert mail.get_body(("plain",)).get_content().strip() == "Body text"

        wrong = SmtpAdapter({"url": f"smtp://127.0.0.1:{server.port}", "username": "mailer", "password": "nope",
                             "fromAddress": "a@example.com", "caFile": str(certfile)})
        with pytest.raises(Exception, match="535|uthentication"):
            await wrong.send_mail(MESSAGE)
        untrusted = SmtpAdapter({"url": f"smtp://127.0.0.1:{server.port}", "fromAddress": "a@example.com"})
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED|certificate"):
            await untrusted.send_mail(MESSAGE)


async def test_implicit_tls(cert):
    certfile, keyfile = cert
    with SmtpServer(ssl_context=server_tls_context(certfile, keyfile)) as server:
        adapter = SmtpAdapter({"url": f"smtps://127.0.0.1:{server.port}", "fromAddress": "a@example.com",
                               "caFile": str(certfile)})
        await adapter.send_mail(MESSAGE)
        await server.inbox.wait_for(1)


async def test_credentials_are_never_sent_in_clear_text():
    with SmtpServer() as server:  # no STARTTLS offered
        adapter = SmtpAdapter({"url": f"smtp://user:pw@127.0.0.1:{server.port}", "fromAddress": "a@example.com"})
        with pytest.raises(Exception, match="unencrypted"):
            await adapter.send_mail(MESSAGE)
        required = SmtpAdapter({"url": f"smtp://127.0.0.1:{server.port}", "fromAddress": "a@example.com",
                                "starttls": True})
        with pytest.raises(Exception, match="STARTTLS"):
            await required.send_mail(MESSAGE)
        assert server.inbox.messages == []


@pytest.mark.parametrize(("options", "message"), [
    ({}, "needs options.url"),
    ({"url": "http://x"}, "must be smtp://"),
    ({"url": "smtp://x"}, "fromAddress"),
    ({"url": "smtp://x", "fromAddress": "a@b.c", "starttls": "yes"}, "starttls"),
])
def test_bad_smtp_options(options, message):
    with pytest.raises(MailConfigError, match=message):
        build_mail_adapter({"module": "smtp", "options": options})


def test_bad_modules(tmp_path):
    with pytest.raises(MailConfigError, match="not found"):
        build_mail_adapter({"module": str(tmp_path / "missing.py"), "options": {}})
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(MailConfigError, match="must define send_mail"):
        build_mail_adapter({"module": str(empty), "options": {}})


MAILER = '''
import json

def _write(data, kind):
    with open(data["options"]["out"], "a") as f:
        f.write(json.dumps({"kind": kind, **{k: v for k, v in data.items() if k != "options"}}) + "\\n")

async def send_verification_email(data):
    _write(data, "verify")

def send_mail(message):
    _write(message, "mail")
'''


@pytest.fixture
def mailer_module(tmp_path):
    path = tmp_path / "mailer.py"
    path.write_text(MAILER)
    return path, tmp_path / "out.jsonl"


@pytest.fixture
def settings(settings, mailer_module):
    path, out = mailer_module
    configure_mail(settings, "smtp://unused")
    settings.email.adapter = {"module": str(path), "options": {"out": str(out)}}
    return settings


async def test_python_mailer_module(api, mailer_module):
    _, out = mailer_module
    user = await api.signup("mia", "pw", email="mia@example.com", nickname="M")
    await api.post("/requestPasswordReset", {"email": "mia@example.com"})
    await api.engine.mail.drain()
    verify, reset = [json.loads(line) for line in out.read_text().splitlines()]
    # send_verification_email is async and gets the link and the user.
    assert verify["kind"] == "verify" and verify["appName"] == "My App"
    assert verify["user"]["objectId"] == user["objectId"] and verify["user"]["nickname"] == "M"
    assert not any(k.startswith("_") for k in verify["user"]) and "password" not in verify["user"]
    # No send_password_reset_email: send_mail (sync) gets Parse Server's default text.
    assert reset["kind"] == "mail" and reset["to"] == "mia@example.com"
    assert reset["subject"] == "Password Reset for My App"
    status, html, _ = await open_link(api, verify["link"])
    assert "has been verified" in html


async def test_mailer_drain_waits_for_sends():
    class Slow:
        sent: list = []

        async def send_verification_email(self, data):
            return False

        async def send_mail(self, message):
            self.sent.append(message["to"])

    mailer = Mailer(Slow(), "App")
    mailer.send_verification_email("http://x", {"email": "z@example.com"})
    await mailer.drain()
    assert Slow.sent == ["z@example.com"]
