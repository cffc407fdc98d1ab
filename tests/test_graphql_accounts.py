"""GraphQL's e-mail mutations on a server that sends mail: resetPassword,
confirmResetPassword and sendVerificationEmail go through the account flows."""

from __future__ import annotations

import pytest
from graphql_support import gql

from tests.mail_support import SmtpServer
from tests.test_email_verification import configure_mail, open_link


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(settings, smtp):
    configure_mail(settings, smtp.url)
    return settings


async def test_reset_and_confirm_through_graphql(api, smtp):
    await api.signup("alice", "old", email="alice@example.com")
    await smtp.inbox.wait_for(1)  # the verification mail of the sign-up
    reply = await gql(api, 'mutation { resetPassword(input: {email: "alice@example.com"}) { ok } }')
    assert reply.body == {"data": {"resetPassword": {"ok": True}}}
    await smtp.inbox.wait_for(2)
    token = smtp.inbox.link().split("token=")[1]

    bad = await gql(api, 'mutation { confirmResetPassword(input: {username: "alice", password: "new", '
                         'token: "wrong"}) { ok } }')
    assert bad.body["errors"][0]["message"] == "Failed to reset password: username / email / token is invalid"
    assert bad.body["errors"][0]["extensions"] == {"code": -1}
    reply = await gql(api, 'mutation($t: String!) { confirmResetPassword(input: {username: "alice", '
                           'password: "new", token: $t}) { ok } }', {"t": token})
    assert reply.body == {"data": {"confirmResetPassword": {"ok": True}}}
    assert (await api.post("/login", {"username": "alice", "password": "new"})).status == 200

    reply = await gql(api, 'mutation { sendVerificationEmail(input: {email: "alice@example.com"}) { ok } }')
    assert reply.body == {"data": {"sendVerificationEmail": {"ok": True}}}
    await smtp.inbox.wait_for(3)
    status, html, _ = await open_link(api, smtp.inbox.link())
    assert status == 200 and "has been verified" in html
