"""Products, their Inventory records and the access log."""

from __future__ import annotations

import logging

from bapp import cloud

from .checks import changed, existing, fail, non_negative, now, one_of, pointer_id
from .stock import STOCK_MOVE

log = logging.getLogger("bapp.cloud.ecommerce_admin")

ACCESS_ACTIONS = ("view", "order", "update")
ADMIN_READ_ACL = {"role:admin": {"read": True}}


@cloud.before_save("Product")
def check_product(req: cloud.Request) -> None:
    non_negative(req.object, "price")


@cloud.after_delete("Product")
async def drop_inventory(req: cloud.Request) -> None:
    """A deleted product takes its stock record with it."""
    for record in await cloud.find("Inventory", {"product": cloud.pointer(req.object)}, master=True):
        await cloud.delete("Inventory", record["objectId"], master=True)


@cloud.before_save("Inventory")
async def check_inventory(req: cloud.Request) -> None:
    obj = req.object
    if not (req.master and req.context.get(STOCK_MOVE)):
        non_negative(obj, "stock", whole=True)
    if req.original is not None:
        if changed(req, "product"):
            raise fail("product cannot be changed; create a record for the other product")
        return
    product = await existing(obj.get("product"), "product", "Product")
    if await cloud.first("Inventory", {"product": cloud.pointer(product)}, master=True):
        raise fail(f"product {product['objectId']} already has an inventory record", cloud.Error.DUPLICATE_VALUE)


# ------------------------------------------------------------------ access log

@cloud.after_find("Product")
async def log_product_views(req: cloud.Request) -> None:
    """Records a view when a signed-in user reads one product by id: the
    SDK's ``object.fetch()`` (GET /classes/Product/<id>) and ``query.get(id)``
    (a find whose only constraint is that objectId). Lists are not views."""
    if req.master or not req.user or not req.objects or len(req.objects) != 1:
        return
    where = (req.query or {}).get("where") or {}
    if set(where) != {"objectId"} or not isinstance(where["objectId"], str):
        return
    product = req.objects[0]
    try:
        await cloud.create("AccessLog", {
            "user": cloud.pointer("_User", req.user["objectId"]),
            "product": cloud.pointer("Product", product["objectId"]),
            "accessTime": now(),
            "action": "view",
            "ACL": ADMIN_READ_ACL,
        }, master=True)
    except cloud.Error as exc:  # e.g. the product was deleted meanwhile: the read itself stands
        log.warning("could not log the view of Product %s: %s", product["objectId"], exc.message)


@cloud.before_save("AccessLog")
async def check_access_log(req: cloud.Request) -> None:
    """Clients log only their own access, at the server's time; only admins
    read the log (the CLP forbids client updates and deletes)."""
    obj = req.object
    one_of(obj, "action", ACCESS_ACTIONS)
    if req.original is None:
        await existing(obj.get("product"), "product", "Product")
    if req.master:
        await existing(obj.get("user"), "user", "_User")
        return
    user = obj.get("user")
    if user is None:
        obj["user"] = cloud.pointer("_User", req.user["objectId"])
    elif pointer_id(user, "user", "_User") != req.user["objectId"]:
        raise fail("An access can only be logged for yourself", cloud.Error.OPERATION_FORBIDDEN)
    obj["accessTime"] = now()
    obj["ACL"] = ADMIN_READ_ACL
