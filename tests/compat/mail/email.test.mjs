// E-mail verification and password reset through the real Parse JS SDK, on
// a server started with verifyUserEmails, preventLoginWithUnverifiedEmail
// and a mailer module that writes each mail to BAPP_MAIL_OUT (see
// tests/test_compat_mail.py). The links in the mails are followed like a
// browser would: GET the page, POST its form.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { initParse, Parse, rejectsWith, unique } from '../helpers.mjs';

initParse();

async function mailTo(address, count = 1) {
  for (let i = 0; i < 250; i += 1) {
    const lines = existsSync(process.env.BAPP_MAIL_OUT)
      ? readFileSync(process.env.BAPP_MAIL_OUT, 'utf-8').split('\n').filter(Boolean).map(JSON.parse) : [];
    const mine = lines.filter(m => m.to === address);
    if (mine.length >= count) return mine[count - 1];
    await sleep(20);
  }
  throw new Error(`no mail #${count} to ${address}`);
}

const linkOf = mail => mail.text.match(/https?:\/\/\S+/)[0];

async function newUser() {
  const username = unique('mailuser');
  const email = `${username.toLowerCase()}@example.com`;
  const user = new Parse.User();
  user.set({ username, password: 'first-pw', email });
  await user.signUp();
  return { user, username, email };
}

describe('email verification', () => {
  test('an unverified user cannot log in until the link is followed', async () => {
    const { user, username, email } = await newUser();
    assert.ok(user.id);
    assert.equal(user.getSessionToken(), undefined);
    await rejectsWith(Parse.User.logIn(username, 'first-pw'), Parse.Error.EMAIL_NOT_FOUND,
      'User email is not verified.');

    const mail = await mailTo(email);
    assert.equal(mail.subject, `Please verify your e-mail for ${process.env.BAPP_APP_NAME}`);
    const page = await fetch(linkOf(mail));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /has been verified/);

    const loggedIn = await Parse.User.logIn(username, 'first-pw');
    assert.equal(loggedIn.get('emailVerified'), true);
    await Parse.User.logOut();
  });

  test('requestEmailVerification sends a new link; a verified address is refused', async () => {
    const { username, email } = await newUser();
    await mailTo(email, 1);
    await Parse.User.requestEmailVerification(email);
    const second = await mailTo(email, 2);
    assert.equal((await fetch(linkOf(second))).status, 200);
    await Parse.User.logIn(username, 'first-pw');
    await Parse.User.logOut();
    await rejectsWith(Parse.User.requestEmailVerification(email), Parse.Error.OTHER_CAUSE,
      `Email ${email} is already verified.`);
    await rejectsWith(Parse.User.requestEmailVerification('nobody@example.com'), Parse.Error.EMAIL_NOT_FOUND,
      'No user found with email nobody@example.com');
  });
});

describe('password reset', () => {
  test('requestPasswordReset, then the form in the mail sets the new password', async () => {
    const { username, email } = await newUser();
    await fetch(linkOf(await mailTo(email, 1)));  // verify first: login needs it here
    await Parse.User.requestPasswordReset(email);
    const mail = await mailTo(email, 2);
    assert.equal(mail.subject, `Password Reset for ${process.env.BAPP_APP_NAME}`);

    const form = await fetch(linkOf(mail));
    assert.equal(form.status, 200);
    const html = await form.text();
    const action = html.match(/action="([^"]+)"/)[1];
    const token = html.match(/name="token" type="hidden" value="([^"]+)"/)[1];
    const done = await fetch(action, {
      method: 'POST',
      body: new URLSearchParams({ token, new_password: 'second-pw', confirm_new_password: 'second-pw' }),
    });
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Your password has been changed/);

    await rejectsWith(Parse.User.logIn(username, 'first-pw'), Parse.Error.OBJECT_NOT_FOUND,
      'Invalid username/password.');
    const user = await Parse.User.logIn(username, 'second-pw');
    assert.equal(user.get('username'), username);
    await Parse.User.logOut();
  });

  test('an unknown address still succeeds (no account enumeration)', async () => {
    await Parse.User.requestPasswordReset('nobody@example.com');
  });
});
