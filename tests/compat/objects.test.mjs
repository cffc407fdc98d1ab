// Core objects through the real Parse JS SDK: create/fetch of every type,
// save with operations, queries, includes, batch saveAll/destroyAll,
// relations and the error codes the SDK surfaces.
//
// Classes are created once per run with the master key (createClass); every
// other call is an ordinary client call with the JavaScript key only.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClass, ids, initParse, Parse, rejectsWith, unique } from './helpers.mjs';

initParse();

const OBJECT_ID = /^[A-Za-z0-9]{10}$/;

/** The `n` values of query results, in result order. */
const ns = (objects) => objects.map((o) => o.get('n'));

// ------------------------------------------------------------------ create and fetch

describe('create and fetch', () => {
  const Thing = unique('CompatThing');
  const Target = unique('CompatTarget');
  let target;

  before(async () => {
    await createClass(Thing);
    await createClass(Target);
    target = await new Parse.Object(Target).save({ name: 'the target' });
  });

  test('an object with every type round-trips', async () => {
    const due = new Date('2026-01-02T03:04:05.678Z');
    const values = {
      str: 'hello wire',
      num: 41.5,
      int: 7,
      yes: true,
      no: false,
      due,
      arr: [1, 'two', { three: 3 }, [4, 5], null],
      obj: { color: 'red', size: { w: 2, h: 3 }, list: [1, 2], deep: { a: { b: { c: 'deep' } } } },
      geo: new Parse.GeoPoint(52.52, 13.405),
      area: new Parse.Polygon([[0, 0], [0, 1], [1, 1], [1, 0]]),
      ptr: target,
      bytes: { __type: 'Bytes', base64: 'aGVsbG8gYnl0ZXM=' },
      nothing: null,
      empty: '',
      zero: 0,
      emptyArr: [],
      emptyObj: {},
      unicode: 'héllo wörld 🌍 日本',
      big: Number.MAX_SAFE_INTEGER,
      negative: -0.25,
      past: new Date('1969-07-20T20:17:40.000Z'),
      nested: { when: due, list: [due, target], ref: target, geo: new Parse.GeoPoint(1, 2) },
    };
    const saved = await new Parse.Object(Thing).save(values);
    assert.match(saved.id, OBJECT_ID);
    assert.ok(saved.createdAt instanceof Date);
    assert.ok(saved.updatedAt instanceof Date);
    assert.equal(saved.updatedAt.getTime(), saved.createdAt.getTime());
    assert.ok(Math.abs(saved.createdAt.getTime() - Date.now()) < 60_000, 'createdAt is about now');

    const fetched = await Parse.Object.extend(Thing).createWithoutData(saved.id).fetch();
    assert.deepEqual(fetched.toJSON(), {
      objectId: saved.id,
      createdAt: saved.createdAt.toISOString(),
      updatedAt: saved.createdAt.toISOString(),
      str: 'hello wire',
      num: 41.5,
      int: 7,
      yes: true,
      no: false,
      due: { __type: 'Date', iso: '2026-01-02T03:04:05.678Z' },
      arr: [1, 'two', { three: 3 }, [4, 5], null],
      obj: { color: 'red', size: { w: 2, h: 3 }, list: [1, 2], deep: { a: { b: { c: 'deep' } } } },
      geo: { __type: 'GeoPoint', latitude: 52.52, longitude: 13.405 },
      // Parse Server stores the ring closed and returns it closed.
      area: { __type: 'Polygon', coordinates: [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]] },
      ptr: { __type: 'Pointer', className: Target, objectId: target.id },
      bytes: { __type: 'Bytes', base64: 'aGVsbG8gYnl0ZXM=' },
      nothing: null,
      empty: '',
      zero: 0,
      emptyArr: [],
      emptyObj: {},
      unicode: 'héllo wörld 🌍 日本',
      big: Number.MAX_SAFE_INTEGER,
      negative: -0.25,
      past: { __type: 'Date', iso: '1969-07-20T20:17:40.000Z' },
      nested: {
        when: { __type: 'Date', iso: '2026-01-02T03:04:05.678Z' },
        list: [
          { __type: 'Date', iso: '2026-01-02T03:04:05.678Z' },
          { __type: 'Pointer', className: Target, objectId: target.id },
        ],
        ref: { __type: 'Pointer', className: Target, objectId: target.id },
        geo: { __type: 'GeoPoint', latitude: 1, longitude: 2 },
      },
    });
    // Decoded the way apps read them.
    assert.ok(fetched.get('due') instanceof Date);
    assert.equal(fetched.get('due').getTime(), due.getTime());
    assert.ok(fetched.get('geo') instanceof Parse.GeoPoint);
    assert.equal(fetched.get('geo').latitude, 52.52);
    assert.ok(fetched.get('area') instanceof Parse.Polygon);
    assert.ok(fetched.get('ptr') instanceof Parse.Object);
    assert.equal(fetched.get('ptr').className, Target);
    assert.equal(fetched.get('ptr').id, target.id);
    assert.equal(fetched.get('ptr').get('name'), undefined, 'a pointer is not included unless asked');
    assert.equal(fetched.get('nothing'), null);
    assert.ok(fetched.get('nested').when instanceof Date, 'a nested Date decodes as a Date');
    assert.equal(fetched.get('nested').ref.id, target.id);
    assert.ok(fetched.createdAt instanceof Date);
    assert.equal(fetched.createdAt.getTime(), saved.createdAt.getTime());
  });

  test('query.get returns the same object as fetch', async () => {
    const saved = await new Parse.Object(Thing).save({ str: 'by get', num: 1 });
    const got = await new Parse.Query(Thing).get(saved.id);
    assert.equal(got.id, saved.id);
    assert.equal(got.get('str'), 'by get');
    assert.equal(got.get('num'), 1);
    assert.equal(got.createdAt.getTime(), saved.createdAt.getTime());
  });

  test('saving a new object with an unsaved pointer saves both (deep save)', async () => {
    const child = new Parse.Object(Target, { name: 'child' });
    const parent = await new Parse.Object(Thing).save({ str: 'parent', ptr: child });
    assert.match(child.id, OBJECT_ID);
    const got = await new Parse.Query(Thing).include('ptr').get(parent.id);
    assert.equal(got.get('ptr').id, child.id);
    assert.equal(got.get('ptr').get('name'), 'child');
  });

  test('update sets fields, updatedAt moves, createdAt stays', async () => {
    const obj = await new Parse.Object(Thing).save({ str: 'v1', num: 1 });
    const created = obj.createdAt.getTime();
    await new Promise((resolve) => setTimeout(resolve, 5));
    obj.set('str', 'v2');
    obj.set('due', new Date('2030-05-06T07:08:09.010Z'));
    await obj.save();
    assert.equal(obj.createdAt.getTime(), created);
    assert.ok(obj.updatedAt.getTime() > created, 'updatedAt is later than createdAt');
    const fetched = await new Parse.Query(Thing).get(obj.id);
    assert.equal(fetched.get('str'), 'v2');
    assert.equal(fetched.get('num'), 1);
    assert.equal(fetched.get('due').toISOString(), '2030-05-06T07:08:09.010Z');
    assert.equal(fetched.updatedAt.getTime(), obj.updatedAt.getTime());
  });

  test('fetchWithInclude, fetchAll, and existed() after 201/200', async () => {
    const a = await new Parse.Object(Thing).save({ str: 'a', ptr: target });
    const b = await new Parse.Object(Thing).save({ str: 'b' });
    const fresh = Parse.Object.extend(Thing).createWithoutData(a.id);
    await fresh.fetchWithInclude('ptr');
    assert.equal(fresh.get('ptr').get('name'), 'the target');
    // existed() reflects the HTTP status of the last save: 201 create, 200 update.
    fresh.set('str', 'a2');
    await fresh.save();
    assert.equal(fresh.existed(), true);
    const handles = [b.id, a.id].map((id) => Parse.Object.extend(Thing).createWithoutData(id));
    const all = await Parse.Object.fetchAll(handles);
    assert.deepEqual(all.map((o) => o.get('str')), ['b', 'a2']);
    const brandNew = await new Parse.Object(Thing).save({ str: 'new' });
    assert.equal(brandNew.existed(), false);
  });

  test('nested keys with dot notation: set, increment, unset', async () => {
    const obj = await new Parse.Object(Thing).save({ obj: { color: 'red', views: 1, old: true, keep: { x: 1 } } });
    obj.set('obj.color', 'blue');
    obj.increment('obj.views', 2);
    obj.unset('obj.old');
    await obj.save();
    // (The SDK's local view after such a save is its own business; the
    // stored object is what counts.)
    const expected = { color: 'blue', views: 3, keep: { x: 1 } };
    const fetched = await new Parse.Query(Thing).get(obj.id);
    assert.deepEqual(fetched.get('obj'), expected);
    assert.deepEqual((await new Parse.Query(Thing).equalTo('obj.color', 'blue').find()).map((o) => o.id), [obj.id]);
    assert.equal(await new Parse.Query(Thing).greaterThanOrEqualTo('obj.views', 3).count(), 1);
  });

  test('a field can be set to null and back', async () => {
    const obj = await new Parse.Object(Thing).save({ str: 'was here', num: 5 });
    obj.set('str', null);
    await obj.save();
    const fetched = await new Parse.Query(Thing).get(obj.id);
    assert.equal(fetched.get('str'), null);
    assert.equal(fetched.get('num'), 5);
    fetched.set('str', 'back');
    await fetched.save();
    assert.equal((await new Parse.Query(Thing).get(obj.id)).get('str'), 'back');
  });

  test('destroy removes the object', async () => {
    const obj = await new Parse.Object(Thing).save({ str: 'doomed' });
    await obj.destroy();
    await rejectsWith(new Parse.Query(Thing).get(obj.id), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
  });
});

