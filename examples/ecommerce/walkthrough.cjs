// The e-commerce storefront's integration flow with the Parse JS SDK (node):
// login, browse products, add to cart, place order, and the order's status
// changes arriving live.
//
//   bapp serve --app ecommerce --admin-username admin --admin-password change-me
//   cd examples/ecommerce && npm install && node walkthrough.cjs
//   (or, in a bapp checkout: NODE_PATH=tests/compat/node_modules node examples/ecommerce/walkthrough.cjs)
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
  console.log(`E-commerce storefront at ${URL}`);

  console.log('1. The admin logs in and adds a product with two SKUs');
  const admin = await Parse.User.logIn(ADMIN[0], ADMIN[1]);
  const asAdmin = { sessionToken: admin.getSessionToken() };
  const tee = await new Parse.Object('Product').save({ name: `Tee ${RUN}`, price: 20, description: 'Cotton' }, asAdmin);
  const small = await new Parse.Object('SKU').save({ product: tee, variation: 'S', stock: 5 }, asAdmin);
  const large = await new Parse.Object('SKU').save({ product: tee, variation: 'L', stock: 1 }, asAdmin);
  await refused(142, new Parse.Object('Product').save({ name: 'Free', price: -1 }, asAdmin), 'a negative price is refused');

  console.log('2. A shopper signs up (now the current user) and creates a profile');
  const alice = await Parse.User.signUp(`alice_${RUN}`, 'pw', { address: '1 Main St' });
  await refused(125, new Parse.Object('Customer').save({ name: 'Alice', email: 'alice-at-example' }),
    'a malformed email is refused');
  const profile = await new Parse.Object('Customer').save({ name: 'Alice', email: `alice_${RUN}@example.com` });
  check(profile.get('user').id === alice.id, 'the profile belongs to alice');

  console.log('3. Browse products');
  const [listed] = await new Parse.Query('Product').equalTo('name', `Tee ${RUN}`).find();
  check(listed.get('price') === 20, 'the tee is listed at 20');
  const variations = await new Parse.Query('SKU').equalTo('product', listed).ascending('variation').find();
  check(variations.map((s) => `${s.get('variation')}x${s.get('stock')}`).join() === 'Lx1,Sx5', 'its SKUs: L x1, S x5');

  console.log('4. Add to cart');
  const cart = new Parse.Object('Cart');
  cart.add('items', small);
  cart.add('items', small);
  await cart.save();
  check(cart.get('total') === 40, 'two S tees: the server totals 40');
  cart.add('items', large);
  await cart.save();
  check(cart.get('total') === 60, 'one L tee more: 60');

  console.log('5. Place the order from the cart, and watch it');
  const myOrders = await new Parse.Query('Order').equalTo('user', alice).subscribe();
  const updates = feed(myOrders, 'update');
  const order = await new Parse.Object('Order').save({ cart, total: 1 });
  check(order.get('total') === 60 && order.get('status') === 'pending',
    "order confirmed at 60 (the client's 1 was ignored)");
  await Promise.all([small.fetch(), large.fetch(), cart.fetch()]);
  check(small.get('stock') === 3 && large.get('stock') === 0, 'SKU stock went to S x3, L x0');
  check(cart.get('items').length === 0, 'the cart is empty again');
  await refused(142, new Parse.Object('Order').save({ items: [large] }), 'the sold-out L tee cannot be ordered again');

  console.log('6. Customers see only their own orders and profile');
  const bob = await Parse.User.signUp(`bob_${RUN}`, 'pw');
  const asBob = { sessionToken: bob.getSessionToken() };
  check((await new Parse.Query('Order').find(asBob)).length === 0, 'bob sees no orders');
  check((await new Parse.Query('Customer').find(asBob)).length === 0, 'bob sees no profiles');
  await refused(101, new Parse.Query('Order').get(order.id, asBob), "bob cannot open alice's order");

  console.log("7. The admin moves the order along; alice's app hears each step live");
  for (const status of ['paid', 'shipped']) {
    await order.save({ status }, asAdmin);
    check((await updates.next()).get('status') === status, `alice saw "${status}" live`);
  }
  await refused(142, order.save({ status: 'teleported' }, asAdmin), 'a status outside the fixed set is refused');

  await Parse.LiveQuery.close();
  console.log('done');
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
