// The multi-store inventory app's integration flow with the Parse JS SDK
// (node): login, view a store's inventory, record transactions, update a
// quantity, and each store's dashboard receiving its stock changes live.
//
//   bapp serve --app multi_store_inventory --admin-username admin --admin-password change-me
//   cd examples/multi_store_inventory && npm install && node walkthrough.cjs
//   (or, in a bapp checkout: NODE_PATH=tests/compat/node_modules node examples/multi_store_inventory/walkthrough.cjs)
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

function movement(store, product, quantity, transactionType, extra = {}) {
  const tx = new Parse.Object('Transaction');
  tx.set({ store, product, quantity, transactionType, ...extra });
  return tx;
}

async function main() {
  console.log(`Multi-store inventory at ${URL}`);

  console.log('1. Two managers sign up; the admin logs in and sets up their stores and a product');
  const northManager = await Parse.User.signUp(`north_${RUN}`, 'pw');
  const asNorth = { sessionToken: northManager.getSessionToken() };
  const southManager = await Parse.User.signUp(`south_${RUN}`, 'pw');
  const asSouth = { sessionToken: southManager.getSessionToken() };
  const admin = await Parse.User.logIn(ADMIN[0], ADMIN[1]);
  const asAdmin = { sessionToken: admin.getSessionToken() };
  const north = await new Parse.Object('Store').save({ name: `North ${RUN}`, location: 'Oslo', manager: northManager }, asAdmin);
  const south = await new Parse.Object('Store').save({ name: `South ${RUN}`, location: 'Bergen', manager: southManager }, asAdmin);
  const widget = await new Parse.Object('Product').save({ name: `Widget ${RUN}`, sku: `W-${RUN}`, price: 2.5 }, asAdmin);
  await refused(142, new Parse.Object('Product').save({ name: 'Free', price: -1 }, asAdmin), 'a negative price is refused');

  console.log("2. Each manager's dashboard subscribes to its inventory");
  const northLive = await new Parse.Query('Inventory').subscribe(asNorth.sessionToken);
  const southLive = await new Parse.Query('Inventory').subscribe(asSouth.sessionToken);
  const northCreated = feed(northLive, 'create');
  const northUpdated = feed(northLive, 'update');
  const southCreated = feed(southLive, 'create');

  console.log('3. North records a delivery; only north hears it');
  await movement(north, widget, 10, 'in', { note: 'delivery' }).save(null, asNorth);
  check((await northCreated.next()).get('quantity') === 10, "north's dashboard saw its new row: 10 units");
  await southCreated.none("south's dashboard heard nothing");

  console.log("4. View the store's inventory and update a quantity");
  const [row] = await new Parse.Query('Inventory').equalTo('store', north).equalTo('product', widget).find(asNorth);
  check(row.get('quantity') === 10, 'GET /classes/Inventory (by store): 10 units');
  await row.save({ quantity: 12, threshold: 3 }, asNorth);
  check((await northUpdated.next()).get('quantity') === 12, 'a stock count of 12 arrived live');

  console.log('5. Transfer to south, and a removal the store cannot cover');
  await movement(north, widget, 5, 'transfer', { toStore: south }).save(null, asNorth);
  check((await northUpdated.next()).get('quantity') === 7, 'north went to 7 live');
  check((await southCreated.next()).get('quantity') === 5, "south's dashboard saw its 5 units arrive");
  await refused(142, movement(north, widget, 8, 'out').save(null, asNorth), 'taking 8 of 7 is refused');
  await refused(119, movement(south, widget, 1, 'out').save(null, asNorth), "north cannot move south's stock");
  await refused(101, new Parse.Query('Inventory').get(row.id, asSouth), "south cannot open north's row");

  console.log('6. An order is fulfilled from stock');
  const order = await new Parse.Object('Order').save({ store: north, product: widget, quantity: 2 }, asNorth);
  check(order.get('status') === 'pending', 'a new order is pending');
  const fulfilled = await Parse.Cloud.run('fulfillOrder', { orderId: order.id }, asNorth);
  check(fulfilled.get('status') === 'fulfilled', 'fulfillOrder fulfilled it');
  check((await northUpdated.next()).get('quantity') === 5, 'and its 2 units left north live');

  console.log('7. The admin sees every store');
  const stock = await Parse.Cloud.run('productStock', { productId: widget.id }, asAdmin);
  check(stock.total === 10 && stock.stores.length === 2, 'productStock: 5 + 5 = 10 in two stores');

  await Parse.LiveQuery.close();
  console.log('done');
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
