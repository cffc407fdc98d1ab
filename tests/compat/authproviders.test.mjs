// The JS SDK's auth-provider specs (integration/test/ParseUserTest.js:
// logInWith, linkWith, _unlinkFrom, anonymous, custom, Facebook and Twitter
// providers) against bapp with the providers of parse-config.json. Each
// test uses its own provider ids, so tests need no database reset.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initParse, Parse, rejectsWith, unique } from './helpers.mjs';

initParse();

class CustomUser extends Parse.User {
  doSomething() {
    return 5;
  }
}
Parse.Object.registerSubclass('CustomUser', CustomUser);

/** The spec's anonymous provider, with an id of its own per test. */
function anonymousProvider() {
  const id = unique('anon');
  const provider = {
    authenticate: () => Promise.resolve(),
    restoreAuthentication: () => true,
    getAuthType: () => 'anonymous',
    getAuthData: () => ({ authData: { id } }),
  };
  Parse.User._registerAuthenticationProvider(provider);
  return provider;
}

const authResponse = { userID: 'test', accessToken: 'test', expiresIn: 'test' };
globalThis.FB = {
  init: () => {},
  login: (cb) => cb({ authResponse }),
  getAuthResponse: () => authResponse,
  logout: () => {}, // restoreAuthentication calls it when switching users
};

/** A Facebook user id of its own per test (the spec's is always "test"). */
function newFacebookUser() {
  authResponse.userID = unique('fb');
  Parse.FacebookUtils.init();
  return authResponse.userID;
}

function twitterAuthData() {
  return { id: unique('tw'), consumer_key: 'compat-consumer-key', auth_token: 't', auth_token_secret: 's' };
}

async function newUser(options) {
  const user = new Parse.User();
  user.setUsername(unique('user'));
  user.setPassword(unique('pw'));
  if (options) {
    await user.save(null, options);
  } else {
    await user.signUp();
  }
  return user;
}

