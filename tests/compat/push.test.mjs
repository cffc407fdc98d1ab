// The JS SDK's push spec (integration/test/ParsePushTest.js) and an audience
// by channels, against bapp with the push adapter of parse-config.json.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { initParse, Parse, rejectsWith, unique } from './helpers.mjs';

initParse();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function finished(pushStatusId) {
  for (let i = 0; i < 100; i += 1) {
    const status = await Parse.Push.getPushStatus(pushStatusId, { useMasterKey: true });
    if (['succeeded', 'failed'].includes(status.get('status'))) return status;
    await sleep(50);
  }
  throw new Error(`push ${pushStatusId} did not finish`);
}

describe('Parse Push', () => {
  test('can get pushStatusId', async () => {
    const payload = {
      data: { alert: 'We return status!' },
      where: { deviceType: { $eq: 'random' } },
    };
    const pushStatusId = await Parse.Push.send(payload, { useMasterKey: true });
    assert.ok(pushStatusId);
    const pushStatus = await Parse.Push.getPushStatus(pushStatusId, { useMasterKey: true });
    assert.equal(pushStatus.id, pushStatusId);
  });

  test('a push to a channel reaches its installations', async () => {
    const channel = unique('news');
    for (const deviceType of ['ios', 'android']) {
      const installation = new Parse.Installation();
      installation.set({ deviceType, installationId: randomUUID(), deviceToken: unique('tok'), channels: [channel] });
      await installation.save(null, { useMasterKey: true });
    }
    const pushStatusId = await Parse.Push.send({ channels: [channel], data: { alert: 'hello' } },
      { useMasterKey: true });
    const status = await finished(pushStatusId);
    assert.equal(status.get('status'), 'succeeded');
    assert.equal(status.get('numSent'), 2);
    assert.deepEqual(status.get('sentPerType'), { ios: 1, android: 1 });
    assert.equal(status.get('payload'), JSON.stringify({ alert: 'hello' }));
  });

  test('a query audience goes through Parse.Query', async () => {
    const where = new Parse.Query(Parse.Installation).equalTo('deviceType', unique('none'));
    const pushStatusId = await Parse.Push.send({ where, data: { alert: 'nobody' } }, { useMasterKey: true });
    const status = await finished(pushStatusId);
    assert.equal(status.get('numSent'), 0);
  });

  test('channels and where together are refused', async () => {
    await rejectsWith(Parse.Push.send({ channels: ['a'], where: { deviceType: 'ios' }, data: {} },
      { useMasterKey: true }), 115, 'Channels and query can not be set at the same time.');
  });
});
