"""Orders a store processes: pending -> processing -> fulfilled, or cancelled.

Fulfilling an order takes its stock, so it is the ``fulfillOrder`` function
(not a plain PUT): it claims the order with a conditional update (only one
caller can move it to ``fulfilled``), then records an ``out`` transaction,
which removes the stock atomically or is refused; on a refusal the claim is
undone and the order keeps its status."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

from .stores import require_store_access, store_acl

STATUSES = ("pending", "processing", "fulfilled", "cancelled")
OPEN = ("pending", "processing")


@cloud.before_save("Order")
async def check_order(req) -> None:
    creating = req.original is None
    if creating:
        store = await common.reference(req.object, "store", "Store", required=True)
        await common.reference(req.object, "product", "Product", required=True)
    common.number(req.object, "quantity", required=True, positive=True)
    status = common.choice(req.object, "status", STATUSES)
    if req.master:
        if creating and "ACL" not in req.object:
            req.object["ACL"] = store_acl(store["objectId"])
        return
    if creating:
        if status not in (None, "pending"):
            raise common.forbidden("A new order starts as pending")
        await require_store_access(req, store["objectId"])
        req.object["createdBy"] = cloud.pointer("_User", req.user["objectId"])
        req.object["ACL"] = store_acl(store["objectId"])
        return
    _check_change(req, status)


def _check_change(req, status: str | None) -> None:
    common.keep(req, "store", "product", "createdBy", "ACL")
    previous = req.original.get("status")
    if previous not in OPEN:
        raise common.forbidden(f"A {previous} order cannot be changed")
    if status == "fulfilled" and common.changed(req, "status"):
        raise common.forbidden("Orders are fulfilled with the fulfillOrder function, which takes the stock")
    # Only if nobody moved the order on meanwhile (e.g. fulfilled it).
    req.condition = {"status": previous}


@cloud.define("fulfillOrder", validator={"require_user": True,
                                         "fields": {"orderId": {"type": str, "required": True}}})
async def fulfill_order(req) -> dict:
    """Fulfils an open order of a store the caller manages: the order's
    quantity leaves the store's stock (refused with 142 when short)."""
    order_id = req.params["orderId"]
    order = await cloud.get("Order", order_id, user=req.user)  # 101 unless the caller's store
    previous = order.get("status")
    if previous not in OPEN:
        raise common.invalid(f"Only a pending or processing order can be fulfilled (this one is {previous})")
    try:
        await cloud.update("Order", order_id, {"status": "fulfilled"}, where={"status": previous}, master=True)
    except cloud.Error as exc:
        if exc.code == cloud.Error.OBJECT_NOT_FOUND:
            raise common.invalid("The order changed meanwhile; reload it and try again") from None
        raise
    try:
        await cloud.create("Transaction", {
            "store": order["store"], "product": order["product"], "quantity": order["quantity"],
            "transactionType": "out", "order": cloud.pointer("Order", order_id),
            "performedBy": cloud.pointer("_User", req.user["objectId"]), "note": f"Order {order_id}",
        }, master=True)
    except cloud.Error:
        await cloud.update("Order", order_id, {"status": previous}, where={"status": "fulfilled"}, master=True)
        raise
    return await cloud.get("Order", order_id, master=True)
