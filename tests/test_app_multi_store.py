"""The multi-store inventory app end to end over HTTP: per-store access
through ACLs set by cloud code, the in/out/transfer ledger moving stock
atomically (never below zero, also under concurrency), order fulfilment,
validation with exact codes, and live dashboards."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from apps_support import AppClient, LiveClient, app_server, error, pointer
from storage_race import race

STORAGE = True  # the seed apps run on every store of tests/stores.py

APP = "multi_store_inventory"


@pytest.fixture
async def api():
    async with app_server(APP) as client:
        yield client


@dataclass
class World:
    admin: dict
    m1: dict
    m2: dict
    s1: str
    s2: str
    product: str

    @property
    def t_admin(self) -> str:
        return self.admin["sessionToken"]

    @property
    def t1(self) -> str:
        return self.m1["sessionToken"]

    @property
    def t2(self) -> str:
        return self.m2["sessionToken"]


async def make_world(api: AppClient) -> World:
    """An admin, two stores each with its manager, and one product."""
    admin = await api.admin("boss")
    m1, m2 = await api.signup("manager1"), await api.signup("manager2")
    s1 = await api.create("Store", {"name": "North", "location": "Oslo",
                                    "manager": pointer("_User", m1["objectId"])}, token=admin["sessionToken"])
    s2 = await api.create("Store", {"name": "South", "manager": pointer("_User", m2["objectId"])},
                          token=admin["sessionToken"])
    product = await api.create("Product", {"name": "Widget", "sku": "W-1", "price": 2.5},
                               token=admin["sessionToken"])
    return World(admin, m1, m2, s1["objectId"], s2["objectId"], product["objectId"])


def move(store: str, product: str, quantity, kind: str, **extra) -> dict:
    body = {"store": pointer("Store", store), "product": pointer("Product", product), "quantity": quantity,
            "transactionType": kind}
    body.update(extra)
    return body


async def stock_in(api: AppClient, w: World, store: str, quantity: float) -> None:
    await api.create("Transaction", move(store, w.product, quantity, "in"), token=w.t_admin)


async def quantity(api: AppClient, store: str, product: str) -> float | None:
    status, body = await api.get("/classes/Inventory", params={"where": {"store": pointer("Store", store),
                                                                         "product": pointer("Product", product)}},
                                 master=True)
    assert status == 200
    return body["results"][0]["quantity"] if body["results"] else None


async def product_stock(api: AppClient, product: str) -> float:
    return (await api.fetch("Product", product))["stock"]


async def row_id(api: AppClient, store: str, product: str) -> str:
    status, body = await api.get("/classes/Inventory", params={"where": {"store": pointer("Store", store),
                                                                         "product": pointer("Product", product)}},
                                 master=True)
    return body["results"][0]["objectId"]


# ------------------------------------------------------------------ stores and roles

async def test_a_store_gets_a_manager_role_under_the_manager_role(api):
    w = await make_world(api)
    status, roles = await api.get("/roles", params={"where": {"name": f"manager_{w.s1}"}}, master=True)
    [role] = roles["results"]
    assert role["ACL"] == {"role:admin": {"read": True}}
    related = {"$relatedTo": {"object": pointer("_Role", role["objectId"]), "key": "users"}}
    members = (await api.get("/users", params={"where": related}, master=True)).body["results"]
    assert [u["objectId"] for u in members] == [w.m1["objectId"]]
    parent = {"roles": pointer("_Role", role["objectId"])}
    assert [r["name"] for r in (await api.get("/roles", params={"where": parent}, master=True)).body["results"]] \
        == ["manager"]


async def test_changing_the_manager_moves_the_role_membership_and_only_admins_may(api):
    w = await make_world(api)
    newbie = await api.signup("newbie")
    reply = await api.put(f"/classes/Store/{w.s1}", {"manager": pointer("_User", newbie["objectId"])}, token=w.t1)
    assert error(reply) == (400, 119, "Only an admin can change a store's manager")
    reply = await api.put(f"/classes/Store/{w.s1}", {"name": "North 2"}, token=w.t1)
    assert reply.status == 200  # the manager may edit their store (pointer permission)
    reply = await api.put(f"/classes/Store/{w.s1}", {"name": "Mine"}, token=w.t2)
    assert error(reply) == (404, 101, "Object not found.")
    reply = await api.put(f"/classes/Store/{w.s1}", {"manager": pointer("_User", newbie["objectId"])},
                          token=w.t_admin)
    assert reply.status == 200
    await stock_in(api, w, w.s1, 5)
    # manager1 manages no store now, so holds no manager role at all.
    assert error(await api.get("/classes/Inventory", token=w.t1)) == (
        400, 119, "Permission denied")
    rows = (await api.get("/classes/Inventory", token=newbie["sessionToken"])).body["results"]
    assert [r["quantity"] for r in rows] == [5]


async def test_deleting_a_store_drops_its_role(api):
    w = await make_world(api)
    assert (await api.delete(f"/classes/Store/{w.s2}", token=w.t_admin)).status == 200
    status, roles = await api.get("/roles", params={"where": {"name": f"manager_{w.s2}"}}, master=True)
    assert roles["results"] == []


# ------------------------------------------------------------------ transactions

async def test_in_out_and_transfer_move_stock_and_keep_the_product_total(api):
    w = await make_world(api)
    created = await api.create("Transaction", move(w.s1, w.product, 10, "in"), token=w.t1)
    assert created["performedBy"] == pointer("_User", w.m1["objectId"])
    assert (await quantity(api, w.s1, w.product), await product_stock(api, w.product)) == (10, 10)
    await api.create("Transaction", move(w.s1, w.product, 3, "out"), token=w.t1)
    assert (await quantity(api, w.s1, w.product), await product_stock(api, w.product)) == (7, 7)
    transfer = move(w.s1, w.product, 4, "transfer", toStore=pointer("Store", w.s2), note="restock south")
    created = await api.create("Transaction", transfer, token=w.t1)
    assert created["ACL"] == {"role:admin": {"read": True}, f"role:manager_{w.s1}": {"read": True},
                              f"role:manager_{w.s2}": {"read": True}}
    assert (await quantity(api, w.s1, w.product), await quantity(api, w.s2, w.product)) == (3, 4)
    assert await product_stock(api, w.product) == 7
    # The receiving store's manager sees the transfer in their ledger too.
    ledger = (await api.get("/classes/Transaction", token=w.t2)).body["results"]
    assert [(t["transactionType"], t["quantity"]) for t in ledger] == [("transfer", 4)]


async def test_a_removal_beyond_the_stock_is_refused_and_records_nothing(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 2)
    reply = await api.post("/classes/Transaction", move(w.s1, w.product, 3, "out"), token=w.t1)
    assert error(reply) == (400, 142, f"Insufficient stock of product {w.product} in store {w.s1}")
    reply = await api.post("/classes/Transaction", move(w.s2, w.product, 1, "transfer",
                                                        toStore=pointer("Store", w.s1)), token=w.t2)
    assert error(reply) == (400, 142, f"Insufficient stock of product {w.product} in store {w.s2}")
    assert await quantity(api, w.s1, w.product) == 2
    assert await quantity(api, w.s2, w.product) is None
    count = await api.get("/classes/Transaction", params={"count": "1", "limit": "0"}, master=True)
    assert count.body["count"] == 1  # only the stock-in


async def test_fifty_concurrent_removals_of_the_last_ten_exactly_ten_succeed(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 10)
    replies = await asyncio.gather(*(
        api.post("/classes/Transaction", move(w.s1, w.product, 1, "out"), token=w.t1) for _ in range(50)))
    assert sorted(r.status for r in replies) == [201] * 10 + [400] * 40
    assert {error(r) for r in replies if r.status == 400} == {
        (400, 142, f"Insufficient stock of product {w.product} in store {w.s1}")}
    assert await quantity(api, w.s1, w.product) == 0
    assert await product_stock(api, w.product) == 0
    outs = await api.get("/classes/Transaction", params={"where": {"transactionType": "out"}, "count": "1",
                                                          "limit": "0"}, master=True)
    assert outs.body["count"] == 10


async def test_concurrent_transfers_both_ways_conserve_the_total(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 6)
    await stock_in(api, w, w.s2, 6)
    there = move(w.s1, w.product, 1, "transfer", toStore=pointer("Store", w.s2))
    back = move(w.s2, w.product, 1, "transfer", toStore=pointer("Store", w.s1))
    replies = await asyncio.gather(*(api.post("/classes/Transaction", there if i % 2 else back, token=w.t_admin)
                                     for i in range(40)))
    done = [r for r in replies if r.status == 201]
    assert all(error(r)[1] == 142 for r in replies if r.status != 201)
    a, b = await quantity(api, w.s1, w.product), await quantity(api, w.s2, w.product)
    assert a >= 0 and b >= 0 and a + b == 12
    assert await product_stock(api, w.product) == 12
    assert len(done) >= 12


async def test_the_ledger_is_append_only(api):
    w = await make_world(api)
    created = await api.create("Transaction", move(w.s1, w.product, 1, "in"), token=w.t_admin)
    for token in (w.t1, w.t_admin):
        reply = await api.put(f"/classes/Transaction/{created['objectId']}", {"quantity": 100}, token=token)
        assert error(reply) == (400, 119, "Permission denied")
        reply = await api.delete(f"/classes/Transaction/{created['objectId']}", token=token)
        assert error(reply) == (400, 119, "Permission denied")


# ------------------------------------------------------------------ per-store access

async def test_a_manager_sees_and_changes_only_their_store(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 5)
    await stock_in(api, w, w.s2, 8)
    mine, theirs = await row_id(api, w.s1, w.product), await row_id(api, w.s2, w.product)
    rows = (await api.get("/classes/Inventory", token=w.t1)).body["results"]
    assert [(r["objectId"], r["quantity"]) for r in rows] == [(mine, 5)]
    assert error(await api.get(f"/classes/Inventory/{theirs}", token=w.t1)) == (404, 101, "Object not found.")
    assert error(await api.put(f"/classes/Inventory/{theirs}", {"quantity": 0}, token=w.t1)) == (
        404, 101, "Object not found.")
    assert (await api.put(f"/classes/Inventory/{mine}", {"quantity": 9, "threshold": 2}, token=w.t1)).status == 200
    reply = await api.post("/classes/Transaction", move(w.s2, w.product, 1, "out"), token=w.t1)
    assert error(reply) == (400, 119, "You do not manage this store")
    other = await api.create("Product", {"name": "Gadget"}, token=w.t_admin)
    reply = await api.post("/classes/Inventory", {"store": pointer("Store", w.s2), "quantity": 1,
                                                  "product": pointer("Product", other["objectId"])}, token=w.t1)
    assert error(reply) == (400, 119, "You do not manage this store")
    ledger = (await api.get("/classes/Transaction", token=w.t1)).body["results"]
    assert {t["store"]["objectId"] for t in ledger} == {w.s1}
    everything = (await api.get("/classes/Inventory", token=w.t_admin)).body["results"]
    assert sorted(r["quantity"] for r in everything) == [8, 9]
    assert await product_stock(api, w.product) == 17


async def test_users_outside_the_roles_see_no_inventory(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 5)
    staff = await api.signup("staff")
    reply = await api.get("/classes/Inventory", token=staff["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.post("/classes/Transaction", move(w.s1, w.product, 1, "in"), token=staff["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")


async def test_inventory_rows_created_by_a_manager_are_scoped_and_unique(api):
    w = await make_world(api)
    body = {"store": pointer("Store", w.s1), "product": pointer("Product", w.product), "quantity": 3,
            "ACL": {"*": {"read": True, "write": True}}}
    created = await api.create("Inventory", body, token=w.t1)
    assert created["ACL"] == {"role:admin": {"read": True, "write": True},
                              f"role:manager_{w.s1}": {"read": True, "write": True}}
    assert await product_stock(api, w.product) == 3
    reply = await api.post("/classes/Inventory", body, token=w.t1)
    assert error(reply) == (400, 137, "This store already has an inventory row for this product")


async def test_a_put_may_not_move_a_row_or_touch_server_fields(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 5)
    mine = await row_id(api, w.s1, w.product)
    for body, message in (({"store": pointer("Store", w.s2)}, "store cannot be changed"),
                          ({"lowStock": True}, "lowStock is maintained by the server"),
                          ({"ACL": {"*": {"read": True}}}, "ACL is maintained by the server")):
        assert error(await api.put(f"/classes/Inventory/{mine}", body, token=w.t1)) == (400, 119, message)
    reply = await api.put(f"/classes/Inventory/{mine}", {"quantity": -1}, token=w.t1)
    assert error(reply) == (400, 142, "quantity must be a non-negative number")
    reply = await api.put(f"/classes/Inventory/{mine}", {"quantity": {"__op": "Increment", "amount": -6}},
                          token=w.t1)
    assert error(reply) == (400, 142, "quantity must be a non-negative number")
    assert await quantity(api, w.s1, w.product) == 5


async def test_concurrent_client_decrements_of_a_row_stop_at_zero(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 5)
    mine = await row_id(api, w.s1, w.product)
    take = {"quantity": {"__op": "Increment", "amount": -1}}
    replies = await asyncio.gather(*(api.put(f"/classes/Inventory/{mine}", take, token=w.t1) for _ in range(20)))
    assert [r.status for r in replies].count(200) == 5
    assert {error(r)[1] for r in replies if r.status != 200} <= {101, 142}
    assert await quantity(api, w.s1, w.product) == 0
    assert await product_stock(api, w.product) == 0


# ------------------------------------------------------------------ orders

async def test_fulfilling_an_order_takes_its_stock_once(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 5)
    order = await api.create("Order", {"store": pointer("Store", w.s1), "product": pointer("Product", w.product),
                                       "quantity": 3}, token=w.t1)
    assert (order["status"], order["createdBy"]) == ("pending", pointer("_User", w.m1["objectId"]))
    assert error(await api.call("fulfillOrder", {"orderId": order["objectId"]}, token=w.t2)) == (
        404, 101, "Object not found.")
    replies = await asyncio.gather(*(api.call("fulfillOrder", {"orderId": order["objectId"]}, token=w.t1)
                                     for _ in range(5)))
    assert [r.status for r in replies].count(200) == 1
    assert {error(r)[1] for r in replies if r.status != 200} == {142}
    [ok] = [r for r in replies if r.status == 200]
    assert ok.body["result"]["status"] == "fulfilled"
    assert await quantity(api, w.s1, w.product) == 2
    status, outs = await api.get("/classes/Transaction", params={"where": {"transactionType": "out"}}, token=w.t1)
    assert [(t["quantity"], t["order"]["objectId"]) for t in outs["results"]] == [(3, order["objectId"])]


async def test_an_order_fulfilled_or_cancelled_meanwhile_takes_no_stock(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 5)
    body = {"store": pointer("Store", w.s1), "product": pointer("Product", w.product), "quantity": 2}
    order = await api.create("Order", body, token=w.t1)
    fired = race(api, "Order", lambda change: change.get("status") == "fulfilled", {"status": "cancelled"})
    reply = await api.call("fulfillOrder", {"orderId": order["objectId"]}, token=w.t1)
    assert fired and error(reply) == (400, 142, "The order changed meanwhile; reload it and try again")
    assert await quantity(api, w.s1, w.product) == 5
    # A client's cancel based on a status that has moved on is refused too.
    second = await api.create("Order", body, token=w.t1)
    fired = race(api, "Order", lambda change: change.get("status") == "cancelled", {"status": "fulfilled"})
    reply = await api.put(f"/classes/Order/{second['objectId']}", {"status": "cancelled"}, token=w.t1)
    assert fired and error(reply) == (404, 101, "Object not found or it does not match the update condition.")
    assert (await api.fetch("Order", second["objectId"]))["status"] == "fulfilled"


async def test_an_order_the_store_cannot_cover_stays_pending(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 2)
    order = await api.create("Order", {"store": pointer("Store", w.s1), "product": pointer("Product", w.product),
                                       "quantity": 3}, token=w.t1)
    reply = await api.call("fulfillOrder", {"orderId": order["objectId"]}, token=w.t1)
    assert error(reply) == (400, 142, f"Insufficient stock of product {w.product} in store {w.s1}")
    assert (await api.fetch("Order", order["objectId"]))["status"] == "pending"
    assert await quantity(api, w.s1, w.product) == 2


async def test_order_status_rules(api):
    w = await make_world(api)
    body = {"store": pointer("Store", w.s1), "product": pointer("Product", w.product), "quantity": 1}
    reply = await api.post("/classes/Order", {**body, "status": "fulfilled"}, token=w.t1)
    assert error(reply) == (400, 119, "A new order starts as pending")
    reply = await api.post("/classes/Order", {**body, "status": "lost"}, token=w.t1)
    assert error(reply) == (400, 142, "status must be one of: pending, processing, fulfilled, cancelled")
    reply = await api.post("/classes/Order", {**body, "store": pointer("Store", w.s2)}, token=w.t1)
    assert error(reply) == (400, 119, "You do not manage this store")
    order = await api.create("Order", body, token=w.t1)
    path = f"/classes/Order/{order['objectId']}"
    reply = await api.put(path, {"status": "fulfilled"}, token=w.t1)
    assert error(reply) == (400, 119, "Orders are fulfilled with the fulfillOrder function, which takes the stock")
    assert (await api.put(path, {"status": "processing"}, token=w.t1)).status == 200
    assert (await api.put(path, {"status": "cancelled"}, token=w.t1)).status == 200
    assert error(await api.put(path, {"status": "pending"}, token=w.t1)) == (
        400, 119, "A cancelled order cannot be changed")
    assert error(await api.get(path, token=w.t2)) == (404, 101, "Object not found.")


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("change, message", [
    ({"store": None}, "store is required"),
    ({"store": pointer("Product", "x")}, "store must be a pointer to Store"),
    ({"store": pointer("Store", "missing")}, "store must point to an existing Store"),
    ({"product": "W-1"}, "product must be a pointer to Product"),
    ({"quantity": 0}, "quantity must be a positive number"),
    ({"quantity": -2}, "quantity must be a positive number"),
    ({"quantity": "3"}, "quantity must be a positive number"),
    ({"transactionType": "gift"}, "transactionType must be one of: in, out, transfer"),
    ({"transactionType": None}, "transactionType is required"),
    ({"toStore": "STORE"}, "toStore is only for transfers"),
    ({"transactionType": "transfer"}, "toStore is required"),
    ({"order": pointer("Order", "x")}, "order is maintained by the server"),
])
async def test_transaction_validation(api, change, message):
    w = await make_world(api)
    body = {k: v for k, v in {**move(w.s1, w.product, 1, "in"), **change}.items() if v is not None}
    if body.get("toStore") == "STORE":
        body["toStore"] = pointer("Store", w.s2)
    reply = await api.post("/classes/Transaction", body, token=w.t1)
    assert error(reply) == (400, 119 if "server" in message else 142, message)
    assert await quantity(api, w.s1, w.product) is None


async def test_a_transfer_to_the_same_store_is_refused(api):
    w = await make_world(api)
    reply = await api.post("/classes/Transaction", move(w.s1, w.product, 1, "transfer",
                                                        toStore=pointer("Store", w.s1)), token=w.t1)
    assert error(reply) == (400, 142, "toStore must differ from store")


async def test_catalogue_validation(api):
    w = await make_world(api)
    cases = [
        ("Product", {"name": "X", "price": -1}, 142, "price must be a non-negative number"),
        ("Product", {"name": "  "}, 142, "name must be a non-empty string"),
        ("Product", {"name": "X", "stock": 50}, 119, "stock is maintained by the server"),
        ("Store", {"location": "Bergen"}, 142, "name is required"),
        ("Store", {"name": "X", "manager": pointer("_User", "ghost")}, 142, "manager must point to an existing _User"),
    ]
    for class_name, body, code, message in cases:
        reply = await api.post(f"/classes/{class_name}", body, token=w.t_admin)
        assert error(reply) == (400, code, message), (class_name, body)
    reply = await api.put(f"/classes/Product/{w.product}", {"stock": 3}, token=w.t_admin)
    assert error(reply) == (400, 119, "stock is maintained by the server")


async def test_users_cannot_label_themselves_managers(api):
    reply = await api.post("/users", {"username": "eve", "password": "pw", "role": "admin"})
    assert error(reply) == (400, 119, "role is maintained by the server")
    eve = await api.signup("eve")
    assert eve["role"] == "staff"
    reply = await api.put(f"/users/{eve['objectId']}", {"role": "manager"}, token=eve["sessionToken"])
    assert error(reply) == (400, 119, "role is maintained by the server")


# ------------------------------------------------------------------ live dashboards

async def test_stock_changes_reach_each_managers_dashboard_live(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 5)
    await stock_in(api, w, w.s2, 5)
    async with LiveClient(api.ws_url) as north, LiveClient(api.ws_url) as boss:
        await north.connect(session_token=w.t1)
        await north.subscribe("Inventory")
        await boss.connect(session_token=w.t_admin)
        await boss.subscribe("Inventory", {"store": pointer("Store", w.s2)})
        await api.create("Transaction", move(w.s2, w.product, 2, "out"), token=w.t2)
        event = await boss.next_event()
        assert (event["op"], event["object"]["quantity"]) == ("update", 3)
        await north.no_event()
        await api.create("Transaction", move(w.s1, w.product, 1, "out"), token=w.t1)
        event = await north.next_event()
        assert (event["op"], event["object"]["quantity"], event["original"]["quantity"]) == ("update", 4, 5)
        await boss.no_event()


async def test_low_stock_rows_enter_a_live_low_stock_view(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 6)
    mine = await row_id(api, w.s1, w.product)
    assert (await api.put(f"/classes/Inventory/{mine}", {"threshold": 5}, token=w.t1)).status == 200
    async with LiveClient(api.ws_url) as live:
        await live.connect(session_token=w.t1)
        await live.subscribe("Inventory", {"lowStock": True})
        await api.create("Transaction", move(w.s1, w.product, 2, "out"), token=w.t1)
        event = await live.next_event()
        assert (event["op"], event["object"]["quantity"], event["object"]["lowStock"]) == ("enter", 4, True)
        await api.create("Transaction", move(w.s1, w.product, 3, "in"), token=w.t1)
        # The stock moves first, then the flag follows.
        event = await live.next_event()
        assert (event["op"], event["object"]["quantity"], event["object"]["lowStock"]) == ("update", 7, True)
        event = await live.next_event()
        assert (event["op"], event["object"]["lowStock"]) == ("leave", False)


async def test_product_stock_lists_the_stores_the_caller_may_see(api):
    w = await make_world(api)
    await stock_in(api, w, w.s1, 4)
    await stock_in(api, w, w.s2, 6)
    reply = await api.call("productStock", {"productId": w.product}, token=w.t_admin)
    result = reply.body["result"]
    assert result["total"] == 10 and result["product"]["stock"] == 10
    assert [(s["store"]["name"], s["quantity"]) for s in result["stores"]] == [("North", 4), ("South", 6)]
    result = (await api.call("productStock", {"productId": w.product}, token=w.t1)).body["result"]
    assert (result["total"], [s["store"]["name"] for s in result["stores"]]) == (4, ["North"])
    assert error(await api.call("productStock", {"productId": w.product})) == (
        400, 142, "Validation failed. Please login to continue.")
