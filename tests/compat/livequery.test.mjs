// LiveQuery through the real Parse JS SDK: `query.subscribe()` on the URL the
// SDK derives from `Parse.serverURL` (no `liveQueryServerURL` set) receives
// create, update, leave, enter and delete events for objects saved by
// another client (another user's session token).
//
// The subscriber connects WITHOUT the master key: the SDK sends
// `Parse.masterKey` in its `connect` message when one is configured, so the
// key is only set while classes are created in `before()`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { config, createClass, initParse, Parse, unique } from './helpers.mjs';

initParse();

const EVENTS = ['create', 'update', 'enter', 'leave', 'delete'];
const WAIT_MS = 5000;

/** Records a subscription's events in arrival order; `next()` awaits one. */
function recorder(subscription) {
  const queued = [];
  const waiting = [];
  for (const name of EVENTS) {
    subscription.on(name, (object, second) => {
      const event = { name, object, original: ['update', 'enter', 'leave'].includes(name) ? second : undefined };
      const waiter = waiting.shift();
      if (waiter) waiter(event);
      else queued.push(event);
    });
  }
  return {
    next() {
      if (queued.length) return Promise.resolve(queued.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no LiveQuery event within ${WAIT_MS} ms`)), WAIT_MS);
        waiting.push((event) => { clearTimeout(timer); resolve(event); });
      });
    },
  };
}

let className;
let writerToken;

before(async () => {
  className = await createClass(unique('Live'), { status: 'x', tag: 'x', n: 0, secret: 'x' });
  Parse.masterKey = undefined; // the LiveQuery client is created on first subscribe
  const writer = await Parse.User.signUp(unique('writer'), 'pw');
  writerToken = writer.getSessionToken();
  await Parse.User.signUp(unique('reader'), 'pw'); // the subscriber is the current user
});

after(async () => {
  await Parse.LiveQuery.close();
});

function save(object, attrs) {
  return object.save(attrs, { sessionToken: writerToken });
}

describe('query.subscribe()', () => {
  test('receives create, update, leave, enter and delete from another client', async () => {
    const tag = unique('tag');
    const query = new Parse.Query(className).equalTo('status', 'open').equalTo('tag', tag);
    assert.equal(Parse.liveQueryServerURL, null); // nothing configured: the SDK derives it
    const subscription = await query.subscribe();
    assert.equal(Parse.liveQueryServerURL, config.serverURL.replace(/^http/, 'ws'));
    const events = recorder(subscription);

    const item = new Parse.Object(className);
    await save(item, { status: 'open', tag, n: 1 });
    let event = await events.next();
    assert.equal(event.name, 'create');
    assert.equal(event.object.id, item.id);
    assert.equal(event.object.className, className);
    assert.equal(event.object.get('n'), 1);
    assert.ok(event.object.createdAt instanceof Date);

    await save(item, { n: 2 });
    event = await events.next();
    assert.equal(event.name, 'update');
    assert.equal(event.object.get('n'), 2);
    assert.equal(event.original.get('n'), 1);

    await save(item, { status: 'closed' });
    event = await events.next();
    assert.equal(event.name, 'leave');
    assert.equal(event.object.get('status'), 'closed');
    assert.equal(event.original.get('status'), 'open');

    await save(item, { status: 'open' });
    event = await events.next();
    assert.equal(event.name, 'enter');
    assert.equal(event.object.get('status'), 'open');
    assert.equal(event.original.get('status'), 'closed');

    await item.destroy({ sessionToken: writerToken });
    event = await events.next();
    assert.equal(event.name, 'delete');
    assert.equal(event.object.id, item.id);

    await subscription.unsubscribe();
  });

  test('objects the subscriber cannot read are not delivered', async () => {
    const tag = unique('acl');
    const subscription = await new Parse.Query(className).equalTo('tag', tag).subscribe();
    const events = recorder(subscription);
    const hidden = new Parse.Object(className);
    hidden.setACL(new Parse.ACL()); // nobody but the master key
    await save(hidden, { tag, n: 1 });
    const visible = new Parse.Object(className);
    await save(visible, { tag, n: 2 });
    const event = await events.next(); // events arrive in write order
    assert.equal(event.name, 'create');
    assert.equal(event.object.id, visible.id);
    await subscription.unsubscribe();
  });

  test('select() limits the fields of events', async () => {
    const tag = unique('keys');
    const subscription = await new Parse.Query(className).equalTo('tag', tag).select('n').subscribe();
    const events = recorder(subscription);
    const item = new Parse.Object(className);
    await save(item, { tag, n: 7, status: 'open' });
    const event = await events.next();
    assert.equal(event.object.get('n'), 7);
    assert.equal(event.object.get('status'), undefined);
    assert.equal(event.object.get('tag'), undefined);
    await subscription.unsubscribe();
  });

  test('two subscriptions on one connection each get the event', async () => {
    const tag = unique('two');
    const first = recorder(await new Parse.Query(className).equalTo('tag', tag).subscribe());
    const second = recorder(await new Parse.Query(className).equalTo('tag', tag).greaterThan('n', 0).subscribe());
    const item = new Parse.Object(className);
    await save(item, { tag, n: 1 });
    assert.equal((await first.next()).object.id, item.id);
    assert.equal((await second.next()).object.id, item.id);
  });
});

describe('resubscribe (the SDK spec "Parse LiveQuery can resubscribe")', () => {
  function liveClient() {
    const url = new URL(config.serverURL);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return new Parse.LiveQueryClient({
      applicationId: config.appId,
      serverURL: url.toString(),
      javascriptKey: config.javascriptKey,
      masterKey: null,
      sessionToken: null,
    });
  }

  async function until(check, what) {
    for (let i = 0; i < 100; i += 1) {
      if (check()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  test('an unknown query property answers "Additional properties not allowed" and the client resubscribes', async () => {
    const client = liveClient();
    client.open();
    let resubscribed = 0;
    const original = client.resubscribe.bind(client);
    client.resubscribe = () => { resubscribed += 1; return original(); };
    const errors = [];
    client.on('error', (error) => errors.push(error));
    await client.connectPromise;
    const tag = unique('resub');
    const events = recorder(client.subscribe(new Parse.Query(className).equalTo('tag', tag)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The SDK opens a new socket for the reconnect and leaves this one open.
    const firstSocket = client.socket;
    client.socket.send(JSON.stringify({
      op: 'subscribe',
      requestId: 99,
      query: { className, where: { objectId: 'HEXkuHFm0D' }, keys: ['foo', 'objectId'],
        unknownField: 'throws Additional properties not allowed error' },
    }));
    await until(() => resubscribed > 0, 'resubscribe');
    assert.deepEqual(errors, ['Additional properties not allowed']);
    assert.equal(client.additionalProperties, false); // the SDK's next connect omits installationId
    await until(() => client.state === 'connected', 'the new connection');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // the subscription made before the reconnect still delivers events
    const item = new Parse.Object(className);
    await save(item, { tag, n: 1 });
    assert.equal((await events.next()).object.id, item.id);
    await client.close();
    firstSocket.close();
  });

  test('after the socket drops the client reconnects and its subscriptions keep working', async () => {
    const client = liveClient();
    client.open();
    await client.connectPromise;
    const tag = unique('drop');
    const subscription = client.subscribe(new Parse.Query(className).equalTo('tag', tag));
    await subscription.subscribePromise;
    const events = recorder(subscription);
    let resubscribed = 0;
    const original = client.resubscribe.bind(client);
    client.resubscribe = () => { resubscribed += 1; return original(); };
    client.socket.close();
    await until(() => resubscribed > 0 && client.state === 'connected', 'resubscribe after the drop');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const item = new Parse.Object(className);
    await save(item, { tag, n: 2 });
    assert.equal((await events.next()).object.id, item.id);
    await client.close();
  });
});
