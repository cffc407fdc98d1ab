"""Suppliers, products and orders: validation, and the fields the server
owns (who created an order, a product's stock)."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

ORDER_STATUSES = ("pending", "sent", "received", "cancelled")


@cloud.before_save("Supplier")
async def check_supplier(req) -> None:
    common.text(req.object, "name", required=True)
    common.email(req.object, "contactEmail")
    for key in ("contact", "phone", "address"):
        common.text(req.object, key)


@cloud.before_save("Product")
async def check_product(req) -> None:
    common.text(req.object, "name", required=True)
    if common.changed(req, "supplier"):
        await common.reference(req.object, "supplier", "Supplier", required=True)
    common.number(req.object, "price", required=True)
    if not req.master:
        # Mirrors the product's inventory rows; kept by the stock hooks.
        common.server_managed(req, "stock")


@cloud.before_save("Order")
async def check_order(req) -> None:
    if common.changed(req, "supplier"):
        await common.reference(req.object, "supplier", "Supplier")
    if common.changed(req, "product"):
        await common.reference(req.object, "product", "Product")
    common.number(req.object, "quantity")
    common.choice(req.object, "status", ORDER_STATUSES)
    items = req.object.get("items")
    if items is not None and not isinstance(items, list):
        raise common.invalid("items must be an array")
    if req.original is None and req.object.get("orderDate") is None:
        req.object["orderDate"] = common.now()
    if req.master:
        return
    if req.original is None:
        req.object["createdBy"] = cloud.pointer("_User", req.user["objectId"])
    common.keep(req, "createdBy")


# An admin makes buyers and clerks: {"username": "...", "role": "manager" | "staff"}.
common.role_function("assignRole", ("manager", "staff"))
