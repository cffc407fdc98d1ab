"""Cloud code of the e-commerce admin console (``bapp serve --app ecommerce_admin``).

What the server enforces on top of the CLPs in ``schemas/ecommerce_admin.json``:

- Products: a name and a non-negative price (142 otherwise); deleting a
  product deletes its Inventory record.
- Inventory: one record per existing product, stock a non-negative whole
  number (142), a second record for a product is 137.
- Orders (``POST /classes/Order``): placed for the caller (119 otherwise);
  ``products`` (a repeated pointer is one more unit) or ``product`` +
  ``quantity``; every product must exist (142). The server computes
  ``totalAmount`` (a client-sent total is ignored), sets the ACL (the
  customer reads, admins and managers read and write) and takes the units
  from Inventory atomically: a guarded decrement that never goes below zero,
  so an order that would oversell is refused (142 "Insufficient stock ...")
  and no unit is taken. Later changes may only move ``status`` within
  pending, paid, shipped, delivered, cancelled; cancelling (or deleting an
  order that was not shipped) puts the units back, exactly once.
- Access log: every product view by a signed-in user (``object.fetch()``,
  ``query.get(id)``, ``GET /classes/Product/<id>``) is recorded as an
  AccessLog by an afterFind hook; clients may also log their own access.

Modules: ``checks`` (value and reference checks), ``stock`` (atomic stock
moves), ``catalog`` (Product, Inventory, view logging), ``orders``,
``users`` (the role label)."""
