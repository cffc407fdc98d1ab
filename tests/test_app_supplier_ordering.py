"""The supplier ordering app end to end over HTTP: automatic purchase orders
when stock drops below its threshold (sensible quantity and amount, never
two open for one row, also under concurrency), receiving adds the stock
once, Automation rules switch it per product or supplier, manual purchase
orders priced by the server, who sees which orders, validation with exact
codes, and the live view of new purchase orders."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass

import pytest
from apps_support import AppClient, LiveClient, app_server, error, pointer
from storage_race import race

STORAGE = True  # the seed apps run on every store of tests/stores.py

APP = "supplier_ordering"


@pytest.fixture
async def api():
    async with app_server(APP) as client:
        yield client


@dataclass
class World:
    admin: dict
    manager: dict
    staff: dict
    supplier: str
    product: str
    row: str  # the product's inventory: 20 units, threshold 10

    @property
    def tm(self) -> str:
        return self.manager["sessionToken"]

    @property
    def ta(self) -> str:
        return self.admin["sessionToken"]


async def make_world(api: AppClient) -> World:
    admin = await api.admin("boss")
    manager = await api.admin("buyer", role="manager")
    staff = await api.admin("clerk", role="staff")
    supplier = await api.create("Supplier", {"name": "Acme", "contactEmail": "sales@acme.example"},
                                token=manager["sessionToken"])
    product = await api.create("Product", {"name": "Nut", "price": 0.25,
                                           "supplier": pointer("Supplier", supplier["objectId"])},
                               token=manager["sessionToken"])
    row = await api.create("Inventory", {"product": pointer("Product", product["objectId"]), "quantity": 20,
                                         "threshold": 10}, token=manager["sessionToken"])
    return World(admin, manager, staff, supplier["objectId"], product["objectId"], row["objectId"])


async def set_quantity(api: AppClient, w: World, value, row: str | None = None) -> None:
    reply = await api.put(f"/classes/Inventory/{row or w.row}", {"quantity": value}, token=w.tm)
    assert reply.status == 200, reply.body


async def purchase_orders(api: AppClient, **where) -> list[dict]:
    status, body = await api.get("/classes/PurchaseOrder", params={"where": where, "order": "createdAt"},
                                 master=True)
    assert status == 200
    return body["results"]


async def add_product(api: AppClient, w: World, name: str, supplier: str | None = None, price: float = 1.0,
                      quantity: float = 20, threshold: float = 10) -> tuple[str, str]:
    product = await api.create("Product", {"name": name, "price": price,
                                           "supplier": pointer("Supplier", supplier or w.supplier)}, token=w.tm)
    row = await api.create("Inventory", {"product": pointer("Product", product["objectId"]), "quantity": quantity,
                                         "threshold": threshold}, token=w.tm)
    return product["objectId"], row["objectId"]


async def rule(api: AppClient, w: World, **fields) -> dict:
    body = {"trigger": "inventory.low_stock", "action": "create_purchase_order", **fields}
    return await api.create("Automation", body, token=w.ta)


# ------------------------------------------------------------------ automatic orders

async def test_a_drop_below_the_threshold_raises_one_priced_purchase_order(api):
    w = await make_world(api)
    await set_quantity(api, w, 10)  # at the threshold: nothing yet
    assert await purchase_orders(api) == []
    await set_quantity(api, w, 4)
    [order] = await purchase_orders(api)
    assert order["supplier"] == pointer("Supplier", w.supplier)
    # Enough to bring the stock back to twice the threshold: 20 - 4 = 16.
    assert order["products"] == [{"product": pointer("Product", w.product), "quantity": 16, "unitPrice": 0.25}]
    assert (order["totalAmount"], order["status"], order["automated"]) == (4.0, "pending", True)
    assert order["inventory"] == pointer("Inventory", w.row)
    assert order["orderDate"]["__type"] == "Date"
    row = await api.fetch("Inventory", w.row)
    assert (row["lowStock"], row["reorderPending"]) == (True, True)
    await set_quantity(api, w, 2)
    await set_quantity(api, w, {"__op": "Increment", "amount": -1})
    assert len(await purchase_orders(api)) == 1  # never twice while one is open


async def test_concurrent_drops_raise_a_single_purchase_order(api):
    w = await make_world(api)
    take = {"quantity": {"__op": "Increment", "amount": -1}}
    replies = await asyncio.gather(*(api.put(f"/classes/Inventory/{w.row}", take, token=w.tm) for _ in range(15)))
    assert all(r.status == 200 for r in replies)
    assert (await api.fetch("Inventory", w.row))["quantity"] == 5
    assert len(await purchase_orders(api)) == 1


async def test_a_row_claimed_by_another_process_raises_no_second_order(api):
    w = await make_world(api)
    fired = race(api, "Inventory", lambda change: change.get("reorderPending") is True, {"reorderPending": True})
    await set_quantity(api, w, 4)
    assert fired and await purchase_orders(api) == []
    assert (await api.fetch("Inventory", w.row))["reorderPending"] is True


async def test_a_status_changed_meanwhile_is_not_overwritten_and_adds_no_stock(api):
    w = await make_world(api)
    await set_quantity(api, w, 4)
    [order] = await purchase_orders(api)
    fired = race(api, "PurchaseOrder", lambda change: change.get("status") == "received", {"status": "cancelled"})
    reply = await api.put(f"/classes/PurchaseOrder/{order['objectId']}", {"status": "received"}, token=w.tm)
    assert fired and error(reply) == (404, 101, "Object not found or it does not match the update condition.")
    assert (await api.fetch("PurchaseOrder", order["objectId"]))["status"] == "cancelled"
    assert (await api.fetch("Inventory", w.row))["quantity"] == 4


async def test_receiving_adds_the_stock_once_and_rearms_the_row(api):
    w = await make_world(api)
    await set_quantity(api, w, 4)
    [order] = await purchase_orders(api)
    path = f"/classes/PurchaseOrder/{order['objectId']}"
    assert (await api.put(path, {"status": "sent"}, token=w.tm)).status == 200
    replies = await asyncio.gather(*(api.put(path, {"status": "received"}, token=w.tm) for _ in range(5)))
    assert [r.status for r in replies].count(200) == 1
    assert {error(r) for r in replies if r.status != 200} <= {
        (404, 101, "Object not found or it does not match the update condition."),
        (400, 119, "A received purchase order cannot be changed")}
    row = await api.fetch("Inventory", w.row)
    assert (row["quantity"], row["lowStock"], row["reorderPending"]) == (20, False, False)
    assert (await api.fetch("Product", w.product))["stock"] == 20
    assert (await api.fetch("PurchaseOrder", order["objectId"]))["receivedAt"]["__type"] == "Date"
    await set_quantity(api, w, 9)
    assert [o["products"][0]["quantity"] for o in await purchase_orders(api)] == [16, 11]


async def test_cancelling_frees_the_row_for_its_next_drop(api):
    w = await make_world(api)
    await set_quantity(api, w, 4)
    [order] = await purchase_orders(api)
    path = f"/classes/PurchaseOrder/{order['objectId']}"
    assert (await api.put(path, {"status": "cancelled"}, token=w.tm)).status == 200
    assert (await api.fetch("Inventory", w.row))["quantity"] == 4
    assert error(await api.put(path, {"status": "pending"}, token=w.tm)) == (
        400, 119, "A cancelled purchase order cannot be changed")
    assert len(await purchase_orders(api)) == 1
    await set_quantity(api, w, 3)
    assert [o["status"] for o in await purchase_orders(api)] == ["cancelled", "pending"]


async def test_reorder_quantity_and_a_rules_quantity_set_the_amount(api):
    w = await make_world(api)
    _, row = await add_product(api, w, "Bolt", price=1.5)
    assert (await api.put(f"/classes/Inventory/{row}", {"reorderQuantity": 40}, token=w.tm)).status == 200
    await set_quantity(api, w, 1, row=row)
    [order] = await purchase_orders(api)
    assert (order["products"][0]["quantity"], order["totalAmount"]) == (40, 60.0)
    chosen = await rule(api, w, product=pointer("Product", w.product), quantity=100)
    await set_quantity(api, w, 5)
    [_, second] = await purchase_orders(api)
    assert (second["products"][0]["quantity"], second["totalAmount"]) == (100, 25.0)
    assert (await api.fetch("Automation", chosen["objectId"]))["lastRunAt"]["__type"] == "Date"


async def test_automation_rules_switch_reordering_per_product_and_supplier(api):
    w = await make_world(api)
    other = await api.create("Supplier", {"name": "Bolts Ltd"}, token=w.tm)
    bolt, bolt_row = await add_product(api, w, "Bolt", supplier=other["objectId"])
    washer, washer_row = await add_product(api, w, "Washer", supplier=other["objectId"])
    await rule(api, w, active=False)  # global: off
    await rule(api, w, supplier=pointer("Supplier", other["objectId"]), active=True)  # Bolts Ltd: on
    await rule(api, w, product=pointer("Product", washer), active=False)  # but not washers
    for row in (w.row, bolt_row, washer_row):
        await set_quantity(api, w, 1, row=row)
    assert [o["products"][0]["product"]["objectId"] for o in await purchase_orders(api)] == [bolt]


async def test_switching_a_product_back_on_orders_at_its_next_change(api):
    w = await make_world(api)
    off = await rule(api, w, product=pointer("Product", w.product), active=False)
    await set_quantity(api, w, 3)
    assert await purchase_orders(api) == []
    assert (await api.put(f"/classes/Automation/{off['objectId']}", {"active": True}, token=w.ta)).status == 200
    await set_quantity(api, w, 2)
    [order] = await purchase_orders(api)
    assert order["products"][0]["quantity"] == 18


# ------------------------------------------------------------------ manual orders and access

async def test_a_manual_purchase_order_is_priced_by_the_server(api):
    w = await make_world(api)
    body = {"supplier": pointer("Supplier", w.supplier), "totalAmount": 0.01,
            "products": [{"product": pointer("Product", w.product), "quantity": 8, "unitPrice": 0.01}]}
    created = await api.create("PurchaseOrder", body, token=w.tm)
    assert (created["totalAmount"], created["createdBy"]) == (2.0, pointer("_User", w.manager["objectId"]))
    assert created["products"] == [{"product": pointer("Product", w.product), "quantity": 8, "unitPrice": 0.25}]
    order = await api.fetch("PurchaseOrder", created["objectId"])
    assert (order["status"], order["automated"]) == ("pending", False)
    path = f"/classes/PurchaseOrder/{created['objectId']}"
    assert error(await api.put(path, {"totalAmount": 1}, token=w.tm)) == (400, 119, "totalAmount cannot be changed")
    assert (await api.put(path, {"status": "received"}, token=w.tm)).status == 200
    assert (await api.fetch("Inventory", w.row))["quantity"] == 28
    # Staff read purchase orders but may not raise them.
    assert len((await api.get("/classes/PurchaseOrder", token=w.staff["sessionToken"])).body["results"]) == 1
    assert error(await api.post("/classes/PurchaseOrder", body, token=w.staff["sessionToken"])) == (
        400, 119, "Permission denied")


@pytest.mark.parametrize("change, code, message", [
    ({"products": []}, 142, "products must be a non-empty array of {product, quantity} lines"),
    ({"products": ["nut"]}, 142, "products must be a non-empty array of {product, quantity} lines"),
    ({"products": [{"product": "NUT", "quantity": 0}]}, 142, "quantity must be a positive number"),
    ({"products": [{"product": "NUT"}]}, 142, "quantity is required"),
    ({"supplier": None}, 142, "supplier is required"),
    ({"status": "received"}, 119, "A new purchase order starts as pending or sent"),
    ({"status": "lost"}, 142, "status must be one of: pending, sent, received, cancelled"),
    ({"automated": True}, 119, "automated is maintained by the server"),
])
async def test_purchase_order_validation(api, change, code, message):
    w = await make_world(api)
    # A copy: the parameters are shared by this test's run on every store.
    body = {"supplier": pointer("Supplier", w.supplier),
            "products": [{"product": pointer("Product", w.product), "quantity": 1}], **copy.deepcopy(change)}
    for line in body["products"] if isinstance(body["products"], list) else []:
        if isinstance(line, dict) and line.get("product") == "NUT":
            line["product"] = pointer("Product", w.product)
    body = {k: v for k, v in body.items() if v is not None}
    assert error(await api.post("/classes/PurchaseOrder", body, token=w.tm)) == (400, code, message)


async def test_a_purchase_order_lists_only_its_suppliers_products(api):
    w = await make_world(api)
    other = await api.create("Supplier", {"name": "Bolts Ltd"}, token=w.tm)
    bolt, _ = await add_product(api, w, "Bolt", supplier=other["objectId"])
    body = {"supplier": pointer("Supplier", w.supplier), "products": [{"product": pointer("Product", bolt),
                                                                      "quantity": 1}]}
    assert error(await api.post("/classes/PurchaseOrder", body, token=w.tm)) == (
        400, 142, f"product {bolt} is not supplied by this supplier")


async def test_staff_see_only_their_own_orders(api):
    w = await make_world(api)
    other = await api.admin("clerk2", role="staff")
    mine = await api.create("Order", {"supplier": pointer("Supplier", w.supplier), "quantity": 3,
                                      "product": pointer("Product", w.product)}, token=w.staff["sessionToken"])
    assert mine["createdBy"] == pointer("_User", w.staff["objectId"])
    order = await api.fetch("Order", mine["objectId"])
    assert (order["status"], order["items"], order["orderDate"]["__type"]) == ("pending", [], "Date")
    await api.create("Order", {"supplier": pointer("Supplier", w.supplier)}, token=other["sessionToken"])
    seen = (await api.get("/classes/Order", token=w.staff["sessionToken"])).body["results"]
    assert [o["objectId"] for o in seen] == [mine["objectId"]]
    assert len((await api.get("/classes/Order", token=w.tm)).body["results"]) == 2
    assert error(await api.put(f"/classes/Order/{mine['objectId']}", {"status": "sent"},
                               token=w.staff["sessionToken"])) == (
        400, 119, "Permission denied")
    takeover = {"createdBy": pointer("_User", w.manager["objectId"])}
    reply = await api.put(f"/classes/Order/{mine['objectId']}", takeover, token=w.tm)
    assert error(reply) == (400, 119, "createdBy cannot be changed")


async def test_concurrent_decrements_never_go_below_zero(api):
    w = await make_world(api)
    take = {"quantity": {"__op": "Increment", "amount": -1}}
    replies = await asyncio.gather(*(api.put(f"/classes/Inventory/{w.row}", take, token=w.tm) for _ in range(30)))
    assert [r.status for r in replies].count(200) == 20
    assert {error(r)[1] for r in replies if r.status != 200} <= {101, 142}
    assert (await api.fetch("Inventory", w.row))["quantity"] == 0
    assert (await api.fetch("Product", w.product))["stock"] == 0


# ------------------------------------------------------------------ validation

async def test_catalogue_and_rule_validation(api):
    w = await make_world(api)
    supplier = pointer("Supplier", w.supplier)
    cases = [
        ("Supplier", {"name": "X", "contactEmail": "not-an-email"}, 142, "contactEmail must be a valid email address"),
        ("Supplier", {"contactEmail": "a@b.example"}, 142, "name is required"),
        ("Product", {"name": "X", "price": -1, "supplier": supplier}, 142, "price must be a non-negative number"),
        ("Product", {"name": "X", "price": 1}, 142, "supplier is required"),
        ("Product", {"name": "X", "price": 1, "supplier": pointer("Supplier", "gone")}, 142,
         "supplier must point to an existing Supplier"),
        ("Product", {"name": "X", "price": 1, "supplier": supplier, "stock": 5}, 119,
         "stock is maintained by the server"),
        ("Inventory", {"product": pointer("Product", w.product), "quantity": 1}, 137,
         "This product already has an inventory row"),
        ("Inventory", {"quantity": 1}, 142, "product is required"),
        ("Order", {"status": "lost"}, 142, "status must be one of: pending, sent, received, cancelled"),
        ("Order", {"quantity": -3}, 142, "quantity must be a non-negative number"),
        ("Order", {"product": pointer("Supplier", w.supplier)}, 142, "product must be a pointer to Product"),
    ]
    for class_name, body, code, message in cases:
        assert error(await api.post(f"/classes/{class_name}", body, token=w.tm)) == (400, code, message), body
    reply = await api.put(f"/classes/Inventory/{w.row}", {"threshold": -1}, token=w.tm)
    assert error(reply) == (400, 142, "threshold must be a non-negative number")
    reply = await api.put(f"/classes/Inventory/{w.row}", {"reorderPending": True}, token=w.tm)
    assert error(reply) == (400, 119, "reorderPending is maintained by the server")
    rules = [
        ({"trigger": "daily", "action": "create_purchase_order"}, "trigger must be one of: inventory.low_stock"),
        ({"trigger": "inventory.low_stock", "action": "email"}, "action must be one of: create_purchase_order"),
        ({"trigger": "inventory.low_stock"}, "action is required"),
        ({"trigger": "inventory.low_stock", "action": "create_purchase_order", "active": 1},
         "active must be a boolean"),
        ({"trigger": "inventory.low_stock", "action": "create_purchase_order", "quantity": 0},
         "quantity must be a positive number"),
    ]
    for body, message in rules:
        assert error(await api.post("/classes/Automation", body, token=w.ta)) == (400, 142, message), body
    other = await api.create("Supplier", {"name": "Bolts Ltd"}, token=w.tm)
    mismatch = {"trigger": "inventory.low_stock", "action": "create_purchase_order",
                "product": pointer("Product", w.product), "supplier": pointer("Supplier", other["objectId"])}
    assert error(await api.post("/classes/Automation", mismatch, token=w.ta)) == (
        400, 142, "product is not supplied by supplier")
    allowed = {"trigger": "inventory.low_stock", "action": "create_purchase_order"}
    assert error(await api.post("/classes/Automation", allowed, token=w.tm)) == (
        400, 119, "Permission denied")


# ------------------------------------------------------------------ live

async def test_a_buyers_dashboard_sees_automatic_orders_arrive_live(api):
    w = await make_world(api)
    async with LiveClient(api.ws_url) as live:
        await live.connect(session_token=w.tm)
        await live.subscribe("PurchaseOrder", {"automated": True})
        await set_quantity(api, w, 6)
        event = await live.next_event()
        assert (event["op"], event["object"]["totalAmount"], event["object"]["status"]) == ("create", 3.5, "pending")
        await set_quantity(api, w, 5)
        await live.no_event()


async def test_admins_make_buyers_and_clerks_with_assign_role(api):
    w = await make_world(api)
    dana = await api.signup("dana")
    order = {"supplier": pointer("Supplier", w.supplier)}
    assert error(await api.post("/classes/Order", order, token=dana["sessionToken"])) == (
        400, 119, "Permission denied")
    reply = await api.call("assignRole", {"username": "dana", "role": "staff"}, token=w.ta)
    assert reply.body == {"result": {"userId": dana["objectId"], "role": "staff", "member": True}}
    assert (await api.post("/classes/Order", order, token=dana["sessionToken"])).status == 201
    assert error(await api.call("assignRole", {"username": "dana", "role": "admin"}, token=w.ta)) == (
        400, 142, "Validation failed. Invalid option for role. Expected: manager, staff")
    assert error(await api.call("assignRole", {"username": "dana", "role": "manager"}, token=w.tm)) == (
        400, 142, "Validation failed. User does not match the required roles.")
