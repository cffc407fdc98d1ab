"""Purchase orders: manual ones, automatic ones, receiving, and the
Automation rules.

Automatic reordering. After every change of an inventory row whose quantity
is below its threshold, a purchase order to the product's supplier is
raised (``automated``, pointing at the row), unless one raised for that row
is still open: the row's ``reorderPending`` flag is claimed with a
conditional update first, so concurrent changes raise one order, never two.
Quantity: the deciding rule's ``quantity``, else the row's
``reorderQuantity``, else enough to bring the stock back to twice the
threshold; amount: quantity x the product's price. Receiving or cancelling
the order (or deleting it) releases the claim; after a receipt the row is
checked again at once, after a cancellation at its next change (to stop
automatic orders for a product, switch them off with a rule).

Automation rules (trigger ``inventory.low_stock``, action
``create_purchase_order``) switch this on or off: a rule for the product
beats a rule for its supplier, which beats a rule for neither (global);
within one level a disabled rule wins. Without any rule it is on.

Receiving. Moving a purchase order to ``received`` adds each line's quantity
to stock. Status changes are conditional on the status the change was
based on, so only one of several concurrent changes happens, and the stock
is added exactly once."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

from . import stock

STATUSES = ("pending", "sent", "received", "cancelled")
OPEN = ("pending", "sent")
TRIGGERS = ("inventory.low_stock",)
ACTIONS = ("create_purchase_order",)
INTERNAL = stock.INTERNAL


# ------------------------------------------------------------------ automation rules

async def deciding_rule(product: dict) -> tuple[bool, dict | None]:
    """Whether automatic reordering is on for ``product``, and the rule that
    decided it (None: no rule, the default, on)."""
    rules = await common.find_all("Automation", {"trigger": TRIGGERS[0], "action": ACTIONS[0]})
    supplier_id = common.pointer_id(product.get("supplier"), "Supplier")

    def level(rule: dict) -> int:
        if rule.get("product") is not None:
            return 3 if common.pointer_id(rule["product"], "Product") == product["objectId"] else 0
        if rule.get("supplier") is not None:
            return 2 if common.pointer_id(rule["supplier"], "Supplier") == supplier_id else 0
        return 1

    ranked = [(level(rule), rule) for rule in rules]
    best = max((rank for rank, _ in ranked), default=0)
    if best == 0:
        return True, None
    chosen = [rule for rank, rule in ranked if rank == best]
    off = [rule for rule in chosen if rule.get("active") is False]
    return (False, off[0]) if off else (True, chosen[0])


@cloud.before_save("Automation")
async def check_automation(req) -> None:
    common.choice(req.object, "trigger", TRIGGERS, required=True)
    common.choice(req.object, "action", ACTIONS, required=True)
    if req.object.get("active") is not None and not isinstance(req.object["active"], bool):
        raise common.invalid("active must be a boolean")
    common.number(req.object, "quantity", positive=True)
    product = await common.reference(req.object, "product", "Product")
    supplier = await common.reference(req.object, "supplier", "Supplier")
    if product and supplier and common.pointer_id(product.get("supplier"), "Supplier") != supplier["objectId"]:
        raise common.invalid("product is not supplied by supplier")
    if not req.master:
        common.server_managed(req, "lastRunAt")


# ------------------------------------------------------------------ automatic orders

def reorder_quantity(row: dict, rule: dict | None) -> float:
    if rule and rule.get("quantity"):
        return rule["quantity"]
    if row.get("reorderQuantity"):
        return row["reorderQuantity"]
    return max(2 * (row.get("threshold") or 0) - row.get("quantity", 0), 1)


async def check_reorder(row_id: str) -> None:
    """Keeps ``lowStock`` true to the row and raises the automatic purchase
    order when the row is low and has none open."""
    async with common.lock(f"reorder:{row_id}"):
        row = await cloud.first("Inventory", {"objectId": row_id}, master=True)
        if row is None:
            return
        low = row.get("quantity", 0) < (row.get("threshold") or 0)
        if bool(row.get("lowStock")) != low:
            await cloud.update("Inventory", row_id, {"lowStock": low}, master=True, context={INTERNAL: True})
        if not low or row.get("reorderPending"):
            return
        product = await cloud.get("Product", row["product"]["objectId"], master=True)
        enabled, rule = await deciding_rule(product)
        if not enabled:
            return
        try:
            await cloud.update("Inventory", row_id, {"reorderPending": True}, where={"reorderPending": {"$ne": True}},
                               master=True, context={INTERNAL: True})
        except cloud.Error as exc:
            if exc.code == cloud.Error.OBJECT_NOT_FOUND:
                return  # an order for this row is already open
            raise
        try:
            await _raise_order(row, product, rule)
        except Exception:
            await release(row_id, recheck=False)
            raise


async def _raise_order(row: dict, product: dict, rule: dict | None) -> dict:
    quantity = reorder_quantity(row, rule)
    price = product.get("price") or 0
    order = await cloud.create("PurchaseOrder", {
        "supplier": product["supplier"],
        "products": [{"product": cloud.pointer(product), "quantity": quantity, "unitPrice": price}],
        "totalAmount": round(quantity * price, 2), "orderDate": common.now(), "status": "pending",
        "automated": True, "inventory": cloud.pointer("Inventory", row["objectId"]),
    }, master=True)
    if rule is not None:
        await cloud.update("Automation", rule["objectId"], {"lastRunAt": common.now()}, master=True)
    return order


async def release(row_id: str, *, recheck: bool) -> None:
    """Frees the row for its next automatic order; with ``recheck`` the row
    is checked again at once (after a receipt), else at its next change."""
    context = {} if recheck else {INTERNAL: True}
    try:
        await cloud.update("Inventory", row_id, {"reorderPending": False}, where={"reorderPending": True},
                           master=True, context=context)
    except cloud.Error as exc:
        if exc.code != cloud.Error.OBJECT_NOT_FOUND:
            raise


@cloud.after_save("Inventory")
async def after_inventory_save(req) -> None:
    await stock.mirror(common.pointer_id(req.object.get("product"), "Product"))
    if not req.context.get(INTERNAL):
        await check_reorder(req.object["objectId"])


@cloud.after_delete("Inventory")
async def after_inventory_delete(req) -> None:
    await stock.mirror(common.pointer_id(req.object.get("product"), "Product"))


# ------------------------------------------------------------------ purchase orders

@cloud.before_save("PurchaseOrder")
async def check_purchase_order(req) -> None:
    creating = req.original is None
    status = common.choice(req.object, "status", STATUSES)
    if creating:
        await _check_new(req, status)
        return
    if not req.master:
        common.keep(req, "supplier", "products", "automated", "inventory", "createdBy", "totalAmount")
    previous = req.original.get("status")
    if common.changed(req, "status") or not req.master:
        if previous not in OPEN:
            raise common.forbidden(f"A {previous} purchase order cannot be changed")
        # Only if nobody moved it on meanwhile: stock is received once.
        req.condition = {"status": previous}
    if status == "received" and common.changed(req, "status"):
        req.object["receivedAt"] = common.now()


async def _check_new(req, status: str | None) -> None:
    supplier = await common.reference(req.object, "supplier", "Supplier", required=True)
    if req.object.get("orderDate") is None:
        req.object["orderDate"] = common.now()
    if req.master:
        return
    if status not in (None, "pending", "sent"):
        raise common.forbidden("A new purchase order starts as pending or sent")
    common.server_managed(req, "automated", "inventory", "receivedAt")
    req.object["products"], req.object["totalAmount"] = await _priced_lines(req.object.get("products"), supplier)
    req.object["createdBy"] = cloud.pointer("_User", req.user["objectId"])


async def _priced_lines(lines, supplier: dict) -> tuple[list[dict], float]:
    """The order's lines with the products' prices, and their total: the
    amount is the server's, whatever the client sent."""
    if not isinstance(lines, list) or not lines:
        raise common.invalid("products must be a non-empty array of {product, quantity} lines")
    priced, total = [], 0.0
    for line in lines:
        if not isinstance(line, dict) or "product" not in line:
            raise common.invalid("products must be a non-empty array of {product, quantity} lines")
        product = await common.reference(line, "product", "Product", required=True)
        quantity = common.number(line, "quantity", required=True, positive=True)
        if common.pointer_id(product.get("supplier"), "Supplier") != supplier["objectId"]:
            raise common.invalid(f"product {product['objectId']} is not supplied by this supplier")
        price = product.get("price") or 0
        priced.append({"product": cloud.pointer(product), "quantity": quantity, "unitPrice": price})
        total += quantity * price
    return priced, round(total, 2)


@cloud.after_save("PurchaseOrder")
async def after_purchase_order_save(req) -> None:
    before = (req.original or {}).get("status")
    after = req.object.get("status")
    if req.original is None or before == after or before not in OPEN:
        return
    if after == "received":
        for line in req.object.get("products") or []:
            product_id = common.pointer_id(line.get("product"), "Product") if isinstance(line, dict) else None
            if product_id and isinstance(line.get("quantity"), (int, float)):
                await stock.add(product_id, line["quantity"])
    if after in ("received", "cancelled"):
        await _release_for(req.object, recheck=after == "received")


@cloud.after_delete("PurchaseOrder")
async def after_purchase_order_delete(req) -> None:
    if req.object.get("status") in OPEN:
        await _release_for(req.object, recheck=False)


async def _release_for(order: dict, *, recheck: bool) -> None:
    row_id = common.pointer_id(order.get("inventory"), "Inventory")
    if row_id and order.get("automated"):
        await release(row_id, recheck=recheck)
