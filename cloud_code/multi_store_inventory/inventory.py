"""Inventory rows (one per store and product) and the stock movements the
transactions and orders make.

Every change of a quantity is one atomic database update: a decrease is
conditional on the stored quantity still covering it (``where`` on
``cloud.update``, or ``req.condition`` for a client's own PUT), so no
interleaving of requests can take a quantity below zero. ``Product.stock``
(the total over all stores) and ``Inventory.lowStock`` are summaries,
recomputed after each change from the rows themselves."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

from .stores import require_store_access, store_acl

SUMMARY = "inventorySummary"  # context flag of the summary's own writes


def _pointers(store_id: str, product_id: str) -> dict:
    return {"store": cloud.pointer("Store", store_id), "product": cloud.pointer("Product", product_id)}


async def find_row(store_id: str, product_id: str) -> dict | None:
    return await cloud.first("Inventory", _pointers(store_id, product_id), master=True)


def insufficient(store: str, product: str) -> cloud.Error:
    return common.invalid(f"Insufficient stock of product {product} in store {store}")


# ------------------------------------------------------------------ movements

async def take(store_id: str, product_id: str, quantity: float) -> dict:
    """Removes stock atomically; 142 when the store has too little."""
    row = await find_row(store_id, product_id)
    if row is None:
        raise insufficient(store_id, product_id)
    try:
        return await cloud.update("Inventory", row["objectId"], {"quantity": {"__op": "Increment",
                                                                              "amount": -quantity}},
                                  where={"quantity": {"$gte": quantity}}, master=True)
    except cloud.Error as exc:
        if exc.code == cloud.Error.OBJECT_NOT_FOUND:
            raise insufficient(store_id, product_id) from None
        raise


async def give(store_id: str, product_id: str, quantity: float) -> dict:
    """Adds stock atomically, creating the store's row for the product when
    it has none (one creator at a time per store and product)."""
    async with common.lock(f"inventory:{store_id}:{product_id}"):
        row = await find_row(store_id, product_id)
        if row is None:
            return await cloud.create("Inventory", {**_pointers(store_id, product_id), "quantity": quantity},
                                      master=True)
    return await cloud.update("Inventory", row["objectId"], {"quantity": {"__op": "Increment",
                                                                          "amount": quantity}}, master=True)


# ------------------------------------------------------------------ hooks

@cloud.before_save("Inventory")
async def check_inventory(req) -> None:
    creating = req.original is None
    if req.master and not creating:
        return  # this app's own movements: guarded in the write itself
    if not req.master:
        common.keep(req, "store", "product")
        common.server_managed(req, "lowStock")
        if not creating and common.changed(req, "ACL"):
            raise common.forbidden("ACL is maintained by the server")
    if creating:
        store = await common.reference(req.object, "store", "Store", required=True)
        product = await common.reference(req.object, "product", "Product", required=True)
    common.number(req.object, "quantity", required=True)
    common.number(req.object, "threshold")
    if not creating:
        common.guard_decrease(req, "quantity")
        return
    await require_store_access(req, store["objectId"])
    if await find_row(store["objectId"], product["objectId"]) is not None:
        raise cloud.Error(cloud.Error.DUPLICATE_VALUE, "This store already has an inventory row for this product")
    if not req.master or "ACL" not in req.object:
        req.object["ACL"] = store_acl(store["objectId"])


@cloud.after_save("Inventory")
async def summarize_after_save(req) -> None:
    if not req.context.get(SUMMARY):
        await refresh(common.pointer_id(req.object.get("product"), "Product"))


@cloud.after_delete("Inventory")
async def summarize_after_delete(req) -> None:
    await refresh(common.pointer_id(req.object.get("product"), "Product"))


async def refresh(product_id: str | None) -> None:
    """Recomputes a product's total and its rows' low-stock flags from the
    rows. Runs after every change, one at a time per product, so the last
    run always sees every committed change."""
    if not product_id:
        return
    async with common.lock(f"product:{product_id}"):
        rows = await common.find_all("Inventory", {"product": cloud.pointer("Product", product_id)})
        for row in rows:
            low = row.get("quantity", 0) < (row.get("threshold") or 0)
            if bool(row.get("lowStock")) != low:
                await cloud.update("Inventory", row["objectId"], {"lowStock": low}, master=True,
                                   context={SUMMARY: True})
        total = sum(row.get("quantity", 0) for row in rows)
        product = await cloud.first("Product", {"objectId": product_id}, master=True)
        if product is not None and product.get("stock") != total:
            await cloud.update("Product", product_id, {"stock": total}, master=True)


@cloud.define("productStock", validator={"require_user": True,
                                         "fields": {"productId": {"type": str, "required": True}}})
async def product_stock(req) -> dict:
    """One product's stock in every store the caller may see (admins: all;
    a manager: their own store) and the total of those."""
    product = await cloud.get("Product", req.params["productId"], user=req.user)
    rows = await cloud.find("Inventory", {"product": cloud.pointer(product)}, include="store", order="createdAt",
                            limit=common.PAGE, user=req.user)
    stores = [{"store": row["store"], "quantity": row.get("quantity", 0), "lowStock": bool(row.get("lowStock"))}
              for row in rows]
    return {"product": product, "total": sum(s["quantity"] for s in stores), "stores": stores}
