// Parse.Schema through the real JS SDK: create, read, update and delete a
// class with field options, CLPs and indexes, then the validation errors
// a client sees when it writes against that schema (142 required, 111 type).

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initParse, Parse, rejectsWith, unique } from './helpers.mjs';

initParse();

const BASE_FIELDS = {
  objectId: { type: 'String' },
  createdAt: { type: 'Date' },
  updatedAt: { type: 'Date' },
  ACL: { type: 'ACL' },
};

describe('Parse.Schema', () => {
  const className = unique('SchemaItem');
  const clp = {
    find: { '*': true },
    get: { '*': true },
    count: { '*': true },
    create: { '*': true },
    update: { '*': true },
    delete: { '*': true },
    addField: {},
    protectedFields: { '*': [] },
  };

  before(async () => {
    const schema = new Parse.Schema(className);
    schema
      .addString('name', { required: true })
      .addNumber('count', { defaultValue: 0 })
      .addString('status', { required: true, defaultValue: 'new' })
      .addPointer('owner', '_User')
      .addRelation('tags', '_Role')
      .addIndex('name_1', { name: 1 })
      .setCLP(clp);
    const created = await schema.save();
    assert.equal(created.className, className);
  });

  test('get returns the fields, options, CLPs and indexes', async () => {
    const schema = await new Parse.Schema(className).get();
    assert.deepEqual(schema, {
      className,
      fields: {
        ...BASE_FIELDS,
        name: { type: 'String', required: true },
        count: { type: 'Number', defaultValue: 0 },
        status: { type: 'String', required: true, defaultValue: 'new' },
        owner: { type: 'Pointer', targetClass: '_User' },
        tags: { type: 'Relation', targetClass: '_Role' },
      },
      classLevelPermissions: clp,
      indexes: { name_1: { name: 1 } },
    });
  });

  test('all() lists the class', async () => {
    const all = await Parse.Schema.all();
    const names = all.map((s) => s.className);
    assert.ok(names.includes(className));
    assert.ok(names.includes('_User'));
  });

  test('a missing required field is 142', async () => {
    await rejectsWith(new Parse.Object(className).save({ count: 1 }), Parse.Error.VALIDATION_ERROR,
      'name is required');
  });

  test('a wrong type is 111', async () => {
    await rejectsWith(new Parse.Object(className).save({ name: 'x', count: 'many' }), Parse.Error.INCORRECT_TYPE,
      `schema mismatch for ${className}.count; expected Number but got String`);
  });

  test('defaults are filled on create and come back to the object', async () => {
    const saved = await new Parse.Object(className).save({ name: 'with defaults' });
    assert.equal(saved.get('count'), 0);
    assert.equal(saved.get('status'), 'new');
    const fetched = await new Parse.Query(className).get(saved.id);
    assert.equal(fetched.get('status'), 'new');
    saved.unset('name');
    await rejectsWith(saved.save(), Parse.Error.VALIDATION_ERROR, 'name is required');
  });

  test('addField is refused by the CLP for a client, allowed with the master key', async () => {
    await rejectsWith(new Parse.Object(className).save({ name: 'x', surprise: 1 }), Parse.Error.OPERATION_FORBIDDEN,
      'Permission denied');
    const saved = await new Parse.Object(className).save({ name: 'x', surprise: 1 }, { useMasterKey: true });
    assert.equal(saved.get('surprise'), 1);
  });

  test('update adds and deletes fields and indexes', async () => {
    const schema = new Parse.Schema(className);
    schema.addDate('due').addIndex('due_1', { due: -1 }).deleteField('owner').deleteIndex('name_1');
    const updated = await schema.update();
    assert.deepEqual(updated.fields.due, { type: 'Date' });
    assert.equal(updated.fields.owner, undefined);
    // Created with an index, so no _id_ entry is recorded (it is only on a first index update).
    assert.deepEqual(updated.indexes, { due_1: { due: -1 } });
    const again = await new Parse.Schema(className).get();
    assert.deepEqual(again.indexes, updated.indexes);
  });

  test('update errors carry Parse Server codes', async () => {
    const retype = new Parse.Schema(className);
    retype.addNumber('name');
    await rejectsWith(retype.update(), 255, 'Field name exists, cannot update.');
    const missing = new Parse.Schema(className);
    missing.deleteField('nothingHere');
    await rejectsWith(missing.update(), 255, 'Field nothingHere does not exist, cannot delete.');
    await rejectsWith(new Parse.Schema(unique('NoSuchClass')).get(), Parse.Error.INVALID_CLASS_NAME,
      /^Class NoSuchClass_.* does not exist\.$/);
  });

  test('delete needs an empty class; purge empties it', async () => {
    const schema = new Parse.Schema(className);
    await rejectsWith(schema.delete(), 255, /^Class .* is not empty, contains \d+ objects, cannot drop schema\.$/);
    await schema.purge();
    await schema.delete();
    await rejectsWith(schema.get(), Parse.Error.INVALID_CLASS_NAME, `Class ${className} does not exist.`);
  });
});
