// The inventory manager app's integration flow with the Parse JS SDK (node):
// login, view SKUs, update inventory, set an alert, and its low-stock
// notification arriving live (once), plus a SKU's stock at every location.
//
//   bapp serve --app inventory_manager --admin-username admin --admin-password change-me
//   cd examples/inventory_manager && npm install && node walkthrough.cjs
//   (or, in a bapp checkout: NODE_PATH=tests/compat/node_modules node examples/inventory_manager/walkthrough.cjs)
//
// Settings (environment): BAPP_URL (http://127.0.0.1:1337/parse), BAPP_APP_ID
// (bapp), BAPP_ADMIN_USERNAME (admin), BAPP_ADMIN_PASSWORD (change-me). No
// master key; unique names per run, so it can be run again. Exits non-zero at
// the first answer that is not what the app promises.

'use strict';

const Parse = require('parse/node');

const URL = (process.env.BAPP_URL || 'http://127.0.0.1:1337/parse').replace(/\/$/, '');
const APP_ID = process.env.BAPP_APP_ID || 'bapp';
const ADMIN = [process.env.BAPP_ADMIN_USERNAME || 'admin', process.env.BAPP_ADMIN_PASSWORD || 'change-me'];
const RUN = Date.now().toString(36);
const WAIT_MS = 5000;
const QUIET_MS = 500;

Parse.initialize(APP_ID);
Parse.serverURL = URL;
Parse.User.enableUnsafeCurrentUser();

function check(condition, what) {
  if (!condition) throw new Error(`FAILED: ${what}`);
  console.log(`  ok: ${what}`);
}

async function refused(code, promise, what) {
  try {
    await promise;
  } catch (error) {
    check(error.code === code, `${what} (${error.code} ${error.message})`);
    return error.message;
  }
  throw new Error(`FAILED: ${what}: it was accepted`);
}

/** Queues a subscription's `name` events; `next()` resolves with the next one, `none()` proves silence. */
function feed(subscription, name) {
  const queued = [];
  const waiting = [];
  subscription.on(name, (object) => (waiting.length ? waiting.shift()(object) : queued.push(object)));
  return {
    next() {
      if (queued.length) return Promise.resolve(queued.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`FAILED: no LiveQuery ${name} event`)), WAIT_MS);
        waiting.push((object) => { clearTimeout(timer); resolve(object); });
      });
    },
    async none(what) {
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      check(queued.length === 0, what);
    },
  };
}

async function main() {
  console.log(`Inventory manager at ${URL}`);

  console.log('1. A keeper and alice sign up; the admin logs in, adds locations and makes the keeper a manager');
  const keeper = await Parse.User.signUp(`keeper_${RUN}`, 'pw');
  const asKeeper = { sessionToken: keeper.getSessionToken() };
  const alice = await Parse.User.signUp(`alice_${RUN}`, 'pw');
  const asAlice = { sessionToken: alice.getSessionToken() };
  const admin = await Parse.User.logIn(ADMIN[0], ADMIN[1]);
  const asAdmin = { sessionToken: admin.getSessionToken() };
  const north = await new Parse.Object('Location').save({ name: `North ${RUN}`, address: '1 Fjord Rd' }, asAdmin);
  const south = await new Parse.Object('Location').save({ name: `South ${RUN}` }, asAdmin);
  await Parse.Cloud.run('assignRole', { userId: keeper.id, role: 'manager' }, asAdmin);

  console.log('2. The keeper records a SKU at both locations');
  const bolt = await new Parse.Object('SKU').save({ name: `Bolt ${RUN}`, identifier: `B-${RUN}` }, asKeeper);
  const northRow = await new Parse.Object('Inventory').save({ sku: bolt, location: north, quantity: 10 }, asKeeper);
  await new Parse.Object('Inventory').save({ sku: bolt, location: south, quantity: 6 }, asKeeper);
  await refused(137, new Parse.Object('Inventory').save({ sku: bolt, location: south, quantity: 1 }, asKeeper),
    'a second row for the same SKU and location is refused');

  console.log('3. Alice views SKUs, sets an alert and listens for notifications');
  const [listed] = await new Parse.Query('SKU').equalTo('identifier', `B-${RUN}`).find(asAlice);
  check(listed.get('stockLevel') === 16, 'the bolt: 16 in stock');
  const alert = await new Parse.Object('Alert').save({ sku: bolt, threshold: 12 }, asAlice);
  check(alert.get('triggered') === false && alert.get('createdBy').id === alice.id, 'an armed alert owned by alice');
  const live = await new Parse.Query('Notification').subscribe(asAlice.sessionToken);
  const notes = feed(live, 'create');

  console.log('4. Stock drops below the threshold: one notification, pushed live');
  northRow.set('quantity', 4);
  await northRow.save(null, asKeeper);
  const note = await notes.next();
  check(note.get('quantity') === 10 && note.get('threshold') === 12, 'alice heard: 10 left, threshold 12');
  northRow.increment('quantity', -2);
  await northRow.save(null, asKeeper);
  await notes.none('a further drop to 8 sends nothing new');
  await northRow.save({ quantity: 9 }, asKeeper);
  await northRow.save({ quantity: 1 }, asKeeper);
  check((await notes.next()).get('quantity') === 7, 'recovered to 15 then down to 7: a second one');

  console.log('5. Only alice may change her alert');
  await refused(101, alert.save({ threshold: 1 }, asKeeper), "the keeper cannot change alice's alert");
  await alert.save({ threshold: 5 }, asAlice);
  check(alert.get('threshold') === 5, 'alice lowered her threshold');

  console.log('6. Sync across locations: one call');
  const stock = await Parse.Cloud.run('skuStock', { skuId: bolt.id }, asAlice);
  const here = Object.fromEntries(stock.locations.map((entry) => [entry.location.id, entry.quantity]));
  check(here[north.id] === 1 && here[south.id] === 6 && stock.total === 7, 'skuStock: north 1, south 6, total 7');

  await Parse.LiveQuery.close();
  console.log('done');
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
