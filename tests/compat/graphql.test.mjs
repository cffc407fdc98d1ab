// The GraphQL API through a real GraphQL client (npm `graphql-request`,
// pinned in package-lock.json), as a frontend written against Parse
// Server's GraphQL API uses it.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ClientError, GraphQLClient, gql } from 'graphql-request';
import { config } from './helpers.mjs';

const endpoint = new URL('/graphql', config.serverURL).toString();
const base = { 'X-Parse-Application-Id': config.appId };
if (config.javascriptKey) base['X-Parse-Javascript-Key'] = config.javascriptKey;

const client = (extra = {}) => new GraphQLClient(endpoint, { headers: { ...base, ...extra } });
const master = client({ 'X-Parse-Master-Key': config.masterKey });

// Letters and digits only, so the generated names are predictable: Gql<hex>Item -> gql<hex>Items.
const hex = randomBytes(4).toString('hex').replace(/[0-9]/g, (d) => 'abcdefghij'[d]);
const className = `Gql${hex}Item`;
const one = `gql${hex}Item`;
const many = `gql${hex}Items`;

async function rejects(promise, check) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ClientError, `expected a ClientError, got ${error}`);
    check(error.response);
    return;
  }
  assert.fail('expected the request to fail');
}

describe('GraphQL through graphql-request', () => {
  test('schema, sign-up, create, query, update, permissions, log-out', async () => {
    const created = await master.request(gql`
      mutation($name: String!) {
        createClass(input: { name: $name, schemaFields: {
          addStrings: [{ name: "title" }], addNumbers: [{ name: "price" }],
          addPointers: [{ name: "owner", targetClassName: "_User" }] } }) {
          class { name schemaFields { name } }
        }
      }`, { name: className });
    assert.equal(created.createClass.class.name, className);
    assert.deepEqual(created.createClass.class.schemaFields.map((f) => f.name),
      ['objectId', 'createdAt', 'updatedAt', 'ACL', 'title', 'price', 'owner']);

    const username = `gql_${hex}`;
    const signed = await client().request(gql`
      mutation($f: CreateUserFieldsInput) {
        signUp(input: { fields: $f }) { viewer { sessionToken user { id objectId username } } }
      }`, { f: { username, password: 'secret-pw' } });
    const { sessionToken, user } = signed.signUp.viewer;
    assert.match(sessionToken, /^r:/);
    assert.equal(user.username, username);
    assert.equal(Buffer.from(user.id, 'base64').toString(), `_User:${user.objectId}`);

    const me = client({ 'X-Parse-Session-Token': sessionToken });
    for (const [title, price] of [['Bolt', 2.5], ['Nut', 0.5], ['Gear', 7]]) {
      await me.request(`mutation($f: Create${className}FieldsInput) {
        create${className}(input: { fields: $f }) { ${one} { objectId } } }`,
      { f: { title, price, owner: { link: user.id } } });
    }
    const found = await me.request(`query {
      ${many}(where: { price: { greaterThan: 1 } }, order: [price_DESC], first: 1) {
        count edges { node { title price owner { username } } } pageInfo { hasNextPage }
      } }`);
    assert.deepEqual(found[many], {
      count: 2,
      edges: [{ node: { title: 'Gear', price: 7, owner: { username } } }],
      pageInfo: { hasNextPage: true },
    });

    const nut = await me.request(`query { ${many}(where: { title: { equalTo: "Nut" } }) { edges { node { id } } } }`);
    const id = nut[many].edges[0].node.id;
    const updated = await me.request(`mutation($id: ID!) {
      update${className}(input: { id: $id, fields: { price: 0.75 } }) { ${one} { title price } } }`, { id });
    assert.deepEqual(updated[`update${className}`][one], { title: 'Nut', price: 0.75 });

    await rejects(me.request(`query { ${many} { edges { node { nope } } } }`), (response) => {
      assert.equal(response.status, 400);
      assert.equal(response.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
      assert.equal(response.errors[0].message, `Cannot query field "nope" on type "${className}".`);
      assert.equal(response.errors[0].extensions.stacktrace, undefined);
    });
    await rejects(me.request(`mutation { deleteClass(input: { name: "${className}" }) { class { name } } }`),
      (response) => {
        assert.equal(response.status, 200);
        assert.equal(response.errors[0].extensions.code, 119);
        assert.deepEqual(response.errors[0].path, ['deleteClass']);
      });

    const out = await me.request('mutation { logOut(input: {}) { ok } }');
    assert.deepEqual(out, { logOut: { ok: true } });
    await rejects(me.request('{ viewer { sessionToken } }'), (response) => {
      assert.equal(response.status, 400);
      // Not a GraphQL answer: the session is refused before GraphQL runs, as Parse Server does.
      assert.deepEqual(JSON.parse(response.body), { code: 209, error: 'Invalid session token' });
    });
  });
});