// ------------------------------------------------------------------ operations

describe('save with operations', () => {
  const Counter = unique('CompatOps');
  let obj;

  before(async () => {
    await createClass(Counter);
  });

  test('increment, add, addUnique, remove and unset', async () => {
    obj = await new Parse.Object(Counter).save({
      count: 40, score: 1.5, tags: ['a', 'b'], uniq: ['x'], list: ['p', 'q', 'r', 'q'], note: 'bye', keep: 'me',
    });
    obj.increment('count');
    obj.increment('score', -0.5);
    obj.increment('fresh', 3); // on a missing field: starts from 0
    obj.add('tags', 'c');
    obj.addAll('tags', ['a', 'd']);
    obj.addUnique('uniq', 'x');
    obj.addAllUnique('uniq', ['y', 'z', 'y']);
    obj.remove('list', 'q');
    obj.unset('note');
    await obj.save();

    const expectLocal = (o, label) => {
      assert.equal(o.get('count'), 41, label);
      assert.equal(o.get('score'), 1, label);
      assert.equal(o.get('fresh'), 3, label);
      assert.deepEqual(o.get('tags'), ['a', 'b', 'c', 'a', 'd'], label);
      assert.deepEqual(o.get('uniq'), ['x', 'y', 'z'], label);
      assert.deepEqual(o.get('list'), ['p', 'r'], label);
      assert.equal(o.has('note'), false, label);
      assert.equal(o.get('note'), undefined, label);
      assert.equal(o.get('keep'), 'me', label);
    };
    expectLocal(obj, 'after save');
    const fetched = await Parse.Object.extend(Counter).createWithoutData(obj.id).fetch();
    expectLocal(fetched, 'after fetch');
    assert.equal('note' in fetched.toJSON(), false, 'an unset field is absent, not null');
  });

  test('the server echoes the resulting values of increment and addUnique', async () => {
    // Two copies of one object: the second save must learn the first's
    // changes from the server's reply, not from its local guess.
    const first = await new Parse.Object(Counter).save({ count: 1, uniq: ['a'] });
    const second = Parse.Object.extend(Counter).createWithoutData(first.id);
    await second.fetch();
    first.increment('count', 10);
    first.addUnique('uniq', 'b');
    await first.save();
    second.increment('count', 5);
    second.addUnique('uniq', 'c');
    await second.save();
    assert.equal(second.get('count'), 16);
    assert.deepEqual(second.get('uniq'), ['a', 'b', 'c']);
  });

  test('remove of a pointer from an array of pointers', async () => {
    const a = await new Parse.Object(Counter).save({ count: 0 });
    const b = await new Parse.Object(Counter).save({ count: 0 });
    const holder = await new Parse.Object(Counter).save({ refs: [a, b] });
    holder.remove('refs', a);
    await holder.save();
    const fetched = await new Parse.Query(Counter).get(holder.id);
    assert.deepEqual(fetched.get('refs').map((r) => r.id), [b.id]);
  });

  test('incrementing a string field is a type error (111)', async () => {
    const o = await new Parse.Object(Counter).save({ label: 'text' });
    // A fresh handle: the SDK refuses to increment a string it knows about.
    const handle = Parse.Object.extend(Counter).createWithoutData(o.id);
    handle.increment('label');
    await rejectsWith(handle.save(), Parse.Error.INCORRECT_TYPE,
      `schema mismatch for ${Counter}.label; expected String but got Number`);
  });
});

