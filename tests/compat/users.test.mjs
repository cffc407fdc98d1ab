// Users, sessions, ACLs and roles through the real Parse JS SDK: signUp,
// logIn, become, logOut, anonymous login, Parse.ACL, Parse.Role with a
// hierarchy, and objects one user can see and another cannot.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClass, initParse, Parse, rejectsWith, unique } from './helpers.mjs';

initParse();

const TOKEN = /^r:[0-9a-f]{32}$/;

async function newUser(prefix = 'user') {
  const username = unique(prefix);
  const user = await Parse.User.signUp(username, 'pw-' + username);
  return { user, username, password: 'pw-' + username, token: user.getSessionToken() };
}

describe('sign up, log in, become, log out', () => {
  test('signUp creates the current user with a session token', async () => {
    const email = unique('mail').toLowerCase() + '@example.com';
    const username = unique('signup');
    const user = await Parse.User.signUp(username, 'secret', { email });
    assert.match(user.id, /^[A-Za-z0-9]{10}$/);
    assert.match(user.getSessionToken(), TOKEN);
    assert.equal(Parse.User.current().id, user.id);
    assert.equal(user.get('password'), undefined);
    assert.equal(user.existed(), false);
  });

  test('logIn returns the whole user and a fresh token', async () => {
    const { user, username, password, token } = await newUser('login');
    await Parse.User.logOut();
    const loggedIn = await Parse.User.logIn(username, password);
    assert.equal(loggedIn.id, user.id);
    assert.equal(loggedIn.get('username'), username);
    assert.deepEqual(loggedIn.getACL().toJSON(), { [user.id]: { read: true, write: true } });
    assert.notEqual(loggedIn.getSessionToken(), token);
    assert.equal(loggedIn.get('password'), undefined);
  });

  test('wrong password and unknown user answer alike', async () => {
    const { username } = await newUser('badpw');
    await rejectsWith(Parse.User.logIn(username, 'nope'), Parse.Error.OBJECT_NOT_FOUND, 'Invalid username/password.');
    await rejectsWith(Parse.User.logIn(unique('ghost'), 'nope'), Parse.Error.OBJECT_NOT_FOUND,
      'Invalid username/password.');
  });

  test('a taken username (any case) is refused', async () => {
    const { username } = await newUser('dup');
    await rejectsWith(Parse.User.signUp(username.toUpperCase(), 'x'), Parse.Error.USERNAME_TAKEN,
      'Account already exists for this username.');
  });

  test('become resolves a token, logOut revokes it', async () => {
    const { user, token } = await newUser('become');
    const again = await Parse.User.become(token);
    assert.equal(again.id, user.id);
    assert.equal(again.getSessionToken(), token);
    await Parse.User.logOut();
    assert.equal(Parse.User.current(), null);
    await rejectsWith(Parse.User.become(token), Parse.Error.INVALID_SESSION_TOKEN, 'Invalid session token');
  });

  test('the current session describes how it was made', async () => {
    await newUser('session');
    const session = await Parse.Session.current();
    assert.deepEqual(session.get('createdWith'), { action: 'signup', authProvider: 'password' });
    assert.match(session.getSessionToken(), TOKEN);
    assert.ok(session.get('expiresAt') instanceof Date);
  });

  test('refreshing the current user keeps its session token', async () => {
    const { user, token } = await newUser('refresh');
    const current = Parse.User.current();
    await current.fetch();
    assert.equal(current.getSessionToken(), token);
    assert.equal(Parse.User.current().getSessionToken(), token);
    const me = await Parse.User.me(token);
    assert.equal(me.id, user.id);
    assert.equal(me.getSessionToken(), token);
    const queried = await new Parse.Query(Parse.User).get(user.id);
    // A query is a find: Parse Server sends no session token in finds (only a get of
    // one's own user carries it), and in Node the queried copy shares no state with current().
    assert.equal(queried.id, user.id);
    assert.equal(queried.getSessionToken(), undefined);
    assert.equal(Parse.User.current().getSessionToken(), token);
    const found = await new Parse.Query(Parse.User).equalTo('objectId', user.id).first();
    assert.equal(found.id, user.id);
    assert.equal(Parse.User.current().getSessionToken(), token);
    // the token still works after every refresh
    assert.equal((await Parse.User.become(token)).id, user.id);
  });

  test('wrong-typed credentials match nobody', async () => {
    await rejectsWith(Parse.User.logIn('nobody-' + unique('x'), 'pw'), Parse.Error.OBJECT_NOT_FOUND,
      'Invalid username/password.');
    const anon = new Parse.User();
    await rejectsWith(anon.save({ authData: { anonymous: { id: 5 } } }), Parse.Error.INVALID_VALUE,
      "Invalid authData id for provider 'anonymous'.");
  });

  test('anonymous login creates a linked user once per id', async () => {
    const user = await Parse.AnonymousUtils.logIn();
    assert.ok(Parse.AnonymousUtils.isLinked(user));
    assert.match(user.getSessionToken(), TOKEN);
    await Parse.User.logOut();
  });
});

