"""Inventory rows (one per product) and the stock movements of receiving.

A client's PUT of a quantity is one atomic write, and a decrease is
conditional on the stored quantity still covering it, so concurrent
decrements never take it below zero. ``Product.stock`` mirrors the
product's rows and is recomputed after each change."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

INTERNAL = "stockBookkeeping"  # context flag of the hooks' own Inventory writes


async def find_row(product_id: str) -> dict | None:
    return await cloud.first("Inventory", {"product": cloud.pointer("Product", product_id)}, master=True)


@cloud.before_save("Inventory")
async def check_inventory(req) -> None:
    creating = req.original is None
    if req.master and not creating:
        return
    if not req.master:
        common.keep(req, "product")
        common.server_managed(req, "lowStock", "reorderPending")
    if creating:
        product = await common.reference(req.object, "product", "Product", required=True)
        if await find_row(product["objectId"]) is not None:
            raise cloud.Error(cloud.Error.DUPLICATE_VALUE, "This product already has an inventory row")
    common.number(req.object, "quantity", required=True)
    common.number(req.object, "threshold")
    common.number(req.object, "reorderQuantity")
    if not creating:
        common.guard_decrease(req, "quantity")


async def add(product_id: str, quantity: float) -> None:
    """Adds received stock atomically, creating the product's row if it has
    none (one creator at a time per product)."""
    async with common.lock(f"inventory:{product_id}"):
        row = await find_row(product_id)
        if row is None:
            await cloud.create("Inventory", {"product": cloud.pointer("Product", product_id), "quantity": quantity},
                               master=True)
            return
    await cloud.update("Inventory", row["objectId"], {"quantity": {"__op": "Increment", "amount": quantity}},
                       master=True)


async def mirror(product_id: str | None) -> None:
    """Product.stock := the total of the product's rows (one run at a time
    per product, so the last run sees every committed change)."""
    if not product_id:
        return
    async with common.lock(f"product:{product_id}"):
        rows = await common.find_all("Inventory", {"product": cloud.pointer("Product", product_id)})
        total = sum(row.get("quantity", 0) for row in rows)
        product = await cloud.first("Product", {"objectId": product_id}, master=True)
        if product is not None and product.get("stock") != total:
            await cloud.update("Product", product_id, {"stock": total}, master=True)
