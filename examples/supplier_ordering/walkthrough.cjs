// The supplier ordering app's integration flow with the Parse JS SDK (node):
// login, check inventory levels, the purchase order raised automatically
// when stock drops below its threshold (arriving live on the buyer's
// dashboard), viewing and receiving purchase orders, and an Automation rule.
//
//   bapp serve --app supplier_ordering --admin-username admin --admin-password change-me
//   cd examples/supplier_ordering && npm install && node walkthrough.cjs
//   (or, in a bapp checkout: NODE_PATH=tests/compat/node_modules node examples/supplier_ordering/walkthrough.cjs)
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
  console.log(`Supplier ordering at ${URL}`);

  console.log('1. A buyer and a clerk sign up; the admin logs in and gives them their roles');
  const buyer = await Parse.User.signUp(`buyer_${RUN}`, 'pw');
  const asBuyer = { sessionToken: buyer.getSessionToken() };
  const clerk = await Parse.User.signUp(`clerk_${RUN}`, 'pw');
  const asClerk = { sessionToken: clerk.getSessionToken() };
  const admin = await Parse.User.logIn(ADMIN[0], ADMIN[1]);
  const asAdmin = { sessionToken: admin.getSessionToken() };
  await Parse.Cloud.run('assignRole', { userId: buyer.id, role: 'manager' }, asAdmin);
  await Parse.Cloud.run('assignRole', { userId: clerk.id, role: 'staff' }, asAdmin);

  console.log('2. The buyer sets up a supplier, a product and its inventory');
  const acme = await new Parse.Object('Supplier').save({ name: `Acme ${RUN}`, contactEmail: 'sales@acme.example' }, asBuyer);
  const nut = await new Parse.Object('Product').save({ name: `Nut ${RUN}`, price: 0.25, supplier: acme }, asBuyer);
  const row = await new Parse.Object('Inventory').save({ product: nut, quantity: 20, threshold: 10 }, asBuyer);
  await refused(142, new Parse.Object('Product').save({ name: 'Odd', price: -1, supplier: acme }, asBuyer),
    'a negative price is refused');

  console.log("3. The buyer's dashboard listens for automatic purchase orders");
  const live = await new Parse.Query('PurchaseOrder').equalTo('supplier', acme).equalTo('automated', true)
    .subscribe(asBuyer.sessionToken);
  const raised = feed(live, 'create');

  console.log('4. Check inventory levels; stock drops below the threshold');
  const level = await new Parse.Query('Inventory').get(row.id, asClerk);
  check(level.get('quantity') === 20, 'GET /classes/Inventory: 20 units');
  row.increment('quantity', -14);
  await row.save(null, asBuyer);
  const order = await raised.next();
  const [line] = order.get('products');
  check(line.quantity === 14 && order.get('totalAmount') === 3.5, 'a purchase order for 14 nuts (3.50) arrived live');
  row.increment('quantity', -1);
  await row.save(null, asBuyer);
  await raised.none('never a second one while it is open');

  console.log('5. View and receive purchase orders');
  const listed = await new Parse.Query('PurchaseOrder').equalTo('supplier', acme).find(asClerk);
  check(listed.length === 1 && listed[0].get('status') === 'pending', 'the clerk sees the pending order');
  await order.save({ status: 'received' }, asBuyer);
  await row.fetch(asBuyer);
  check(row.get('quantity') === 19 && row.get('lowStock') === false, 'receiving added the 14 nuts: 19 in stock');
  await refused(119, order.save({ status: 'cancelled' }, asBuyer), 'a received order cannot change');

  console.log('6. An automation rule switches automatic orders off for this product');
  await new Parse.Object('Automation').save({
    trigger: 'inventory.low_stock', action: 'create_purchase_order', product: nut, active: false,
  }, asAdmin);
  await row.save({ quantity: 3 }, asBuyer);
  await raised.none('stock is low again, but no purchase order is raised');

  console.log('7. The clerk places an order and sees only their own');
  const mine = await new Parse.Object('Order').save({ supplier: acme, product: nut, quantity: 50 }, asClerk);
  const seen = await new Parse.Query('Order').find(asClerk);
  check(seen.length === 1 && seen[0].id === mine.id && mine.get('status') === 'pending', "just the clerk's order, pending");

  await Parse.LiveQuery.close();
  console.log('done');
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