describe('ACLs', () => {
  const Diary = unique('CompatDiary');
  let alice;
  let bob;
  let privateId;

  before(async () => {
    await createClass(Diary, { text: 'x' });
    alice = await newUser('alice');
    const entry = new Parse.Object(Diary);
    entry.setACL(new Parse.ACL(alice.user));
    await entry.save({ text: 'only alice' }, { sessionToken: alice.token });
    privateId = entry.id;
    bob = await newUser('bob');
  });

  test('the owner sees the object', async () => {
    const got = await new Parse.Query(Diary).get(privateId, { sessionToken: alice.token });
    assert.equal(got.get('text'), 'only alice');
  });

  test('another user gets 101 from get, fetch and save, and an empty find', async () => {
    const opts = { sessionToken: bob.token };
    await rejectsWith(new Parse.Query(Diary).get(privateId, opts), Parse.Error.OBJECT_NOT_FOUND);
    const ghost = Parse.Object.extend(Diary).createWithoutData(privateId);
    await rejectsWith(ghost.fetch(opts), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
    await rejectsWith(ghost.save({ text: 'bob was here' }, opts), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
    assert.deepEqual(await new Parse.Query(Diary).find(opts), []);
    assert.equal(await new Parse.Query(Diary).count(opts), 0);
  });

  test('public read with owner write', async () => {
    const acl = new Parse.ACL(alice.user);
    acl.setPublicReadAccess(true);
    const post = new Parse.Object(Diary);
    post.setACL(acl);
    await post.save({ text: 'public' }, { sessionToken: alice.token });
    const seen = await new Parse.Query(Diary).get(post.id, { sessionToken: bob.token });
    assert.equal(seen.get('text'), 'public');
    await rejectsWith(seen.save({ text: 'edit' }, { sessionToken: bob.token }), Parse.Error.OBJECT_NOT_FOUND);
  });

  test('another user cannot change a user record', async () => {
    const target = Parse.User.createWithoutData(alice.user.id);
    target.set('username', unique('pwned'));
    await rejectsWith(target.save(null, { sessionToken: bob.token }), Parse.Error.SESSION_MISSING);
  });
});

describe('roles with a hierarchy', () => {
  const Board = unique('CompatBoard');
  const adminsName = unique('Admins');
  const modsName = unique('Mods');
  let admin;
  let mod;
  let outsider;

  before(async () => {
    await createClass(Board, { msg: 'x' });
    admin = await newUser('admin');
    mod = await newUser('mod');
    outsider = await newUser('outsider');
    const roleAcl = new Parse.ACL();
    roleAcl.setPublicReadAccess(true);
    const admins = new Parse.Role(adminsName, roleAcl);
    admins.getUsers().add(admin.user);
    await admins.save(null, { useMasterKey: true });
    const mods = new Parse.Role(modsName, roleAcl);
    mods.getUsers().add(mod.user);
    mods.getRoles().add(admins); // admins inherit what moderators may do
    await mods.save(null, { useMasterKey: true });
  });

  async function boardFor(roleName) {
    const acl = new Parse.ACL();
    acl.setRoleReadAccess(roleName, true);
    const board = new Parse.Object(Board);
    board.setACL(acl);
    await board.save({ msg: roleName }, { useMasterKey: true });
    return board.id;
  }

  test('members of a child role get the parent role rights, not the reverse', async () => {
    const modBoard = await boardFor(modsName);
    const adminBoard = await boardFor(adminsName);
    const q = () => new Parse.Query(Board);
    assert.equal((await q().get(modBoard, { sessionToken: admin.token })).get('msg'), modsName);
    assert.equal((await q().get(adminBoard, { sessionToken: admin.token })).get('msg'), adminsName);
    assert.equal((await q().get(modBoard, { sessionToken: mod.token })).get('msg'), modsName);
    await rejectsWith(q().get(adminBoard, { sessionToken: mod.token }), Parse.Error.OBJECT_NOT_FOUND);
    await rejectsWith(q().get(modBoard, { sessionToken: outsider.token }), Parse.Error.OBJECT_NOT_FOUND);
  });

  test('a role query finds the role and its members', async () => {
    const role = await new Parse.Query(Parse.Role).equalTo('name', adminsName).first({ sessionToken: outsider.token });
    assert.equal(role.getName(), adminsName);
    const members = await role.getUsers().query().find({ useMasterKey: true });
    assert.deepEqual(members.map((u) => u.id), [admin.user.id]);
  });

  test('a user cannot add itself to a role it cannot write', async () => {
    const role = await new Parse.Query(Parse.Role).equalTo('name', adminsName).first({ sessionToken: outsider.token });
    role.getUsers().add(outsider.user);
    await rejectsWith(role.save(null, { sessionToken: outsider.token }), Parse.Error.OBJECT_NOT_FOUND);
  });
});
