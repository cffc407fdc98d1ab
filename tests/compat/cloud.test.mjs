// Cloud code through the real Parse JS SDK: Parse.Cloud.run (results,
// errors, users, context, validators), a beforeSave that rewrites and one
// that rejects object.save(), an afterSave that finishes before the save
// answers, and a job started with Parse.Cloud.startJob.
//
// The Python cloud code is tests/compat/cloud/main.py.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClass, initParse, Parse, rejectsWith, unique } from './helpers.mjs';

initParse();

const Item = 'CompatCloudItem';

before(async () => {
  await createClass(Item, { name: 'seed', quantity: 1, slug: 'seed' });
});

describe('Parse.Cloud.run', () => {
  test('returns the function result', async () => {
    assert.equal(await Parse.Cloud.run('hello', { name: 'SDK' }), 'Hello SDK!');
    assert.equal(await Parse.Cloud.run('hello'), 'Hello world!');
  });

  test('a function returning cloud.UNDEFINED resolves to undefined', async () => {
    assert.equal(await Parse.Cloud.run('nothing'), undefined);
  });

  test('a function returning None resolves to null', async () => {
    assert.equal(await Parse.Cloud.run('nullResult'), null);
  });

  test('a function name with a path is an unknown function', async () => {
    await rejectsWith(Parse.Cloud.run('a/b'), Parse.Error.SCRIPT_FAILED, 'Invalid function: "a/b"');
  });

  test('an unknown function is 141', async () => {
    await rejectsWith(Parse.Cloud.run('noSuchFunction'), Parse.Error.SCRIPT_FAILED,
      'Invalid function: "noSuchFunction"');
  });

  test('cloud.Error keeps its code and message', async () => {
    await rejectsWith(Parse.Cloud.run('failWith', { code: 137, message: 'taken' }), 137, 'taken');
    await rejectsWith(Parse.Cloud.run('failWith', { code: 101, message: 'gone' }),
      Parse.Error.OBJECT_NOT_FOUND, 'gone');
  });

  test('any other exception is 141 with its message', async () => {
    await rejectsWith(Parse.Cloud.run('crash'), Parse.Error.SCRIPT_FAILED, 'it crashed');
  });

  test('sees the current user, the master key and the context', async () => {
    const username = unique('cloudUser');
    await Parse.User.signUp(username, 'secret-pw');
    try {
      const asUser = await Parse.Cloud.run('whoami', { a: 1 }, { context: { from: 'sdk' } });
      assert.deepEqual(asUser, { user: username, master: false, context: { from: 'sdk' }, params: { a: 1 } });
      const asMaster = await Parse.Cloud.run('whoami', {}, { useMasterKey: true });
      assert.equal(asMaster.user, null);
      assert.equal(asMaster.master, true);
    } finally {
      await Parse.User.logOut();
    }
  });

  test('validators answer 142', async () => {
    await rejectsWith(Parse.Cloud.run('needsUser'), Parse.Error.VALIDATION_ERROR,
      'Validation failed. Please login to continue.');
  });

  test('a returned object arrives as a Parse.Object', async () => {
    const name = unique('made');
    const made = await Parse.Cloud.run('makeItem', { name: `  ${name}  ` });
    assert.ok(made instanceof Parse.Object);
    assert.equal(made.className, Item);
    assert.match(made.id, /^[A-Za-z0-9]{10}$/);
    assert.equal(made.get('name'), name);
    assert.equal(made.get('slug'), name.toLowerCase());
    assert.ok(made.createdAt instanceof Date);
  });
});

describe('triggers through object.save()', () => {
  test('beforeSave changes come back in the saved object', async () => {
    const name = unique('Big Box');
    const item = new Parse.Object(Item);
    await item.save({ name: `  ${name} `, quantity: 2 });
    assert.equal(item.get('name'), name);
    assert.equal(item.get('slug'), name.toLowerCase().replace(/ /g, '-'));
    assert.equal(item.dirty(), false);
    const fetched = await new Parse.Query(Item).get(item.id);
    assert.equal(fetched.get('name'), name);
    assert.equal(fetched.get('slug'), item.get('slug'));
  });

  test('beforeSave can reject a save', async () => {
    const name = unique('negative');
    const item = new Parse.Object(Item);
    await rejectsWith(item.save({ name, quantity: -1 }), Parse.Error.VALIDATION_ERROR,
      'quantity must not be negative');
    assert.equal(item.id, undefined);
    const found = await new Parse.Query(Item).equalTo('name', name).find();
    assert.equal(found.length, 0);
  });

  test('beforeSave rejects an update and the stored object stays', async () => {
    const name = unique('stays');
    const item = await new Parse.Object(Item).save({ name, quantity: 3 });
    item.set('quantity', -5);
    await rejectsWith(item.save(), Parse.Error.VALIDATION_ERROR, 'quantity must not be negative');
    const fetched = await new Parse.Query(Item).get(item.id);
    assert.equal(fetched.get('quantity'), 3);
  });

  test('afterSave has finished when the save answers', async () => {
    const name = unique('audited');
    const item = await new Parse.Object(Item).save({ name, quantity: 1 });
    const audits = await new Parse.Query('CompatCloudAudit').equalTo('item', item).find({ useMasterKey: true });
    assert.equal(audits.length, 1);
    assert.equal(audits[0].get('name'), name);
  });
});

describe('jobs', () => {
  test('getJobsData lists the defined jobs', async () => {
    const data = await Parse.Cloud.getJobsData();
    assert.ok(data.jobs.includes('compatJob'), JSON.stringify(data));
    assert.ok(Array.isArray(data.in_use));
  });

  test('startJob returns a status id and the job succeeds', async () => {
    const jobId = await Parse.Cloud.startJob('compatJob', { n: 7 });
    assert.match(jobId, /^[A-Za-z0-9]{10}$/);
    let status;
    for (let i = 0; i < 100; i += 1) {
      status = await Parse.Cloud.getJobStatus(jobId);
      if (status.get('status') !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status.get('status'), 'succeeded');
    assert.equal(status.get('message'), 'done 7');
    assert.equal(status.get('jobName'), 'compatJob');
    assert.ok(status.get('finishedAt') instanceof Date);
  });
});
