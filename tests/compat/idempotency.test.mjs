// The JS SDK's own idempotency spec (integration/test/IdempotencyTest.js)
// against bapp: a repeated X-Parse-Request-Id on a covered path (see
// parse-config.json) is refused with "Duplicate request" and writes nothing.

import { afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClass, initParse, Parse, rejectsWith, unique } from './helpers.mjs';

initParse();

/** Every following request carries this request id (the spec's DuplicateXHR). */
function duplicateRequests(requestId) {
  Parse.CoreManager.set('REQUEST_HEADERS', { 'X-Parse-Request-Id': requestId });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Idempotency', () => {
  before(async () => {
    await createClass('IdempotentTest', { tag: 'x', foo: 'x' });
    await createClass('IdempotencyItem', { tag: 'x' });
  });
  afterEach(() => Parse.CoreManager.set('REQUEST_HEADERS', {}));

  test('handle duplicate cloud code function request', async () => {
    const tag = unique('fn');
    duplicateRequests(unique('req'));
    await Parse.Cloud.run('CloudFunctionIdempotency', { tag });
    await rejectsWith(Parse.Cloud.run('CloudFunctionIdempotency', { tag }), 159, 'Duplicate request');
    await rejectsWith(Parse.Cloud.run('CloudFunctionIdempotency', { tag }), 159, 'Duplicate request');
    Parse.CoreManager.set('REQUEST_HEADERS', {});
    const results = await new Parse.Query('IdempotencyItem').equalTo('tag', tag).find({ useMasterKey: true });
    assert.equal(results.length, 1);
  });

  test('handle duplicate job request', async () => {
    duplicateRequests(unique('req'));
    const params = { startedBy: 'Monty Python' };
    const jobStatusId = await Parse.Cloud.startJob('CloudJob1', params);
    await rejectsWith(Parse.Cloud.startJob('CloudJob1', params), 159, 'Duplicate request');
    Parse.CoreManager.set('REQUEST_HEADERS', {});
    let status;
    for (let i = 0; i < 100; i += 1) {
      status = await Parse.Cloud.getJobStatus(jobStatusId);
      if (status && status.get('status') === 'succeeded') break;
      await sleep(100);
    }
    assert.equal(status.get('status'), 'succeeded');
    assert.equal(status.get('params').startedBy, 'Monty Python');
  });

  test('handle duplicate POST / PUT request', async () => {
    const tag = unique('obj');
    duplicateRequests(unique('req'));
    const testObject = new Parse.Object('IdempotentTest');
    testObject.set('tag', tag);
    await testObject.save();
    await rejectsWith(testObject.save({ tag }), 159, 'Duplicate request');

    duplicateRequests(unique('req'));
    testObject.set('foo', 'bar');
    await testObject.save();
    testObject.set('foo', 'baz');
    await rejectsWith(testObject.save(), 159, 'Duplicate request');

    Parse.CoreManager.set('REQUEST_HEADERS', {});
    const results = await new Parse.Query('IdempotentTest').equalTo('tag', tag).find();
    assert.equal(results.length, 1);
    assert.equal(results[0].get('foo'), 'bar');
  });

  test("the SDK's own IDEMPOTENCY setting sends a fresh id per save", async () => {
    const tag = unique('own');
    Parse.CoreManager.set('IDEMPOTENCY', true);
    try {
      for (let i = 0; i < 3; i += 1) {
        await new Parse.Object('IdempotentTest').save({ tag });
      }
    } finally {
      Parse.CoreManager.set('IDEMPOTENCY', false);
    }
    assert.equal(await new Parse.Query('IdempotentTest').equalTo('tag', tag).count(), 3);
  });
});