// ------------------------------------------------------------------ queries

describe('queries', () => {
  const Item = unique('CompatItem');
  const Author = unique('CompatAuthor');
  const Publisher = unique('CompatPublisher');
  const byN = {};
  let ann;
  let bob;

  before(async () => {
    await createClass(Item);
    await createClass(Author);
    await createClass(Publisher);
    const [pubA, pubB] = await Parse.Object.saveAll([
      new Parse.Object(Publisher, { name: 'pubA' }),
      new Parse.Object(Publisher, { name: 'pubB' }),
    ]);
    [ann, bob] = await Parse.Object.saveAll([
      new Parse.Object(Author, { name: 'ann', country: 'NO', favorite: 'gamma', publisher: pubA }),
      new Parse.Object(Author, { name: 'bob', country: 'SE', favorite: 'nothing', publisher: pubB }),
    ]);
    const GP = (lat, lng) => new Parse.GeoPoint(lat, lng);
    const rows = [
      { n: 1, name: 'alpha', tags: ['red', 'green'], group: 'a', score: 10, loc: GP(0, 0), author: ann, authors: [ann, bob] },
      { n: 2, name: 'beta', tags: ['red'], group: 'a', score: 20, loc: GP(0, 1), author: ann, authors: [bob] },
      { n: 3, name: 'gamma', tags: ['blue', 'green'], group: 'b', score: 20, loc: GP(2, 0), opt: 'x', author: bob },
      { n: 4, name: 'Delta', tags: ['green'], group: 'b', score: 30, loc: GP(10, 10), opt: 'y' },
      { n: 5, name: 'epsilon', tags: [], group: 'c', score: 30, loc: GP(-5, -5) },
      { n: 6, name: 'alphabet', tags: ['red', 'blue', 'green'], group: 'c', score: 40, loc: GP(40, 40) },
    ];
    const saved = await Parse.Object.saveAll(rows.map((r) => new Parse.Object(Item, r)));
    for (const obj of saved) byN[obj.get('n')] = obj;
  });

  const q = () => new Parse.Query(Item);
  const findNs = async (query) => ns(await query.ascending('n').find());

  test('equalTo, greaterThan, lessThanOrEqualTo', async () => {
    assert.deepEqual(await findNs(q().equalTo('group', 'a')), [1, 2]);
    assert.deepEqual(await findNs(q().greaterThan('n', 2).lessThanOrEqualTo('n', 4)), [3, 4]);
    assert.deepEqual(await findNs(q().equalTo('group', 'b').greaterThan('score', 20)), [4]);
    assert.deepEqual(await findNs(q().notEqualTo('group', 'a').lessThan('score', 30)), [3]);
  });

  test('containedIn and notContainedIn', async () => {
    assert.deepEqual(await findNs(q().containedIn('name', ['alpha', 'gamma', 'zzz'])), [1, 3]);
    assert.deepEqual(await findNs(q().notContainedIn('group', ['a', 'b'])), [5, 6]);
    assert.deepEqual(await findNs(q().containedIn('tags', ['blue'])), [3, 6]);
  });

  test('exists and doesNotExist', async () => {
    assert.deepEqual(await findNs(q().exists('opt')), [3, 4]);
    assert.deepEqual(await findNs(q().doesNotExist('opt')), [1, 2, 5, 6]);
    assert.deepEqual(await findNs(q().doesNotExist('author')), [4, 5, 6]);
  });

  test('startsWith, endsWith and contains', async () => {
    assert.deepEqual(await findNs(q().startsWith('name', 'alpha')), [1, 6]);
    assert.deepEqual(await findNs(q().startsWith('name', 'a.p')), [], 'startsWith quotes regex characters');
    assert.deepEqual(await findNs(q().endsWith('name', 'ta')), [2, 4]);
    assert.deepEqual(await findNs(q().contains('name', 'lph')), [1, 6]);
  });

  test('matches with modifiers', async () => {
    assert.deepEqual(await findNs(q().matches('name', 'delta', 'i')), [4]);
    assert.deepEqual(await findNs(q().matches('name', 'delta')), []);
    assert.deepEqual(await findNs(q().matches('name', /^A/i)), [1, 6]);
    assert.deepEqual(await findNs(q().matches('name', '^ g a m', 'x')), [3], 'x ignores pattern whitespace');
    assert.deepEqual(await findNs(q().matches('name', '^BETA$', 'im')), [2]);
  });

  test('containsAll and equalTo on an array field', async () => {
    assert.deepEqual(await findNs(q().containsAll('tags', ['red', 'green'])), [1, 6]);
    assert.deepEqual(await findNs(q().equalTo('tags', 'blue')), [3, 6], 'equalTo on an array means "contains"');
    // A whole array is MongoDB's equality: the same array, in the same order.
    assert.deepEqual(await findNs(q().equalTo('tags', ['red', 'green'])), [1]);
    assert.deepEqual(await findNs(q().equalTo('tags', ['green', 'red'])), []);
    // Parse Server on MongoDB refuses a plain object as an equality value.
    await rejectsWith(q().equalTo('group', { a: 1 }).find(), Parse.Error.INVALID_JSON,
      'You cannot use [object Object] as a query parameter.');
    await rejectsWith(q().notEqualTo('group', ['a']).find(), Parse.Error.INVALID_JSON, 'bad atom: ["a"]');
    assert.deepEqual(await findNs(q().notEqualTo('tags', 'red')), [3, 4, 5]);
  });

  test('containedBy and containsAllStartingWith', async () => {
    assert.deepEqual(await findNs(q().containedBy('tags', ['red', 'green'])), [1, 2, 4, 5]);
    assert.deepEqual(await findNs(q().containsAllStartingWith('tags', ['re', 'gr'])), [1, 6]);
  });

  test('multi-key ascending/descending', async () => {
    assert.deepEqual(ns(await q().ascending('score').addDescending('n').find()), [1, 3, 2, 5, 4, 6]);
    // Strings sort by code point: 'Delta' before 'gamma'.
    assert.deepEqual(ns(await q().descending('group').addAscending('name').find()), [6, 5, 4, 3, 1, 2]);
    assert.deepEqual(ns(await q().descending('score', 'n').find()), [6, 5, 4, 3, 2, 1]);
  });

  test('limit and skip', async () => {
    assert.deepEqual(ns(await q().ascending('n').skip(2).limit(3).find()), [3, 4, 5]);
    assert.deepEqual(ns(await q().ascending('n').limit(2).find()), [1, 2]);
    assert.deepEqual(ns(await q().ascending('n').skip(5).find()), [6]);
    assert.deepEqual(ns(await q().ascending('n').skip(10).find()), []);
  });

  test('select and exclude', async () => {
    const [picked] = await q().equalTo('n', 3).select('name', 'score').find();
    assert.equal(picked.id, byN[3].id);
    assert.equal(picked.get('name'), 'gamma');
    assert.equal(picked.get('score'), 20);
    assert.equal(picked.get('n'), undefined);
    assert.equal(picked.get('tags'), undefined);
    assert.ok(picked.createdAt instanceof Date, 'select keeps createdAt');
    assert.ok(picked.updatedAt instanceof Date, 'select keeps updatedAt');

    const [trimmed] = await q().equalTo('n', 3).exclude('tags', 'loc').find();
    assert.equal(trimmed.get('name'), 'gamma');
    assert.equal(trimmed.get('n'), 3);
    assert.equal(trimmed.get('tags'), undefined);
    assert.equal(trimmed.get('loc'), undefined);
  });

  test('select with no keys returns only the built-in fields', async () => {
    const [bare] = await q().equalTo('n', 2).select().find();
    assert.equal(bare.id, byN[2].id);
    assert.deepEqual(Object.keys(bare.toJSON()).sort(), ['createdAt', 'objectId', 'updatedAt']);
  });

  test('distinct and aggregate (master key)', async () => {
    assert.deepEqual((await q().distinct('group')).sort(), ['a', 'b', 'c']);
    assert.deepEqual((await q().equalTo('score', 20).distinct('group')).sort(), ['a', 'b']);
    const groups = await q().aggregate([{ $group: { _id: '$group', total: { $sum: '$score' } } }]);
    assert.deepEqual(groups.sort((x, y) => x.objectId.localeCompare(y.objectId)),
      [{ objectId: 'a', total: 30 }, { objectId: 'b', total: 50 }, { objectId: 'c', total: 70 }]);
    const matched = await q().greaterThan('n', 4).aggregate([{ $project: { n: 1, _id: 0 } }, { $sort: { n: 1 } }]);
    assert.deepEqual(matched, [{ n: 5 }, { n: 6 }]);
  });

  test('count, first and get', async () => {
    assert.equal(await q().equalTo('group', 'b').count(), 2);
    assert.equal(await q().count(), 6);
    assert.equal(await q().limit(1).count(), 6, 'count ignores limit');
    assert.equal(await q().equalTo('group', 'zzz').count(), 0);
    const first = await q().descending('n').first();
    assert.equal(first.get('n'), 6);
    assert.equal(await q().equalTo('group', 'zzz').first(), undefined);
    const got = await q().get(byN[4].id);
    assert.equal(got.get('name'), 'Delta');
    await rejectsWith(q().equalTo('group', 'a').get(byN[4].id), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
  });

  test('find with count (withCount)', async () => {
    const { results, count } = await q().equalTo('group', 'c').ascending('n').withCount().limit(1).find();
    assert.equal(count, 2);
    assert.deepEqual(ns(results), [5]);
  });

  test('Parse.Query.or / and / nor', async () => {
    assert.deepEqual(await findNs(Parse.Query.or(q().equalTo('group', 'a'), q().greaterThan('n', 5))), [1, 2, 6]);
    assert.deepEqual(
      await findNs(Parse.Query.and(q().greaterThanOrEqualTo('score', 20), q().containsAll('tags', ['green']))),
      [3, 4, 6],
    );
    assert.deepEqual(await findNs(Parse.Query.nor(q().equalTo('group', 'a'), q().equalTo('group', 'b'))), [5, 6]);
    // A compound query with extra constraints of its own.
    assert.deepEqual(
      await findNs(Parse.Query.or(q().equalTo('group', 'a'), q().equalTo('group', 'c')).greaterThan('score', 10)),
      [2, 5, 6],
    );
  });

  test('matchesQuery and doesNotMatchQuery', async () => {
    const norwegians = new Parse.Query(Author).equalTo('country', 'NO');
    assert.deepEqual(await findNs(q().matchesQuery('author', norwegians)), [1, 2]);
    assert.deepEqual(await findNs(q().doesNotMatchQuery('author', norwegians)), [3, 4, 5, 6]);
    const nobody = new Parse.Query(Author).equalTo('country', 'XX');
    assert.deepEqual(await findNs(q().matchesQuery('author', nobody)), []);
  });

  test('matchesKeyInQuery and doesNotMatchKeyInQuery', async () => {
    const authors = new Parse.Query(Author);
    assert.deepEqual(await findNs(q().matchesKeyInQuery('name', 'favorite', authors)), [3]);
    assert.deepEqual(await findNs(q().doesNotMatchKeyInQuery('name', 'favorite', authors)), [1, 2, 4, 5, 6]);
  });

  test('include a pointer, a nested pointer and an array of pointers', async () => {
    const [one] = await q().equalTo('n', 1).include('author').find();
    assert.equal(one.get('author').id, ann.id);
    assert.equal(one.get('author').get('name'), 'ann');
    assert.equal(one.get('author').get('publisher').get('name'), undefined, 'one level only');

    const [nested] = await q().equalTo('n', 1).include('author.publisher').find();
    assert.equal(nested.get('author').get('name'), 'ann');
    assert.equal(nested.get('author').get('publisher').get('name'), 'pubA');

    const [arr] = await q().equalTo('n', 1).include('authors').find();
    assert.deepEqual(arr.get('authors').map((a) => a.get('name')), ['ann', 'bob']);

    const rows = await q().include(['author', 'authors']).containedIn('n', [2, 3, 4]).ascending('n').find();
    assert.deepEqual(rows.map((r) => r.get('author') && r.get('author').get('name')), ['ann', 'bob', undefined]);
    assert.deepEqual(rows[0].get('authors').map((a) => a.get('country')), ['SE']);

    const got = await q().include('author').get(byN[3].id);
    assert.equal(got.get('author').get('country'), 'SE');
  });

  test('include with select of sub-keys', async () => {
    const [one] = await q().equalTo('n', 1).include('author').select('name', 'author.name').find();
    assert.equal(one.get('name'), 'alpha');
    assert.equal(one.get('score'), undefined);
    assert.equal(one.get('author').get('name'), 'ann');
    assert.equal(one.get('author').get('country'), undefined);
  });

  test('equalTo and containedIn on pointers', async () => {
    assert.deepEqual(await findNs(q().equalTo('author', ann)), [1, 2]);
    assert.deepEqual(await findNs(q().containedIn('author', [bob])), [3]);
    assert.deepEqual(await findNs(q().equalTo('authors', bob)), [1, 2], 'pointer in an array of pointers');
    assert.deepEqual(await findNs(q().containedIn('authors', [ann])), [1]);
    assert.deepEqual(await findNs(q().containsAll('authors', [ann, bob])), [1]);
  });

  test('near and withinKilometers', async () => {
    const origin = new Parse.GeoPoint(0, 0);
    assert.deepEqual(ns(await q().near('loc', origin).find()), [1, 2, 3, 5, 4, 6]);
    assert.deepEqual(ns(await q().near('loc', origin).limit(2).find()), [1, 2]);
    assert.deepEqual(ns(await q().withinKilometers('loc', origin, 300).find()), [1, 2, 3], 'sorted by distance');
    assert.deepEqual(await findNs(q().withinKilometers('loc', origin, 300, false)), [1, 2, 3]);
    assert.deepEqual(ns(await q().withinMiles('loc', new Parse.GeoPoint(10, 10), 10).find()), [4]);
    assert.deepEqual(
      await findNs(q().withinGeoBox('loc', new Parse.GeoPoint(-1, -1), new Parse.GeoPoint(3, 3))),
      [1, 2, 3],
    );
  });

  test('withinPolygon and polygonContains', async () => {
    const square = [[-1, -1], [-1, 3], [3, 3], [3, -1]].map(([lat, lng]) => new Parse.GeoPoint(lat, lng));
    assert.deepEqual(await findNs(q().withinPolygon('loc', square)), [1, 2, 3]);
    const Zone = unique('CompatZone');
    await createClass(Zone);
    await Parse.Object.saveAll([
      new Parse.Object(Zone, { n: 1, area: new Parse.Polygon([[0, 0], [0, 10], [10, 10], [10, 0]]) }),
      new Parse.Object(Zone, { n: 2, area: new Parse.Polygon([[20, 20], [20, 30], [30, 30], [30, 20]]) }),
    ]);
    const inside = await new Parse.Query(Zone).polygonContains('area', new Parse.GeoPoint(5, 5)).find();
    assert.deepEqual(ns(inside), [1]);
    const outside = await new Parse.Query(Zone).polygonContains('area', new Parse.GeoPoint(15, 15)).find();
    assert.deepEqual(outside, []);
  });

  test('createdAt and objectId constraints', async () => {
    assert.deepEqual(await findNs(q().containedIn('objectId', [byN[2].id, byN[5].id])), [2, 5]);
    assert.deepEqual(await findNs(q().lessThanOrEqualTo('createdAt', new Date()).equalTo('group', 'a')), [1, 2]);
    assert.deepEqual(await findNs(q().greaterThan('createdAt', new Date(Date.now() + 3_600_000))), []);
  });

  test('each and eachBatch walk every row', async () => {
    const seen = [];
    await q().each((obj) => { seen.push(obj.get('n')); }, { batchSize: 4 });
    assert.deepEqual(seen.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
  });

  test('findAll pages through every row', async () => {
    const all = await q().findAll({ batchSize: 2 });
    assert.deepEqual(ns(all).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
  });
});

// ------------------------------------------------------------------ limits and dates

describe('default limit and date ranges', () => {
  const Many = unique('CompatMany');
  const start = Date.UTC(2024, 0, 1);
  const day = 86_400_000;

  before(async () => {
    await createClass(Many);
    const rows = [];
    for (let n = 0; n < 120; n += 1) rows.push(new Parse.Object(Many, { n, when: new Date(start + n * day) }));
    await Parse.Object.saveAll(rows);
  });

  test('find returns 100 rows unless a limit is given', async () => {
    assert.equal((await new Parse.Query(Many).find()).length, 100);
    assert.equal((await new Parse.Query(Many).limit(1000).find()).length, 120);
    assert.equal(await new Parse.Query(Many).count(), 120);
  });

  test('Date constraints and ordering', async () => {
    const from = new Date(start + 10 * day);
    const to = new Date(start + 12 * day);
    const rows = await new Parse.Query(Many).greaterThanOrEqualTo('when', from).lessThan('when', to)
      .ascending('when').find();
    assert.deepEqual(ns(rows), [10, 11]);
    assert.ok(rows[0].get('when') instanceof Date);
    assert.equal(rows[0].get('when').getTime(), from.getTime());
    const [latest] = await new Parse.Query(Many).descending('when').limit(1).find();
    assert.equal(latest.get('n'), 119);
    assert.deepEqual(ns(await new Parse.Query(Many).equalTo('when', to).find()), [12]);
    assert.deepEqual(ns(await new Parse.Query(Many).containedIn('when', [from, to]).ascending('n').find()), [10, 12]);
  });

  test('order by createdAt (as the SDK sends it)', async () => {
    const rows = await new Parse.Query(Many).descending('createdAt').addAscending('n').limit(3).find();
    assert.equal(rows.length, 3);
    assert.ok(rows[0].createdAt.getTime() >= rows[2].createdAt.getTime());
  });
});

// ------------------------------------------------------------------ batch

describe('saveAll and destroyAll', () => {
  const Batch = unique('CompatBatch');

  before(async () => {
    await createClass(Batch);
  });

  test('saveAll creates, saveAll updates, destroyAll deletes', async () => {
    const objs = [1, 2, 3, 4, 5].map((n) => new Parse.Object(Batch, { n, label: `b${n}` }));
    const saved = await Parse.Object.saveAll(objs);
    assert.equal(saved.length, 5);
    for (const obj of saved) {
      assert.match(obj.id, OBJECT_ID);
      assert.ok(obj.createdAt instanceof Date);
    }
    assert.equal(new Set(saved.map((o) => o.id)).size, 5);
    assert.equal(await new Parse.Query(Batch).count(), 5);

    for (const obj of saved) obj.increment('n', 10);
    saved.push(new Parse.Object(Batch, { n: 99, label: 'new in update batch' }));
    await Parse.Object.saveAll(saved);
    assert.deepEqual(saved.map((o) => o.get('n')), [11, 12, 13, 14, 15, 99]);
    const fetched = await new Parse.Query(Batch).ascending('n').find();
    assert.deepEqual(ns(fetched), [11, 12, 13, 14, 15, 99]);

    const destroyed = await Parse.Object.destroyAll(saved);
    assert.equal(destroyed.length, 6);
    assert.equal(await new Parse.Query(Batch).count(), 0);
  });

  test('saveAll reports the failing object and keeps the others', async () => {
    await new Parse.Object(Batch).save({ n: 1 });
    const good = new Parse.Object(Batch, { n: 2, label: 'good' });
    const bad = new Parse.Object(Batch, { n: 'not a number' });
    const error = await rejectsWith(Parse.Object.saveAll([good, bad]), Parse.Error.INCORRECT_TYPE);
    assert.match(error.message, /schema mismatch for \w+\.n; expected Number but got String/);
    const rows = await new Parse.Query(Batch).equalTo('label', 'good').find();
    assert.equal(rows.length, 1, 'the valid object of the batch was saved');
  });

  test('destroyAll of a missing object is an aggregate error naming it', async () => {
    const alive = await new Parse.Object(Batch).save({ n: 7 });
    const ghost = Parse.Object.extend(Batch).createWithoutData('doesNotExi');
    const error = await rejectsWith(Parse.Object.destroyAll([alive, ghost]), Parse.Error.AGGREGATE_ERROR);
    assert.equal(error.errors.length, 1);
    assert.equal(error.errors[0].code, Parse.Error.OBJECT_NOT_FOUND);
    assert.equal(error.errors[0].object.id, 'doesNotExi');
    await rejectsWith(new Parse.Query(Batch).get(alive.id), Parse.Error.OBJECT_NOT_FOUND);
  });
});

// ------------------------------------------------------------------ relations

describe('relations', () => {
  const Post = unique('CompatPost');
  const Tag = unique('CompatTag');
  let tags;

  before(async () => {
    await createClass(Post);
    await createClass(Tag);
    tags = await Parse.Object.saveAll(['red', 'green', 'blue'].map((name) => new Parse.Object(Tag, { name })));
  });

  test('relation add, query, remove, and equalTo on the relation key', async () => {
    const [red, green, blue] = tags;
    const post = new Parse.Object(Post, { title: 'p1' });
    post.relation('tags').add([red, green]);
    await post.save();
    const other = new Parse.Object(Post, { title: 'p2' });
    other.relation('tags').add(blue);
    await other.save();

    const fetched = await new Parse.Query(Post).get(post.id);
    const relation = fetched.relation('tags');
    assert.equal(relation.targetClassName, Tag);
    assert.deepEqual(ids(await relation.query().find()), ids([red, green]));
    assert.deepEqual((await relation.query().ascending('name').find()).map((t) => t.get('name')), ['green', 'red']);
    assert.equal(await relation.query().equalTo('name', 'red').count(), 1);

    fetched.relation('tags').remove(red);
    fetched.relation('tags').add(blue);
    await fetched.save();
    assert.deepEqual(ids(await fetched.relation('tags').query().find()), ids([green, blue]));

    const withBlue = await new Parse.Query(Post).equalTo('tags', blue).ascending('title').find();
    assert.deepEqual(withBlue.map((p) => p.get('title')), ['p1', 'p2']);
    const withGreen = await new Parse.Query(Post).equalTo('tags', green).find();
    assert.deepEqual(withGreen.map((p) => p.get('title')), ['p1']);
    const withRed = await new Parse.Query(Post).equalTo('tags', red).find();
    assert.deepEqual(withRed, []);
  });

  test('a relation reads back as a Relation, not as data', async () => {
    const post = new Parse.Object(Post, { title: 'p3' });
    post.relation('tags').add(tags[0]);
    await post.save();
    const [row] = await new Parse.Query(Post).equalTo('title', 'p3').find();
    assert.deepEqual(row.toJSON().tags, { __type: 'Relation', className: Tag });
  });
});

// ------------------------------------------------------------------ ACL (no users needed)

describe('object ACLs', () => {
  const Guarded = unique('CompatGuarded');

  before(async () => {
    await createClass(Guarded);
  });

  test('a public-read-only object can be read but not changed by a client', async () => {
    const acl = new Parse.ACL();
    acl.setPublicReadAccess(true);
    acl.setPublicWriteAccess(false);
    const obj = new Parse.Object(Guarded, { v: 1 });
    obj.setACL(acl);
    await obj.save();
    const fetched = await new Parse.Query(Guarded).get(obj.id);
    assert.equal(fetched.getACL().getPublicReadAccess(), true);
    assert.equal(fetched.getACL().getPublicWriteAccess(), false);
    assert.deepEqual(fetched.toJSON().ACL, { '*': { read: true } });

    fetched.set('v', 2);
    await rejectsWith(fetched.save(), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
    await rejectsWith(fetched.destroy(), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
    assert.equal((await new Parse.Query(Guarded).get(obj.id)).get('v'), 1, 'the refused update changed nothing');

    fetched.set('v', 3);
    await fetched.save(null, { useMasterKey: true });
    assert.equal((await new Parse.Query(Guarded).get(obj.id)).get('v'), 3);
  });

  test('an object nobody may read is invisible to clients, visible to the master key', async () => {
    const obj = new Parse.Object(Guarded, { secret: 'hidden' });
    obj.setACL(new Parse.ACL());
    await obj.save();
    await rejectsWith(new Parse.Query(Guarded).get(obj.id), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
    await rejectsWith(Parse.Object.extend(Guarded).createWithoutData(obj.id).fetch(), Parse.Error.OBJECT_NOT_FOUND);
    assert.equal(await new Parse.Query(Guarded).equalTo('secret', 'hidden').count(), 0);
    const seen = await new Parse.Query(Guarded).get(obj.id, { useMasterKey: true });
    assert.equal(seen.get('secret'), 'hidden');
    assert.deepEqual(seen.toJSON().ACL, {});
  });
});

// ------------------------------------------------------------------ config

describe('Parse.Config', () => {
  test('master saves parameters, clients read the public ones', async () => {
    const open = unique('compatOpen');
    const hidden = unique('compatHidden');
    await Parse.Config.save({ [open]: { greeting: 'hi', n: 3 }, [hidden]: 'shh' }, { [hidden]: true });
    const config = await Parse.Config.get();
    assert.deepEqual(config.get(open), { greeting: 'hi', n: 3 });
    assert.equal(config.get(hidden), undefined);
    const masterView = await Parse.Config.get({ useMasterKey: true });
    assert.equal(masterView.get(hidden), 'shh');
  });
});

// ------------------------------------------------------------------ errors

describe('errors', () => {
  const Err = unique('CompatErr');

  before(async () => {
    await createClass(Err, { n: 1 });
  });

  test('query.get of a missing id rejects with 101', async () => {
    await rejectsWith(new Parse.Query(Err).get('missingId0'), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
  });

  test('fetch of a missing id rejects with 101', async () => {
    const ghost = Parse.Object.extend(Err).createWithoutData('missingId0');
    await rejectsWith(ghost.fetch(), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
  });

  test('save and destroy of a missing id reject with 101', async () => {
    const ghost = Parse.Object.extend(Err).createWithoutData('missingId0');
    ghost.set('n', 2);
    await rejectsWith(ghost.save(), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
    await rejectsWith(ghost.destroy(), Parse.Error.OBJECT_NOT_FOUND, 'Object not found.');
  });

  test('an unknown query operator rejects with 107 (Parse Server on MongoDB)', async () => {
    const query = new Parse.Query(Err);
    query._addCondition('n', '$bogus', 1);
    await rejectsWith(query.find(), Parse.Error.INVALID_JSON, 'bad constraint: $bogus');
  });

  test('a malformed $in rejects with 107', async () => {
    const query = new Parse.Query(Err);
    query._addCondition('n', '$in', 5);
    await rejectsWith(query.find(), Parse.Error.INVALID_JSON, 'bad $in value');
  });

  test('a type mismatch rejects with 111', async () => {
    await rejectsWith(new Parse.Object(Err).save({ n: 'five' }), Parse.Error.INCORRECT_TYPE,
      `schema mismatch for ${Err}.n; expected Number but got String`);
  });

  test('a client cannot create a class (allowClientClassCreation is off)', async () => {
    const name = unique('CompatNoClass');
    await rejectsWith(new Parse.Object(name).save({ a: 1 }), Parse.Error.OPERATION_FORBIDDEN,
      'Permission denied');
  });

  test('a nested key with $ or . rejects with 121', async () => {
    // (Top-level key names are checked by the SDK itself before sending.)
    await rejectsWith(new Parse.Object(Err).save({ meta: { 'a.b': 1 } }), Parse.Error.INVALID_NESTED_KEY,
      "Nested keys should not contain the '$' or '.' characters");
    await rejectsWith(new Parse.Object(Err).save({ meta: { deep: { $where: 'x' } } }), Parse.Error.INVALID_NESTED_KEY);
    assert.equal(await new Parse.Query(Err).exists('meta').count({ useMasterKey: true }), 0, 'nothing half-written');
  });

  test('querying a class that does not exist: 119 for a client, nothing for the master key', async () => {
    const name = unique('CompatAbsent');
    await rejectsWith(new Parse.Query(name).find(), Parse.Error.OPERATION_FORBIDDEN,
      'Permission denied');
    assert.deepEqual(await new Parse.Query(name).find({ useMasterKey: true }), []);
    assert.equal(await new Parse.Query(name).count({ useMasterKey: true }), 0);
  });
});
