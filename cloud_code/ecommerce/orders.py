"""Orders: placed by customers with ``POST /classes/Order`` (from their
cart, or with items), priced and stocked by the server, moved through their
statuses by admins; a customer may cancel a pending order by deleting it."""

from __future__ import annotations

from collections import Counter

from bapp import cloud

from .checks import ORDER_STATUSES, existing, fail, one_of, owner, owner_acl
from .pricing import Priced, price
from .stock import give_back, take

# Every field of Order in schemas/ecommerce.json: anything else from a client
# would be refused by the schema (addField) only after the hook has taken
# stock, so it is refused here first, with the same error.
ORDER_FIELDS = {"user", "customer", "cart", "items", "products", "total", "status", "restocked", "ACL"}
FIXED_KEYS = {"className", "objectId", "createdAt", "updatedAt"}
RESTOCKABLE = ("pending", "paid")


@cloud.before_save("Order")
async def check_order(req: cloud.Request) -> None:
    if req.original is None:
        await _place(req)
    else:
        _change(req)


async def _place(req: cloud.Request) -> None:
    obj = req.object
    if not req.master:
        if any(k not in ORDER_FIELDS | FIXED_KEYS for k in obj):
            raise fail("Permission denied", cloud.Error.OPERATION_FORBIDDEN)  # as the server answers a refused addField
        if obj.get("status", "pending") != "pending":
            one_of(obj, "status", ORDER_STATUSES)
            raise fail("A new order starts as pending", cloud.Error.OPERATION_FORBIDDEN)
    one_of(obj, "status", ORDER_STATUSES)
    user_id = await owner(req, "An order")
    priced = await price(await _items(obj, user_id))
    customer = await _customer(obj, user_id)
    await take(Counter(priced.sku_ids))  # last: nothing below may fail once stock is taken
    _fill(req, priced, customer, user_id)


def _fill(req: cloud.Request, priced: Priced, customer: dict | None, user_id: str) -> None:
    obj = req.object
    obj["items"] = priced.pointers()
    obj["products"] = priced.product_pointers()
    obj["total"] = priced.total  # the client's figure, if any, is not trusted
    obj["status"] = obj.get("status") or "pending"
    obj["restocked"] = False
    if customer is not None:
        obj["customer"] = cloud.pointer("Customer", customer["objectId"])
    if not (req.master and "ACL" in obj):
        obj["ACL"] = owner_acl(user_id)


async def _items(obj: dict, user_id: str) -> list:
    """The units ordered: the cart's items when a cart is given (it must be
    the orderer's), else the order's own ``items``."""
    cart_ptr, items = obj.get("cart"), obj.get("items")
    if cart_ptr is None:
        if not items:
            raise fail("items is required")
        return items
    if items:
        raise fail("Send either cart or items, not both")
    cart = await existing(cart_ptr, "cart", "Cart")
    if (cart.get("user") or {}).get("objectId") != user_id:
        raise fail("That cart belongs to someone else", cloud.Error.OPERATION_FORBIDDEN)
    if not cart.get("items"):
        raise fail("The cart is empty")
    return cart["items"]


async def _customer(obj: dict, user_id: str) -> dict | None:
    """The orderer's customer profile: the one given (it must be theirs) or
    the one they have, if any."""
    value = obj.get("customer")
    if value is None:
        return await cloud.first("Customer", {"user": cloud.pointer("_User", user_id)}, master=True)
    customer = await existing(value, "customer", "Customer")
    if (customer.get("user") or {}).get("objectId") != user_id:
        raise fail("That customer profile belongs to someone else", cloud.Error.OPERATION_FORBIDDEN)
    return customer


def _change(req: cloud.Request) -> None:
    """After placement only ``status`` moves (within the fixed set), and a
    cancelled order stays cancelled; the master key may fix anything."""
    obj, original = req.object, req.original
    one_of(obj, "status", ORDER_STATUSES)
    if req.master:
        return
    for key in sorted((set(obj) | set(original)) - FIXED_KEYS - {"status"}):
        if obj.get(key) != original.get(key):
            raise fail(f"{key} cannot be changed after the order is placed")
    if original.get("status") == "cancelled" and obj.get("status") != "cancelled":
        raise fail("A cancelled order cannot change status")


@cloud.after_save("Order")
async def after_order(req: cloud.Request) -> None:
    obj, original = req.object, req.original
    if original is None:
        await _empty_cart(obj)
    elif obj.get("status") == "cancelled" and original.get("status") != "cancelled":
        await _restock_once(obj)


async def _empty_cart(order: dict) -> None:
    cart = order.get("cart")
    if isinstance(cart, dict) and cart.get("objectId"):
        try:
            await cloud.update("Cart", cart["objectId"], {"items": [], "total": 0}, master=True)
        except cloud.Error as exc:
            if exc.code != cloud.Error.OBJECT_NOT_FOUND:  # the cart was deleted meanwhile
                raise


async def _restock_once(order: dict) -> None:
    try:
        # Only the first cancellation to flip the flag puts the units back.
        await cloud.update("Order", order["objectId"], {"restocked": True}, where={"restocked": {"$ne": True}},
                           master=True)
    except cloud.Error as exc:
        if exc.code == cloud.Error.OBJECT_NOT_FOUND:
            return
        raise
    await give_back(_ordered_units(order))


@cloud.before_delete("Order")
def only_pending_orders_are_withdrawn(req: cloud.Request) -> None:
    if not req.master and req.object.get("status") != "pending":
        raise fail("Only a pending order can be cancelled by deleting it")


@cloud.after_delete("Order")
async def restock_deleted(req: cloud.Request) -> None:
    """A deleted order that was never shipped gives its units back."""
    obj = req.object
    if obj.get("status") in RESTOCKABLE and not obj.get("restocked"):
        await give_back(_ordered_units(obj))


def _ordered_units(order: dict) -> dict[str, int]:
    units: Counter[str] = Counter()
    for item in order.get("items") or []:
        if isinstance(item, dict) and isinstance(item.get("objectId"), str):
            units[item["objectId"]] += 1
    return dict(units)
