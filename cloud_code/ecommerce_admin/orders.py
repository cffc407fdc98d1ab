"""Orders: placed by customers with ``POST /classes/Order``, priced and
stocked by the server, then moved through their statuses by admins and
managers."""

from __future__ import annotations

from collections import Counter

from bapp import cloud

from .checks import ORDER_STATUSES, existing, fail, has_role, is_number, one_of, pointer_id
from .stock import give_back, take

# Every field of Order in schemas/ecommerce_admin.json: anything else from a
# client would be refused by the schema (addField) only after the hook has
# taken stock, so it is refused here first, with the same error.
ORDER_FIELDS = {"user", "products", "product", "quantity", "totalAmount", "status", "restocked", "ACL"}
FIXED_KEYS = {"className", "objectId", "createdAt", "updatedAt"}
MAX_UNITS = 1000
RESTOCKABLE = ("pending", "paid")


def order_acl(user_id: str) -> dict:
    return {user_id: {"read": True}, "role:admin": {"read": True, "write": True},
            "role:manager": {"read": True, "write": True}}


@cloud.before_save("Order")
async def check_order(req: cloud.Request) -> None:
    if req.original is None:
        await _place(req)
    else:
        _change(req)


async def _place(req: cloud.Request) -> None:
    obj = req.object
    if not req.master:
        unknown = sorted(k for k in obj if k not in ORDER_FIELDS | FIXED_KEYS)
        if unknown:
            raise fail("Permission denied", cloud.Error.OPERATION_FORBIDDEN)  # as the server answers a refused addField
    one_of(obj, "status", ORDER_STATUSES)
    if not req.master and obj.get("status", "pending") != "pending":
        raise fail("A new order starts as pending", cloud.Error.OPERATION_FORBIDDEN)
    user_id = await _owner(req)
    ids, products = await _units(obj)
    total = round(sum(products[i]["price"] for i in ids), 2)
    await take(Counter(ids))  # last: nothing below may fail once stock is taken
    obj["products"] = [cloud.pointer("Product", i) for i in ids]
    obj["totalAmount"] = total  # the client's figure, if any, is not trusted
    obj["status"] = "pending" if obj.get("status") is None else obj["status"]
    obj["restocked"] = False
    if not (req.master and "ACL" in obj):
        obj["ACL"] = order_acl(user_id)


async def _owner(req: cloud.Request) -> str:
    """The ordering user: the caller unless an admin (or the master key)
    orders for someone else."""
    obj = req.object
    caller = req.user["objectId"] if req.user else None
    value = obj.get("user")
    if value is None:
        if caller is None:
            raise fail("user is required")
        obj["user"] = cloud.pointer("_User", caller)
        return caller
    user_id = pointer_id(value, "user", "_User")
    if user_id != caller and not req.master and not await has_role(req.user, "admin"):
        raise fail("Orders can only be placed for yourself", cloud.Error.OPERATION_FORBIDDEN)
    await existing(value, "user", "_User")
    return user_id


async def _units(obj: dict) -> tuple[list[str], dict[str, dict]]:
    """The ordered product ids, one per unit, and the products by id.
    ``product`` + ``quantity`` is turned into the same ``products`` list."""
    products, product, quantity = obj.get("products"), obj.get("product"), obj.get("quantity")
    if products not in (None, []) and product is not None:
        raise fail("Send either product (with quantity) or products, not both")
    if product is not None:
        field = "product"
        count = 1 if quantity is None else quantity
        if not is_number(count) or count != int(count) or count < 1:
            raise fail("quantity must be a positive whole number")
        ids = [pointer_id(product, "product", "Product")] * int(count)
        obj["quantity"] = int(count)
    elif products not in (None, []):
        field = "products"
        if quantity is not None:
            raise fail("quantity goes with product; repeat a pointer in products for more units")
        if not isinstance(products, list):
            raise fail("products must be an array of pointers to Product", cloud.Error.INCORRECT_TYPE)
        ids = [pointer_id(p, "products", "Product") for p in products]
    else:
        raise fail("products is required")
    if len(ids) > MAX_UNITS:
        raise fail(f"An order holds at most {MAX_UNITS} units")
    wanted = sorted(set(ids))
    found = {p["objectId"]: p for p in await cloud.find("Product", {"objectId": {"$in": wanted}},
                                                          limit=len(wanted), master=True)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise fail(f"{field} points to a missing Product: {missing[0]}")
    return ids, found


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
async def restock_cancelled(req: cloud.Request) -> None:
    obj, original = req.object, req.original
    if original is None or obj.get("status") != "cancelled" or original.get("status") == "cancelled":
        return
    try:
        # Only the first cancellation to flip the flag puts the units back.
        await cloud.update("Order", obj["objectId"], {"restocked": True}, where={"restocked": {"$ne": True}},
                           master=True)
    except cloud.Error as exc:
        if exc.code == cloud.Error.OBJECT_NOT_FOUND:
            return
        raise
    await give_back(_ordered_units(obj))


@cloud.after_delete("Order")
async def restock_deleted(req: cloud.Request) -> None:
    """A deleted order that was never shipped gives its units back."""
    obj = req.object
    if obj.get("status") in RESTOCKABLE and not obj.get("restocked"):
        await give_back(_ordered_units(obj))


def _ordered_units(order: dict) -> dict[str, int]:
    units: Counter[str] = Counter()
    for item in order.get("products") or []:
        if isinstance(item, dict) and isinstance(item.get("objectId"), str):
            units[item["objectId"]] += 1
    return dict(units)
