"""The built-in SMTP mail adapter (``"emailAdapter": {"module": "smtp", ...}``).

Options:

* ``url``: ``smtp://[user:password@]host[:port]`` (default port 587) or
  ``smtps://...`` for TLS from the first byte (default port 465).
* ``fromAddress`` (required): the sender, e.g. ``"My App <noreply@example.com>"``.
* ``username`` / ``password``: SMTP AUTH credentials (instead of, or
  overriding, the ones in the URL).
* ``starttls``: ``true`` requires STARTTLS (a server that does not offer it
  is an error), ``false`` never upgrades, ``"auto"`` (the default) upgrades
  when the server offers it. Credentials are never sent over a connection
  that is not encrypted unless ``allowPlainAuth`` is ``true``: a deliberate
  safer default.
* ``caFile``: a PEM bundle to trust instead of the system's; ``tlsInsecure``
  turns certificate checks off (only for test setups).
* ``timeout``: seconds per SMTP operation (default 10).
* ``replyTo``: an optional Reply-To address.

It uses the standard library's ``smtplib`` in a worker thread, so a slow
mail server never blocks the event loop and no extra dependency is needed."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from bapp.mail import MailConfigError


class SmtpAdapter:
    def __init__(self, options: dict) -> None:
        url = options.get("url")
        if not isinstance(url, str) or not url:
            raise MailConfigError('the smtp emailAdapter needs options.url, e.g. "smtp://mail.example.com:587"')
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailConfigError(f"emailAdapter url must be smtp://host[:port] or smtps://host[:port], not {url!r}")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = options.get("username") or (unquote(parts.username) if parts.username else None)
        self.password = options.get("password") or (unquote(parts.password) if parts.password else None)
        self.from_address = options.get("fromAddress")
        if not isinstance(self.from_address, str) or "@" not in parseaddr(self.from_address)[1]:
            raise MailConfigError("the smtp emailAdapter needs options.fromAddress (an e-mail address)")
        starttls = options.get("starttls", "auto")
        if starttls not in (True, False, "auto"):
            raise MailConfigError('emailAdapter options.starttls must be true, false or "auto"')
        self.starttls = starttls
        self.allow_plain_auth = bool(options.get("allowPlainAuth", False))
        self.timeout = float(options.get("timeout", 10))
        self.reply_to = options.get("replyTo")
        self.context = ssl.create_default_context(cafile=options.get("caFile"))
        if options.get("tlsInsecure"):
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE

    # The adapter interface: no specific templates, so the mailer falls back
    # to send_mail with Parse Server's default texts.
    async def send_verification_email(self, data: dict) -> bool:
        return False

    async def send_password_reset_email(self, data: dict) -> bool:
        return False

    async def send_mail(self, message: dict) -> None:
        email = self.build_message(message)
        await asyncio.to_thread(self._deliver, email)

    def build_message(self, message: dict) -> EmailMessage:
        to = message.get("to")
        if not isinstance(to, str) or not to:
            raise ValueError("the mail has no recipient")
        email = EmailMessage()
        email["From"] = self.from_address
        email["To"] = to
        email["Subject"] = str(message.get("subject") or "")
        email["Date"] = formatdate(localtime=False, usegmt=True)
        email["Message-ID"] = make_msgid(domain=parseaddr(self.from_address)[1].split("@")[-1])
        if self.reply_to:
            email["Reply-To"] = self.reply_to
        email.set_content(str(message.get("text") or ""))
        if message.get("html"):
            email.add_alternative(str(message["html"]), subtype="html")
        return email

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.context)
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _deliver(self, email: EmailMessage) -> None:
        with self._connect() as smtp:
            smtp.ehlo()
            encrypted = self.implicit_tls
            if not encrypted and self.starttls is not False:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self.context)
                    smtp.ehlo()
                    encrypted = True
                elif self.starttls is True:
                    raise smtplib.SMTPNotSupportedError("the mail server does not offer STARTTLS")
            if self.username:
                if not encrypted and not self.allow_plain_auth:
                    raise smtplib.SMTPNotSupportedError(
                        "refusing to send SMTP credentials over an unencrypted connection")
                smtp.login(self.username, self.password or "")
            smtp.send_message(email)
