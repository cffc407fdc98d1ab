// The e-commerce admin console's integration flow with the Parse JS SDK
// (node): login, view products, place an order, log access, plus the live
// parts: an admin dashboard watching stock and a customer watching her order.
//
//   bapp serve --app ecommerce_admin --admin-username admin --admin-password change-me
//   cd examples/ecommerce_admin && npm install && node walkthrough.cjs
//   (or, in a bapp checkout: NODE_PATH=tests/compat/node_modules node examples/ecommerce_admin/walkthrough.cjs)
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

/** Queues a subscription's `name` events; `next()` resolves with the next one. */
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
  };
}

async function main() {
  console.log(`E-commerce admin console at ${URL}`);

  console.log('1. The admin logs in and stocks the catalogue');
  const admin = await Parse.User.logIn(ADMIN[0], ADMIN[1]);
  const asAdmin = { sessionToken: admin.getSessionToken() };
  const mug = await new Parse.Object('Product').save({ name: `Mug ${RUN}`, price: 9.5, category: 'kitchen' }, asAdmin);
  const lamp = await new Parse.Object('Product').save({ name: `Lamp ${RUN}`, price: 30, category: 'home' }, asAdmin);
  const mugStock = await new Parse.Object('Inventory').save({ product: mug, stock: 3 }, asAdmin);
  await new Parse.Object('Inventory').save({ product: lamp, stock: 5 }, asAdmin);
  await refused(142, new Parse.Object('Inventory').save({ product: lamp, stock: -2 }, asAdmin),
    'a negative stock is refused');

  console.log('   ... and opens a stock dashboard (LiveQuery on Inventory)');
  const dashboard = new Parse.LiveQueryClient({
    applicationId: APP_ID, serverURL: URL.replace(/^http/, 'ws'), sessionToken: admin.getSessionToken(),
  });
  dashboard.open();
  const stockSubscription = dashboard.subscribe(new Parse.Query('Inventory').equalTo('product', mug),
    admin.getSessionToken());
  await new Promise((resolve) => stockSubscription.on('open', resolve));
  const stockUpdates = feed(stockSubscription, 'update');

  console.log('2. A customer signs up (and is now the current user)');
  const alice = await Parse.User.signUp(`alice_${RUN}`, 'pw', { email: `alice_${RUN}@example.com` });
  await refused(119, new Parse.Object('Product').save({ name: 'Mine', price: 1 }), 'customers cannot create products');

  console.log('3. The customer views products');
  const listed = await new Parse.Query('Product').contains('name', RUN).ascending('name').find();
  check(listed.map((p) => p.get('name')).join() === `Lamp ${RUN},Mug ${RUN}`, 'both products are listed');
  const opened = await new Parse.Query('Product').get(mug.id); // query.get: recorded in AccessLog
  check(opened.get('price') === 9.5, 'query.get(id) opens the mug');
  await lamp.fetch(); // object.fetch(): recorded too
  check(lamp.get('price') === 30, 'lamp.fetch() opens the lamp');
  const stock = await new Parse.Query('Inventory').equalTo('product', mug).first();
  check(stock.get('stock') === 3, 'the customer sees 3 mugs in stock');

  console.log('4. The customer places an order and watches it live');
  const myOrders = feed(await new Parse.Query('Order').equalTo('user', alice).subscribe(), 'update');
  const order = new Parse.Object('Order');
  order.set('products', [mug, mug]);
  order.set('totalAmount', 0.01);
  await order.save();
  check(order.get('totalAmount') === 19 && order.get('status') === 'pending',
    "the server priced it at 19 (the client's 0.01 was ignored)");
  const live = await stockUpdates.next();
  check(live.get('stock') === 1, 'the admin dashboard saw mug stock drop to 1 live');
  await refused(142, new Parse.Object('Order').save({ products: [mug, mug] }), 'a second order for 2 mugs is refused');

  console.log('5. The app logs the access');
  const entry = await new Parse.Object('AccessLog').save({ product: mug, action: 'order' });
  check(Boolean(entry.id), `AccessLog ${entry.id} recorded`);

  console.log('6. Customers see only their own orders');
  check((await new Parse.Query('Order').find()).map((o) => o.id).join() === order.id, 'alice sees her order');
  const bob = await Parse.User.signUp(`bob_${RUN}`, 'pw');
  const asBob = { sessionToken: bob.getSessionToken() };
  check((await new Parse.Query('Order').find(asBob)).length === 0, 'bob sees none of them');
  await refused(101, new Parse.Query('Order').get(order.id, asBob), "bob cannot open alice's order");

  console.log('7. The admin reviews the access log and ships the order');
  const log = await new Parse.Query('AccessLog').equalTo('user', alice).ascending('createdAt').find(asAdmin);
  check(log.map((e) => e.get('action')).join() === 'view,view,order', "the log holds alice's two views and her order");
  await order.save({ status: 'shipped' }, asAdmin);
  check((await myOrders.next()).get('status') === 'shipped', 'alice saw her order shipped live');
  await refused(142, order.save({ status: 'teleported' }, asAdmin), 'a status outside the fixed set is refused');

  await Parse.LiveQuery.close();
  dashboard.close();
  console.log('done');
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
