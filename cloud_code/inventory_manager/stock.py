"""Stock of each SKU at each location (one Inventory row per pair).

A client's PUT of a quantity is one atomic write, and a decrease is
conditional on the stored quantity still covering it, so concurrent
decrements never take it below zero. After every change the SKU's total
(``SKU.stockLevel``) is recomputed and its alerts are checked, one run at a
time per SKU, from the rows themselves."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

from . import alerts


@cloud.before_save("Inventory")
async def check_inventory(req) -> None:
    creating = req.original is None
    if req.master and not creating:
        return
    if not req.master:
        common.keep(req, "sku", "location")
    if creating:
        sku = await common.reference(req.object, "sku", "SKU", required=True)
        location = await common.reference(req.object, "location", "Location", required=True)
        where = {"sku": cloud.pointer(sku), "location": cloud.pointer(location)}
        if await cloud.first("Inventory", where, master=True) is not None:
            raise cloud.Error(cloud.Error.DUPLICATE_VALUE, "This location already has an inventory row for this SKU")
    common.number(req.object, "quantity", required=True)
    if not req.master:
        req.object["user"] = cloud.pointer("_User", req.user["objectId"])
        common.guard_decrease(req, "quantity")


@cloud.after_save("Inventory")
async def after_inventory_save(req) -> None:
    await refresh(common.pointer_id(req.object.get("sku"), "SKU"))


@cloud.after_delete("Inventory")
async def after_inventory_delete(req) -> None:
    await refresh(common.pointer_id(req.object.get("sku"), "SKU"))


async def refresh(sku_id: str | None) -> None:
    """The SKU's total and its alerts, from the current rows. Runs after
    every change, one at a time per SKU, so the last run sees them all."""
    if not sku_id:
        return
    async with common.lock(f"sku:{sku_id}"):
        rows = await rows_of(sku_id)
        total = sum(row.get("quantity", 0) for row in rows)
        sku = await cloud.first("SKU", {"objectId": sku_id}, master=True)
        if sku is not None and sku.get("stockLevel") != total:
            await cloud.update("SKU", sku_id, {"stockLevel": total}, master=True)
        for alert in await common.find_all("Alert", {"sku": cloud.pointer("SKU", sku_id)}):
            await alerts.evaluate(alert, rows)


async def rows_of(sku_id: str) -> list[dict]:
    return await common.find_all("Inventory", {"sku": cloud.pointer("SKU", sku_id)})


@cloud.define("skuStock", validator={"require_user": True})
async def sku_stock(req) -> dict:
    """One SKU (``skuId`` or ``identifier``): its quantity at every location
    (0 where it has no row) and the total, read as the caller."""
    sku = await _find_sku(req)
    rows = await cloud.find("Inventory", {"sku": cloud.pointer(sku)}, limit=common.PAGE, user=req.user)
    held = {common.pointer_id(row.get("location"), "Location"): row.get("quantity", 0) for row in rows}
    locations = await cloud.find("Location", {}, order="name", limit=common.PAGE, user=req.user)
    listed = [{"location": loc, "quantity": held.get(loc["objectId"], 0)} for loc in locations]
    return {"sku": sku, "total": sum(held.values()), "locations": listed}


async def _find_sku(req) -> dict:
    params = req.params
    if isinstance(params.get("skuId"), str):
        return await cloud.get("SKU", params["skuId"], user=req.user)
    if isinstance(params.get("identifier"), str):
        found = await cloud.first("SKU", {"identifier": params["identifier"]}, user=req.user)
        if found is None:
            raise cloud.Error(cloud.Error.OBJECT_NOT_FOUND, "Object not found.")
        return found
    raise common.invalid("skuId or identifier is required")