describe('auth providers', () => {
  test('can loginWith subclass static', async () => {
    Parse.User.enableUnsafeCurrentUser();
    const provider = anonymousProvider();
    const user = await CustomUser.logInWith(provider.getAuthType(), provider.getAuthData());
    assert.equal(user._isLinked(provider), true);
    assert.ok(user instanceof CustomUser);
    assert.equal(user.doSomething(), 5);
  });

  test('can link without master key', async () => {
    Parse.User.enableUnsafeCurrentUser();
    const provider = anonymousProvider();
    const user = await newUser();
    await user.linkWith(provider.getAuthType(), provider.getAuthData());
    assert.equal(user._isLinked(provider), true);
    await user._unlinkFrom(provider);
    assert.equal(user._isLinked(provider), false);
  });

  test('can link with master key', async () => {
    Parse.User.disableUnsafeCurrentUser();
    const provider = anonymousProvider();
    const user = await newUser({ useMasterKey: true });
    await user.linkWith(provider.getAuthType(), provider.getAuthData(), { useMasterKey: true });
    assert.equal(user._isLinked(provider), true);
    await user._unlinkFrom(provider, { useMasterKey: true });
    assert.equal(user._isLinked(provider), false);
    Parse.User.enableUnsafeCurrentUser();
  });

  test('can link with session token', async () => {
    Parse.User.disableUnsafeCurrentUser();
    const provider = anonymousProvider();
    const user = await newUser();
    assert.equal(user.isCurrent(), false);
    const sessionToken = user.getSessionToken();
    await user.linkWith(provider.getAuthType(), provider.getAuthData(), { sessionToken });
    assert.equal(user._isLinked(provider), true);
    await user._unlinkFrom(provider, { sessionToken });
    assert.equal(user._isLinked(provider), false);
    Parse.User.enableUnsafeCurrentUser();
  });

  test('linked account can login with authData', async () => {
    Parse.User.disableUnsafeCurrentUser();
    const provider = anonymousProvider();
    const user = await newUser({ useMasterKey: true });
    await user.linkWith(provider.getAuthType(), provider.getAuthData(), { useMasterKey: true });
    assert.equal(user._isLinked(provider), true);
    Parse.User.enableUnsafeCurrentUser();
    const loggedIn = await Parse.User.logInWith(provider.getAuthType(), provider.getAuthData());
    assert.equal(loggedIn.id, user.id);
    assert.ok(loggedIn.authenticated());
  });

  test('can linking un-authenticated user without master key', async () => {
    const provider = anonymousProvider();
    const user = await newUser({ useMasterKey: true });
    await user.linkWith(provider.getAuthType(), provider.getAuthData());
    assert.ok(user.getSessionToken());
  });

  test('can link with custom auth', async () => {
    Parse.User.enableUnsafeCurrentUser();
    const provider = {
      authenticate: () => Promise.resolve(),
      restoreAuthentication: () => true,
      getAuthType: () => 'myAuth',
      // The SDK spec sends the number 1234; Parse Server 9 answers 162 for a
      // non-string id, so the id is a string here.
      getAuthData: () => ({ authData: { id: '1234' } }),
    };
    Parse.User._registerAuthenticationProvider(provider);
    const user = await newUser();
    await user.linkWith(provider.getAuthType(), provider.getAuthData());
    assert.equal(user._isLinked(provider), true);
    await user._unlinkFrom(provider);
    assert.equal(user._isLinked(provider), false);
  });

  test('an unconfigured provider is refused', async () => {
    const user = await newUser();
    await rejectsWith(user.linkWith('github', { authData: { id: unique('gh'), access_token: 'x' } }), 252,
      'This authentication method is unsupported.');
    await rejectsWith(Parse.User.logInWith('github', { authData: { id: unique('gh') } }), 252,
      'This authentication method is unsupported.');
  });

  test('a provider that refuses answers with its error', async () => {
    await rejectsWith(Parse.User.logInWith('twitter', { authData: { ...twitterAuthData(), consumer_key: 'x' } }),
      101, 'Twitter auth is invalid for this user.');
  });

  test('can login with facebook', async () => {
    Parse.User.enableUnsafeCurrentUser();
    newFacebookUser();
    const user = await Parse.FacebookUtils.logIn();
    assert.equal(Parse.FacebookUtils.isLinked(user), true);
  });

  test('facebook logIn does not use currentUser sessionToken', async () => {
    Parse.User.enableUnsafeCurrentUser();
    newFacebookUser();
    const user1 = await Parse.User.signUp(unique('facebook-not'), '1234');
    const user2 = await Parse.FacebookUtils.logIn();
    assert.ok(user1.getSessionToken());
    assert.ok(user2.getSessionToken());
    assert.notEqual(user1.getSessionToken(), user2.getSessionToken());
  });

  test('facebook link currentUser', async () => {
    Parse.User.enableUnsafeCurrentUser();
    newFacebookUser();
    const user1 = await Parse.User.signUp(unique('facebook-not'), '1234');
    const user2 = await Parse.FacebookUtils.link(user1);
    assert.equal(user1.getSessionToken(), user2.getSessionToken());
  });

  test('can link user with facebook', async () => {
    Parse.User.enableUnsafeCurrentUser();
    newFacebookUser();
    const user = await newUser();
    await Parse.FacebookUtils.link(user);
    assert.equal(Parse.FacebookUtils.isLinked(user), true);
    await Parse.FacebookUtils.unlink(user);
    assert.equal(Parse.FacebookUtils.isLinked(user), false);
  });

  test('can link anonymous user with facebook', async () => {
    Parse.User.enableUnsafeCurrentUser();
    newFacebookUser();
    const user = await Parse.AnonymousUtils.logIn();
    await Parse.FacebookUtils.link(user);
    assert.equal(Parse.FacebookUtils.isLinked(user), true);
    assert.equal(Parse.AnonymousUtils.isLinked(user), false);
    await Parse.FacebookUtils.unlink(user);
    assert.equal(Parse.FacebookUtils.isLinked(user), false);
    assert.equal(Parse.AnonymousUtils.isLinked(user), false);
  });

  test('facebook authData of another user is refused', async () => {
    Parse.User.enableUnsafeCurrentUser();
    newFacebookUser();
    await Parse.FacebookUtils.logIn();
    const other = await newUser();
    await rejectsWith(Parse.FacebookUtils.link(other), 208, 'this auth is already used');
  });

  test('can link with twitter', async () => {
    Parse.User.enableUnsafeCurrentUser();
    const user = await newUser();
    const authData = twitterAuthData();
    await user.linkWith('twitter', { authData });
    assert.equal(user.get('authData').twitter.id, authData.id);
    assert.equal(user._isLinked('twitter'), true);
    await user._unlinkFrom('twitter');
    assert.equal(user._isLinked('twitter'), false);
  });

  test('can link with twitter and facebook', async () => {
    Parse.User.enableUnsafeCurrentUser();
    const facebookId = newFacebookUser();
    const user = await newUser();
    const authData = twitterAuthData();
    await user.linkWith('twitter', { authData });
    await Parse.FacebookUtils.link(user);
    assert.equal(Parse.FacebookUtils.isLinked(user), true);
    assert.equal(user._isLinked('twitter'), true);
    assert.equal(user.get('authData').twitter.id, authData.id);
    assert.equal(user.get('authData').facebook.id, facebookId);
  });
});
