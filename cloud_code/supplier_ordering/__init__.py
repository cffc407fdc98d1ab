"""Cloud code of the supplier ordering app (``bapp serve --app
supplier_ordering``).

- ``catalogue``: Supplier, Product and Order validation;
- ``stock``: Inventory rows (guarded so a quantity never goes below zero),
  adding received stock, Product.stock as the mirror of the rows;
- ``purchasing``: purchase orders (manual ones priced by the server,
  automatic ones raised when stock drops below its threshold, at most one
  open per inventory row), receiving them, and the Automation rules that
  switch the automatic ones on or off per product or supplier;
- ``common``: validation and role helpers."""
