// Files through the real Parse JS SDK: Parse.File saved from base64, byte
// arrays (the JSON envelope), a Buffer and a stream (the binary upload),
// attached to an object, read back by URL and with getData, metadata,
// destroy with the master key, and the refusals a client meets.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { config, createClass, initParse, Parse, rejectsWith, unique } from './helpers.mjs';

initParse();

const STORED = /^[0-9a-f]{32}_(.+)$/;
const b64 = (text) => Buffer.from(text).toString('base64');

function originalName(file) {
  const match = STORED.exec(file.name());
  assert.ok(match, `not a generated name: ${file.name()}`);
  return match[1];
}

async function download(url, headers = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

async function login() {
  const username = unique('filer');
  return Parse.User.signUp(username, 'pw-' + username);
}

describe('saving files', () => {
  let Product;

  before(async () => {
    Product = await createClass(unique('Product'), { title: 'x' });
    await login();
  });

  test('a base64 file saves with a generated name and a URL under the server', async () => {
    const file = new Parse.File('hello.txt', { base64: b64('hello, world') });
    await file.save();
    assert.equal(originalName(file), 'hello.txt');
    assert.equal(file.url(), `${config.serverURL}/files/${config.appId}/${file.name()}`);
    const { status, headers, body } = await download(file.url());
    assert.equal(status, 200);
    assert.equal(body.toString(), 'hello, world');
    assert.match(headers.get('content-type'), /^text\/plain/);
    assert.equal(headers.get('x-content-type-options'), 'nosniff');
  });

  test('a file attached to an object is read back with its URL', async () => {
    const file = new Parse.File('photo.png', [137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3], 'image/png');
    await file.save();
    const product = new Parse.Object(Product);
    product.set('title', 'with image');
    product.set('image', file);
    await product.save();

    const fetched = await new Parse.Query(Product).get(product.id);
    const image = fetched.get('image');
    assert.ok(image instanceof Parse.File);
    assert.equal(image.name(), file.name());
    assert.equal(image.url(), file.url());
    const { status, headers, body } = await download(image.url());
    assert.equal(status, 200);
    assert.equal(headers.get('content-type'), 'image/png');
    assert.deepEqual([...body], [137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]);
    assert.equal(await image.getData(), Buffer.from([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]).toString('base64'));
  });

  test('a name without an extension gets one from the type', async () => {
    const file = new Parse.File('notes', { base64: b64('plain') });
    await file.save();
    assert.equal(originalName(file), 'notes.txt');
    const jpeg = new Parse.File('picture', [255, 216, 255, 224], 'image/jpeg');
    await jpeg.save();
    assert.equal(originalName(jpeg), 'picture.jpeg');
  });

  test('a Buffer is sent as a binary upload', async () => {
    const data = Buffer.alloc(300_000, 7);
    const file = new Parse.File('buffer.bin', data, 'application/octet-stream');
    await file.save();
    assert.equal(originalName(file), 'buffer.bin');
    const { status, body } = await download(file.url());
    assert.equal(status, 200);
    assert.ok(body.equals(data));
  });

  test('a stream is uploaded as it is read', async () => {
    const parts = [Buffer.alloc(100_000, 1), Buffer.alloc(100_000, 2), Buffer.alloc(50_000, 3)];
    const file = new Parse.File('stream.bin', Readable.from(parts), 'application/octet-stream');
    await file.save();
    const { body } = await download(file.url());
    assert.ok(body.equals(Buffer.concat(parts)));
  });

  test('metadata is stored with the file', async () => {
    const file = new Parse.File('meta.txt', { base64: b64('m') }, 'text/plain', { owner: 'ann' });
    await file.save();
    const { body } = await download(`${config.serverURL}/files/${config.appId}/metadata/${file.name()}`);
    assert.deepEqual(JSON.parse(body.toString()), { metadata: { owner: 'ann' } });
  });

  test('a byte range is served as partial content', async () => {
    const file = new Parse.File('digits.txt', { base64: b64('0123456789') });
    await file.save();
    const { status, headers, body } = await download(file.url(), { Range: 'bytes=2-5' });
    assert.equal(status, 206);
    assert.equal(headers.get('content-range'), 'bytes 2-5/10');
    assert.equal(body.toString(), '2345');
  });

  test('destroy needs the master key and removes the file', async () => {
    const file = new Parse.File('gone.txt', { base64: b64('bye') });
    await file.save();
    const refused = await fetch(`${config.serverURL}/files/${file.name()}`, {
      method: 'DELETE',
      headers: { 'X-Parse-Application-Id': config.appId, 'X-Parse-JavaScript-Key': config.javascriptKey ?? '' },
    });
    assert.equal(refused.status, 403);
    assert.deepEqual(await refused.json(), { error: 'Permission denied' });
    assert.equal((await download(file.url())).status, 200);
    await file.destroy({ useMasterKey: true });
    const { status, body } = await download(file.url());
    assert.equal(status, 404);
    assert.equal(body.toString(), 'File not found.');
  });
});

describe('refused uploads', () => {
  test('HTML and SVG are refused (Parse Server 9 blocklist), letter case kept', async () => {
    await login();
    await rejectsWith(new Parse.File('page.html', { base64: b64('<p>hi</p>') }).save(),
      Parse.Error.FILE_SAVE_ERROR, 'File upload of extension html is disabled.');
    await rejectsWith(new Parse.File('page.HTML', { base64: b64('<p>hi</p>') }).save(),
      Parse.Error.FILE_SAVE_ERROR, 'File upload of extension HTML is disabled.');
    await rejectsWith(new Parse.File('logo', { base64: b64('<svg/>') }, 'image/svg+xml').save(),
      Parse.Error.FILE_SAVE_ERROR, 'File upload of extension svg+xml is disabled.');
  });

  test('a malformed Content-Type on a name without extension is refused', async () => {
    await login();
    await rejectsWith(new Parse.File('noext', { base64: b64('x') }, 'image/').save(),
      Parse.Error.FILE_SAVE_ERROR, 'Invalid Content-Type.');
  });

  test('JavaScript is an ordinary file, served by its extension as an attachment', async () => {
    await login();
    const file = await new Parse.File('app.js', { base64: b64('alert(1)') }, 'text/html').save();
    assert.equal(originalName(file), 'app.js');
    const got = await download(file.url());
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/javascript');
    assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
    assert.match(got.headers.get('content-disposition'), /^attachment/);
  });

  test('over the size limit: the binary upload answers 130, the base64 one 413', async () => {
    await login();
    const big = Buffer.alloc(20 * 1024 * 1024 + 1, 97);
    // The SDK rejects a failed binary upload with the raw {code, error} body.
    await assert.rejects(new Parse.File('big.bin', big).save(), (error) =>
      error.code === Parse.Error.FILE_SAVE_ERROR && error.error === 'File size exceeds maximum allowed: 20971520 bytes.');
    await assert.rejects(new Parse.File('big.bin', { base64: big.toString('base64') }).save(),
      (error) => error.message === 'request entity too large');
  });

  test('a bad name is refused', async () => {
    await login();
    await rejectsWith(new Parse.File('bad!name.txt', { base64: b64('x') }).save(),
      Parse.Error.INVALID_FILE_NAME, 'Filename contains invalid characters.');
  });

  test('without a session an upload is refused', async () => {
    await Parse.User.logOut();
    await rejectsWith(new Parse.File('anon.txt', { base64: b64('x') }).save(),
      Parse.Error.FILE_SAVE_ERROR, 'File upload by public is disabled.');
  });
});
