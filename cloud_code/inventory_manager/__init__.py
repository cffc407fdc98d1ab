"""Cloud code of the inventory manager app (``bapp serve --app
inventory_manager``).

- ``catalogue``: SKU and Location validation;
- ``stock``: per-location Inventory rows (guarded so a quantity never goes
  below zero), the SKU totals and the ``skuStock`` function (a SKU's stock
  at every location and its total, in one call);
- ``alerts``: low-stock alerts owned by their creator and the notifications
  they record, once per drop below the threshold;
- ``common``: validation and role helpers."""
