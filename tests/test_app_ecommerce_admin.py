"""The e-commerce admin console app (``bapp serve --app ecommerce_admin``)
end to end over HTTP: who may read and write what, server-side validation,
atomic stock on orders, the access log and live order/stock updates."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from apps_support import AppClient, LiveClient, app_server, db_latency, error, pointer

STORAGE = True  # the seed apps run on every store of tests/stores.py


@dataclass
class Shop:
    api: AppClient
    admin: dict
    manager: dict
    alice: dict
    bob: dict
    mug: str  # product ids
    lamp: str
    mug_stock: str  # Inventory ids
    lamp_stock: str

    @property
    def admin_token(self) -> str:
        return self.admin["sessionToken"]


@pytest.fixture
async def shop():
    async with app_server("ecommerce_admin") as api:
        admin = await api.admin("boss")
        manager = await api.signup("mia")
        await api.add_to_role(manager["objectId"], "manager")
        token = admin["sessionToken"]
        mug = (await api.create("Product", {"name": "Mug", "price": 9.5, "category": "kitchen"}, token=token))["objectId"]
        lamp = (await api.create("Product", {"name": "Lamp", "price": 30, "category": "home"}, token=token))["objectId"]
        mug_stock = (await api.create("Inventory", {"product": pointer("Product", mug), "stock": 10}, token=token))
        lamp_stock = (await api.create("Inventory", {"product": pointer("Product", lamp), "stock": 2}, token=token))
        yield Shop(api, admin, manager, await api.signup("alice"), await api.signup("bob"), mug, lamp,
                   mug_stock["objectId"], lamp_stock["objectId"])


def units(product_id: str, count: int = 1) -> list[dict]:
    return [pointer("Product", product_id)] * count


async def stock(shop: Shop, inventory_id: str) -> int:
    return (await shop.api.fetch("Inventory", inventory_id))["stock"]


async def order(shop: Shop, user: dict, body: dict):
    return await shop.api.post("/classes/Order", body, token=user["sessionToken"])


# ------------------------------------------------------------------ set-up and roles

async def test_roles_come_from_the_schema_file(shop):
    status, body = await shop.api.get("/roles", params={"order": "name"}, master=True)
    assert status == 200 and [r["name"] for r in body["results"]] == ["admin", "manager"]


# ------------------------------------------------------------------ products

async def test_only_admins_manage_products(shop):
    api = shop.api
    reply = await api.post("/classes/Product", {"name": "X", "price": 1}, token=shop.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.put(f"/classes/Product/{shop.mug}", {"price": 1}, token=shop.manager["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.delete(f"/classes/Product/{shop.mug}", token=shop.bob["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    status, body = await api.put(f"/classes/Product/{shop.mug}", {"price": 11, "category": "mugs"},
                                 token=shop.admin_token)
    assert status == 200
    assert (await api.fetch("Product", shop.mug))["price"] == 11


async def test_products_are_for_signed_in_users(shop):
    reply = await shop.api.get("/classes/Product")
    assert error(reply) == (404, 101, "Permission denied")
    status, body = await shop.api.get("/classes/Product", params={"order": "name"},
                                      token=shop.alice["sessionToken"])
    assert status == 200 and [p["name"] for p in body["results"]] == ["Lamp", "Mug"]


@pytest.mark.parametrize("body, expected", [
    ({"name": "X", "price": -1}, (400, 142, "price must be a non-negative number")),
    ({"name": "X"}, (400, 142, "price is required")),
    ({"price": 3}, (400, 142, "name is required")),
    ({"name": "X", "price": "3"}, (400, 111, "schema mismatch for Product.price; expected Number but got String")),
])
async def test_product_validation(shop, body, expected):
    reply = await shop.api.post("/classes/Product", body, token=shop.admin_token)
    assert error(reply) == expected
    reply = await shop.api.get("/classes/Product", params={"count": 1, "limit": 0}, master=True)
    assert reply.body["count"] == 2


async def test_negative_price_update_is_refused(shop):
    reply = await shop.api.put(f"/classes/Product/{shop.mug}", {"price": {"__op": "Increment", "amount": -20}},
                               token=shop.admin_token)
    assert error(reply) == (400, 142, "price must be a non-negative number")
    assert (await shop.api.fetch("Product", shop.mug))["price"] == 9.5


async def test_deleting_a_product_deletes_its_inventory(shop):
    status, _ = await shop.api.delete(f"/classes/Product/{shop.lamp}", token=shop.admin_token)
    assert status == 200
    reply = await shop.api.get(f"/classes/Inventory/{shop.lamp_stock}", master=True)
    assert error(reply) == (404, 101, "Object not found.")


# ------------------------------------------------------------------ inventory

@pytest.mark.parametrize("body, expected", [
    ({"stock": -1}, (400, 142, "stock must be a non-negative whole number")),
    ({"stock": 1.5}, (400, 142, "stock must be a non-negative whole number")),
    ({"stock": 1, "product": None}, (400, 142, "product is required")),
    ({"stock": 1, "product": pointer("Product", "missing123")}, (400, 142, "product points to a missing Product: missing123")),
    ({"stock": 1, "product": pointer("Inventory", "x")}, (400, 111, "product must be a pointer to Product")),
])
async def test_inventory_validation(shop, body, expected):
    third = await shop.api.create("Product", {"name": "Pen", "price": 1}, token=shop.admin_token)
    body = {"product": pointer("Product", third["objectId"]), **body}
    if body["product"] is None:
        del body["product"]
    assert error(await shop.api.post("/classes/Inventory", body, token=shop.admin_token)) == expected


async def test_one_inventory_record_per_product(shop):
    reply = await shop.api.post("/classes/Inventory", {"product": pointer("Product", shop.mug), "stock": 4},
                                token=shop.admin_token)
    assert error(reply) == (400, 137, f"product {shop.mug} already has an inventory record")
    reply = await shop.api.put(f"/classes/Inventory/{shop.mug_stock}", {"product": pointer("Product", shop.lamp)},
                               token=shop.admin_token)
    assert error(reply) == (400, 142, "product cannot be changed; create a record for the other product")


async def test_stock_is_read_by_signed_in_users_and_set_by_admins(shop):
    api = shop.api
    status, body = await api.get("/classes/Inventory", params={"where": {"product": pointer("Product", shop.lamp)}},
                                 token=shop.alice["sessionToken"])
    assert status == 200 and [r["stock"] for r in body["results"]] == [2]
    reply = await api.put(f"/classes/Inventory/{shop.lamp_stock}", {"stock": 50}, token=shop.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.put(f"/classes/Inventory/{shop.lamp_stock}", {"stock": 50}, token=shop.manager["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    status, _ = await api.put(f"/classes/Inventory/{shop.lamp_stock}", {"stock": {"__op": "Increment", "amount": 5}},
                              token=shop.admin_token)
    assert status == 200 and await stock(shop, shop.lamp_stock) == 7
    reply = await api.put(f"/classes/Inventory/{shop.lamp_stock}", {"stock": -3}, token=shop.admin_token)
    assert error(reply) == (400, 142, "stock must be a non-negative whole number")


# ------------------------------------------------------------------ orders

async def test_order_total_is_computed_by_the_server(shop):
    status, body = await order(shop, shop.alice, {"products": units(shop.mug, 2) + units(shop.lamp),
                                                  "totalAmount": 0.01})
    assert status == 201
    assert body["totalAmount"] == 49  # 2 x 9.5 + 30; the client's 0.01 is ignored
    assert body["status"] == "pending"
    saved = await shop.api.fetch("Order", body["objectId"])
    assert saved["totalAmount"] == 49
    assert saved["user"] == pointer("_User", shop.alice["objectId"])
    assert await stock(shop, shop.mug_stock) == 8 and await stock(shop, shop.lamp_stock) == 1


async def test_single_product_order_with_quantity(shop):
    status, body = await order(shop, shop.alice, {"product": pointer("Product", shop.mug), "quantity": 3})
    assert status == 201 and body["totalAmount"] == 28.5
    saved = await shop.api.fetch("Order", body["objectId"])
    assert saved["products"] == units(shop.mug, 3) and saved["quantity"] == 3
    assert await stock(shop, shop.mug_stock) == 7


async def test_insufficient_stock_is_refused_and_takes_nothing(shop):
    reply = await order(shop, shop.alice, {"products": units(shop.mug, 2) + units(shop.lamp, 3)})
    assert error(reply) == (400, 142, f"Insufficient stock for product {shop.lamp}")
    # the mugs taken before the lamps were found short went back
    assert await stock(shop, shop.mug_stock) == 10 and await stock(shop, shop.lamp_stock) == 2
    reply = await shop.api.get("/classes/Order", params={"count": 1, "limit": 0}, master=True)
    assert reply.body["count"] == 0


async def test_fifty_concurrent_orders_for_the_last_ten_items(shop):
    api = shop.api
    await api.put(f"/classes/Inventory/{shop.mug_stock}", {"stock": 10}, token=shop.admin_token)
    buyers = [shop.alice, shop.bob] + [await api.signup(f"buyer{i}") for i in range(3)]
    with db_latency(api.engine):
        replies = await asyncio.gather(*(order(shop, buyers[i % len(buyers)], {"products": units(shop.mug)})
                                         for i in range(50)))
    assert sorted(r.status for r in replies) == [201] * 10 + [400] * 40
    assert {error(r) for r in replies if r.status == 400} == {(400, 142, f"Insufficient stock for product {shop.mug}")}
    assert await stock(shop, shop.mug_stock) == 0
    reply = await api.get("/classes/Order", params={"count": 1, "limit": 0}, master=True)
    assert reply.body["count"] == 10


@pytest.mark.parametrize("body, expected", [
    ({}, (400, 142, "products is required")),
    ({"products": [pointer("Product", "nope1234")]}, (400, 142, "products points to a missing Product: nope1234")),
    ({"product": pointer("Product", "nope1234")}, (400, 142, "product points to a missing Product: nope1234")),
    ({"products": "mug"}, (400, 111, "products must be an array of pointers to Product")),
    ({"products": [{"__type": "Pointer", "className": "Order", "objectId": "x"}]},
     (400, 111, "products must be a pointer to Product")),
    ({"product": "MUG", "quantity": -1}, (400, 142, "quantity must be a positive whole number")),
    ({"product": "MUG", "quantity": 0}, (400, 142, "quantity must be a positive whole number")),
    ({"product": "MUG", "quantity": 1.5}, (400, 142, "quantity must be a positive whole number")),
    ({"product": "MUG", "products": ["MUG"]}, (400, 142, "Send either product (with quantity) or products, not both")),
    ({"products": ["MUG"], "status": "bogus"}, (400, 142, "status must be one of pending, paid, shipped, delivered, cancelled")),
    ({"products": ["MUG"], "status": "shipped"}, (400, 119, "A new order starts as pending")),
    ({"products": ["MUG"], "discount": 50}, (400, 119, "Permission denied")),
    ({"products": ["MUG"], "user": "BOB"}, (400, 119, "Orders can only be placed for yourself")),
])
async def test_order_validation_takes_no_stock(shop, body, expected):
    swap = {"MUG": pointer("Product", shop.mug), "BOB": pointer("_User", shop.bob["objectId"])}

    def fill(value):
        if isinstance(value, list):
            return [fill(v) for v in value]
        return swap.get(value, value) if isinstance(value, str) else value

    reply = await order(shop, shop.alice, {k: fill(v) for k, v in body.items()})
    assert error(reply) == expected
    assert await stock(shop, shop.mug_stock) == 10


async def test_orders_need_a_signed_in_user(shop):
    reply = await shop.api.post("/classes/Order", {"products": units(shop.mug)})
    assert error(reply) == (404, 101, "Permission denied")


async def test_admins_may_order_for_a_customer(shop):
    status, body = await order(shop, shop.admin, {"products": units(shop.mug),
                                                  "user": pointer("_User", shop.bob["objectId"])})
    assert status == 201
    status, mine = await shop.api.get("/classes/Order", token=shop.bob["sessionToken"])
    assert [o["objectId"] for o in mine["results"]] == [body["objectId"]]


async def test_customers_see_only_their_own_orders(shop):
    api = shop.api
    a = (await order(shop, shop.alice, {"products": units(shop.mug)})).body["objectId"]
    b = (await order(shop, shop.bob, {"products": units(shop.lamp)})).body["objectId"]
    status, body = await api.get("/classes/Order", token=shop.alice["sessionToken"])
    assert status == 200 and [o["objectId"] for o in body["results"]] == [a]
    reply = await api.get(f"/classes/Order/{b}", token=shop.alice["sessionToken"])
    assert error(reply) == (404, 101, "Object not found.")
    reply = await api.get("/classes/Order", params={"where": {"objectId": b}}, token=shop.alice["sessionToken"])
    assert reply.body == {"results": []}
    for staff in (shop.admin, shop.manager):
        status, body = await api.get("/classes/Order", params={"order": "createdAt"}, token=staff["sessionToken"])
        assert [o["objectId"] for o in body["results"]] == [a, b]


async def test_customers_cannot_change_or_delete_orders(shop):
    api = shop.api
    placed = (await order(shop, shop.alice, {"products": units(shop.mug)})).body["objectId"]
    reply = await api.put(f"/classes/Order/{placed}", {"status": "delivered"}, token=shop.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.delete(f"/classes/Order/{placed}", token=shop.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")


async def test_staff_move_status_within_the_fixed_set(shop):
    api = shop.api
    placed = (await order(shop, shop.alice, {"products": units(shop.mug)})).body["objectId"]
    token = shop.manager["sessionToken"]
    reply = await api.put(f"/classes/Order/{placed}", {"status": "lost"}, token=token)
    assert error(reply) == (400, 142, "status must be one of pending, paid, shipped, delivered, cancelled")
    reply = await api.put(f"/classes/Order/{placed}", {"totalAmount": 0}, token=token)
    assert error(reply) == (400, 142, "totalAmount cannot be changed after the order is placed")
    reply = await api.put(f"/classes/Order/{placed}", {"products": units(shop.lamp)}, token=shop.admin_token)
    assert error(reply) == (400, 142, "products cannot be changed after the order is placed")
    status, _ = await api.put(f"/classes/Order/{placed}", {"status": "shipped"}, token=token)
    assert status == 200 and (await api.fetch("Order", placed))["status"] == "shipped"


async def test_cancelling_puts_the_units_back_once(shop):
    api = shop.api
    placed = (await order(shop, shop.alice, {"products": units(shop.mug, 4)})).body["objectId"]
    assert await stock(shop, shop.mug_stock) == 6
    with db_latency(api.engine):
        replies = await asyncio.gather(*(api.put(f"/classes/Order/{placed}", {"status": "cancelled"},
                                                 token=shop.manager["sessionToken"]) for _ in range(5)))
    assert [r.status for r in replies] == [200] * 5
    assert await stock(shop, shop.mug_stock) == 10
    saved = await api.fetch("Order", placed)
    assert saved["status"] == "cancelled" and saved["restocked"] is True
    reply = await api.put(f"/classes/Order/{placed}", {"status": "pending"}, token=shop.admin_token)
    assert error(reply) == (400, 142, "A cancelled order cannot change status")


async def test_deleting_an_unshipped_order_puts_the_units_back(shop):
    api = shop.api
    first = (await order(shop, shop.alice, {"products": units(shop.mug, 2)})).body["objectId"]
    second = (await order(shop, shop.alice, {"products": units(shop.mug, 3)})).body["objectId"]
    await api.put(f"/classes/Order/{second}", {"status": "shipped"}, token=shop.admin_token)
    assert await stock(shop, shop.mug_stock) == 5
    for placed in (first, second):
        status, _ = await api.delete(f"/classes/Order/{placed}", token=shop.admin_token)
        assert status == 200
    assert await stock(shop, shop.mug_stock) == 7  # the shipped units stay gone


# ------------------------------------------------------------------ access log

async def logs(shop: Shop) -> list[dict]:
    status, body = await shop.api.get("/classes/AccessLog", params={"order": "createdAt"}, token=shop.admin_token)
    assert status == 200
    return body["results"]


async def test_product_views_by_signed_in_users_are_logged(shop):
    api = shop.api
    alice = shop.alice["sessionToken"]
    # object.fetch(): GET /classes/Product/<id>
    assert (await api.get(f"/classes/Product/{shop.mug}", token=alice)).status == 200
    # query.get(id): a find on that objectId with limit 1
    reply = await api.get("/classes/Product", params={"where": {"objectId": shop.lamp}, "limit": 1}, token=alice)
    assert [p["objectId"] for p in reply.body["results"]] == [shop.lamp]
    found = await logs(shop)
    assert [(e["user"]["objectId"], e["product"]["objectId"], e["action"]) for e in found] == [
        (shop.alice["objectId"], shop.mug, "view"), (shop.alice["objectId"], shop.lamp, "view")]
    assert all(e["accessTime"]["__type"] == "Date" for e in found)
    assert found[0]["ACL"] == {"role:admin": {"read": True}}


async def test_lists_master_reads_and_misses_are_not_views(shop):
    api = shop.api
    alice = shop.alice["sessionToken"]
    assert (await api.get("/classes/Product", token=alice)).status == 200
    assert (await api.get("/classes/Product", params={"where": {"name": "Mug"}}, token=alice)).status == 200
    assert (await api.get(f"/classes/Product/{shop.mug}", master=True)).status == 200
    assert (await api.get("/classes/Product/nope", token=alice)).status == 404
    assert await logs(shop) == []


async def test_the_access_log_is_for_admins(shop):
    api = shop.api
    await api.get(f"/classes/Product/{shop.mug}", token=shop.alice["sessionToken"])
    for user in (shop.alice, shop.manager):
        reply = await api.get("/classes/AccessLog", token=user["sessionToken"])
        assert error(reply) == (400, 119, "Permission denied")
    [entry] = await logs(shop)
    reply = await api.put(f"/classes/AccessLog/{entry['objectId']}", {"action": "update"}, token=shop.admin_token)
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.delete(f"/classes/AccessLog/{entry['objectId']}", token=shop.admin_token)
    assert error(reply) == (400, 119, "Permission denied")


async def test_clients_log_their_own_access_at_server_time(shop):
    api = shop.api
    alice = shop.alice["sessionToken"]
    status, body = await api.post("/classes/AccessLog", {"product": pointer("Product", shop.mug), "action": "order",
                                                         "accessTime": {"__type": "Date", "iso": "2001-01-01T00:00:00.000Z"}},
                                  token=alice)
    assert status == 201
    saved = await api.fetch("AccessLog", body["objectId"])
    assert saved["user"] == pointer("_User", shop.alice["objectId"])
    assert saved["accessTime"]["iso"] > "2020" and saved["action"] == "order"
    cases = [
        ({"product": pointer("Product", shop.mug), "user": pointer("_User", shop.bob["objectId"])},
         (400, 119, "An access can only be logged for yourself")),
        ({"product": pointer("Product", "gone0001")}, (400, 142, "product points to a missing Product: gone0001")),
        ({}, (400, 142, "product is required")),
        ({"product": pointer("Product", shop.mug), "action": "steal"}, (400, 142, "action must be one of view, order, update")),
    ]
    for body, expected in cases:
        assert error(await api.post("/classes/AccessLog", body, token=alice)) == expected


# ------------------------------------------------------------------ users

async def test_user_rules(shop):
    api = shop.api
    reply = await api.post("/users", {"username": "carl", "password": "pw", "email": "not-an-email"})
    assert error(reply) == (400, 125, "Email address format is invalid.")
    reply = await api.post("/users", {"username": "carl", "password": "pw", "role": "admin"})
    assert error(reply) == (400, 119, "role is a label set by administrators")
    reply = await api.post("/users", {"username": "carl", "password": "pw", "role": "wizard"})
    assert error(reply) == (400, 142, "role must be one of customer, manager, admin")
    carl = await api.signup("carl", email="carl@example.com")
    saved = await api.fetch("_User", carl["objectId"])
    assert saved["role"] == "customer"
    assert saved["ACL"] == {"role:admin": {"read": True}, carl["objectId"]: {"read": True, "write": True}}
    # private to other customers; admins list users with their emails
    reply = await api.get(f"/users/{carl['objectId']}", token=shop.alice["sessionToken"])
    assert error(reply) == (404, 101, "Object not found.")
    reply = await api.get("/users", token=shop.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    status, listed = await api.get("/users", params={"where": {"username": "carl"}}, token=shop.admin_token)
    assert status == 200 and [u["email"] for u in listed["results"]] == ["carl@example.com"]
    status, me = await api.get("/users/me", token=carl["sessionToken"])
    assert status == 200 and me["email"] == "carl@example.com"
    reply = await api.put(f"/users/{carl['objectId']}", {"username": "hacked"}, token=shop.alice["sessionToken"])
    assert error(reply) == (400, 206, "Permission denied")


# ------------------------------------------------------------------ realtime

async def test_status_changes_reach_the_customer_live(shop):
    api = shop.api
    placed = (await order(shop, shop.alice, {"products": units(shop.mug)})).body["objectId"]
    async with LiveClient(api.ws_url) as alice_live, LiveClient(api.ws_url) as bob_live:
        await alice_live.connect(session_token=shop.alice["sessionToken"])
        await alice_live.subscribe("Order", {})
        await bob_live.connect(session_token=shop.bob["sessionToken"])
        await bob_live.subscribe("Order", {})
        status, _ = await api.put(f"/classes/Order/{placed}", {"status": "shipped"}, token=shop.manager["sessionToken"])
        assert status == 200
        event = await alice_live.next_event()
        assert event["op"] == "update" and event["object"]["objectId"] == placed
        assert event["object"]["status"] == "shipped" and event["original"]["status"] == "pending"
        await bob_live.no_event()


async def test_stock_changes_reach_admin_dashboards_live(shop):
    api = shop.api
    async with LiveClient(api.ws_url) as live:
        await live.connect(session_token=shop.admin_token)
        await live.subscribe("Inventory", {"stock": {"$lt": 9}})
        assert (await order(shop, shop.alice, {"products": units(shop.mug, 2)})).status == 201
        event = await live.next_event()
        assert event["op"] == "enter" and event["object"]["objectId"] == shop.mug_stock
        assert event["object"]["stock"] == 8
