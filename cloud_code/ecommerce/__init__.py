"""Cloud code of the e-commerce storefront (``bapp serve --app ecommerce``).

What the server enforces on top of the CLPs in ``schemas/ecommerce.json``:

- Products and SKUs: public to read, written by admins; a non-negative
  price (142), a SKU's product must exist (142) and its stock is a
  non-negative whole number (142); deleting a product deletes its SKUs.
- Customer profiles (one per account, 137 for a second): created for the
  caller only (119), a well-formed email (125), readable and writable by
  the owner and admins only (ACL set by the server).
- Carts: items are SKU pointers, one per unit, that must exist (142); the
  cart total is computed by the server.
- Orders (``POST /classes/Order`` with ``cart`` or ``items``): placed for the
  caller (119 otherwise) from their own cart; the server sets ``items``,
  ``products``, ``customer`` (the caller's profile) and ``total`` (a
  client-sent total is ignored) and takes SKU stock atomically: a guarded
  decrement per SKU that never goes below zero, so an order that would
  oversell is refused (142 "Insufficient stock for SKU <id>") and nothing is
  taken. The cart is emptied once the order is saved. Admins move
  ``status`` within pending, paid, shipped, delivered, cancelled, and the
  customer sees each change live (LiveQuery on Order); cancelling puts the
  units back exactly once. A customer may withdraw (delete) a pending order,
  which also puts the units back.

Modules: ``checks`` (value, reference and ownership checks), ``stock``
(atomic SKU stock moves), ``pricing`` (items and totals), ``catalog``,
``profiles`` (users, customers, carts), ``orders``."""
