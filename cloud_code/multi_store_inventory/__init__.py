"""Cloud code of the multi-store inventory app (``bapp serve --app
multi_store_inventory``).

- ``stores``: store/product/user validation and the per-store manager role
  that scopes every store record's ACL;
- ``inventory``: inventory rows, atomic stock movements, product totals,
  low-stock flags and the ``productStock`` function;
- ``transactions``: the in/out/transfer ledger that moves stock;
- ``orders``: store orders and the ``fulfillOrder`` function;
- ``common``: validation and role helpers."""
