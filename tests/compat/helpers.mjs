// Shared set-up for the compatibility tests: the real Parse JS SDK, pointed
// at the bapp server the test run started (see tests/test_compat.py).
//
// Every *.test.mjs file imports `initParse()` once at the top. Names made by
// `unique()` carry a per-process suffix, so files can run in parallel
// against one server and can be re-run against a server that keeps its data.

import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import Parse from 'parse/node';

export { Parse };

/** A required environment variable, or a clear failure. */
function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests through tests/test_compat.py, ` +
      'or export BAPP_URL, BAPP_APP_ID, BAPP_MASTER_KEY and BAPP_JS_KEY (see tests/compat/README.md)');
  }
  return value;
}

export const config = Object.freeze({
  get serverURL() { return env('BAPP_URL'); },
  get appId() { return env('BAPP_APP_ID'); },
  get masterKey() { return env('BAPP_MASTER_KEY'); },
  get javascriptKey() { return process.env.BAPP_JS_KEY || undefined; },
});

/**
 * Initialises the SDK the way a Node app does: app id + JavaScript key,
 * serverURL, an unsafe current user (Node has no browser storage).
 *
 * The master key is configured by default so that single calls can opt in
 * with `{ useMasterKey: true }`; the SDK never sends it otherwise. Pass
 * `{ masterKey: false }` for a file that must prove it never needs it.
 */
export function initParse({ masterKey = true } = {}) {
  Parse.initialize(config.appId, config.javascriptKey);
  Parse.serverURL = config.serverURL;
  Parse.masterKey = masterKey ? config.masterKey : undefined;
  Parse.User.enableUnsafeCurrentUser();
  return Parse;
}

const RUN = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
let counter = 0;

/** A name unique to this process and call: `unique('Thing')` -> `Thing_lq3k9x1a2b3c_1`. */
export function unique(prefix) {
  counter += 1;
  return `${prefix}_${RUN}_${counter}`;
}

/**
 * Creates the class `className` with the master key (client class creation
 * is off, as in Parse Server 7+) by saving and deleting one object that
 * carries `fields`, so the schema also gets those field types. Returns the
 * class name.
 */
export async function createClass(className, fields = {}) {
  const seed = new Parse.Object(className);
  await seed.save(fields, { useMasterKey: true });
  await seed.destroy({ useMasterKey: true });
  return className;
}

/**
 * Asserts that `promise` rejects with a Parse.Error of `code` (and, when
 * given, a message equal to / matching `message`). Returns the error.
 */
export async function rejectsWith(promise, code, message) {
  let error;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert.ok(error, `expected a rejection with code ${code}, but the call succeeded`);
  assert.ok(error instanceof Parse.Error, `expected a Parse.Error, got ${error && error.stack}`);
  assert.equal(error.code, code, `wrong error code (message: ${error.message})`);
  if (message instanceof RegExp) {
    assert.match(error.message, message);
  } else if (message !== undefined) {
    assert.equal(error.message, message);
  }
  return error;
}

/** Sorted copy, for order-insensitive comparisons of id / value lists. */
export function sorted(values) {
  return [...values].sort();
}

/** The ids of a list of Parse objects, sorted. */
export function ids(objects) {
  return sorted(objects.map((o) => o.id));
}
