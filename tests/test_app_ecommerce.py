"""The e-commerce storefront app (``bapp serve --app ecommerce``) end to end
over HTTP: the public catalogue, owned profiles and carts, orders placed
from the cart with server totals and atomic SKU stock, and live order
status for the customer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from apps_support import AppClient, LiveClient, app_server, db_latency, error, pointer

STORAGE = True  # the seed apps run on every store of tests/stores.py

STATUSES = "pending, paid, shipped, delivered, cancelled"


@dataclass
class Store:
    api: AppClient
    admin: dict
    alice: dict
    bob: dict
    tee: str  # product ids
    cap: str
    tee_s: str  # SKU ids
    tee_m: str
    cap_one: str

    @property
    def admin_token(self) -> str:
        return self.admin["sessionToken"]


@pytest.fixture
async def store():
    async with app_server("ecommerce") as api:
        admin = await api.admin("boss")
        token = admin["sessionToken"]
        tee = (await api.create("Product", {"name": "Tee", "price": 20, "description": "Cotton"}, token=token))["objectId"]
        cap = (await api.create("Product", {"name": "Cap", "price": 12.5}, token=token))["objectId"]

        async def sku(product: str, variation: str, stock: int) -> str:
            body = {"product": pointer("Product", product), "variation": variation, "stock": stock}
            return (await api.create("SKU", body, token=token))["objectId"]

        yield Store(api, admin, await api.signup("alice"), await api.signup("bob"), tee, cap,
                    await sku(tee, "S", 10), await sku(tee, "M", 2), await sku(cap, "One size", 5))


def skus(sku_id: str, count: int = 1) -> list[dict]:
    return [pointer("SKU", sku_id)] * count


async def stock(store: Store, sku_id: str) -> int:
    return (await store.api.fetch("SKU", sku_id))["stock"]


async def cart(store: Store, user: dict, items: list[dict], **extra) -> str:
    return (await store.api.create("Cart", {"items": items, **extra}, token=user["sessionToken"]))["objectId"]


async def order(store: Store, user: dict, body: dict):
    return await store.api.post("/classes/Order", body, token=user["sessionToken"])


async def count(store: Store, class_name: str) -> int:
    reply = await store.api.get(f"/classes/{class_name}", params={"count": 1, "limit": 0}, master=True)
    return reply.body["count"]


# ------------------------------------------------------------------ catalogue

async def test_catalogue_is_public_and_managed_by_admins(store):
    api = store.api
    status, body = await api.get("/classes/Product", params={"order": "name"})
    assert status == 200 and [(p["name"], p["price"]) for p in body["results"]] == [("Cap", 12.5), ("Tee", 20)]
    status, body = await api.get("/classes/SKU", params={"where": {"product": pointer("Product", store.tee)},
                                                         "order": "variation"})
    assert [(s["variation"], s["stock"]) for s in body["results"]] == [("M", 2), ("S", 10)]
    reply = await api.post("/classes/Product", {"name": "X", "price": 1}, token=store.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.put(f"/classes/SKU/{store.tee_s}", {"stock": 99}, token=store.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.put(f"/classes/SKU/{store.tee_s}", {"stock": 99})
    assert error(reply) == (400, 119, "Permission denied")
    status, _ = await api.put(f"/classes/SKU/{store.tee_s}", {"stock": 99}, token=store.admin_token)
    assert status == 200 and await stock(store, store.tee_s) == 99


@pytest.mark.parametrize("class_name, body, expected", [
    ("Product", {"name": "X", "price": -0.5}, (400, 142, "price must be a non-negative number")),
    ("Product", {"name": "X"}, (400, 142, "price is required")),
    ("SKU", {"variation": "L", "stock": 1}, (400, 142, "product is required")),
    ("SKU", {"product": pointer("Product", "gone0001"), "stock": 1},
     (400, 142, "product points to a missing Product: gone0001")),
    ("SKU", {"product": "TEE", "stock": -1}, (400, 142, "stock must be a non-negative whole number")),
    ("SKU", {"product": "TEE", "stock": 0.5}, (400, 142, "stock must be a non-negative whole number")),
    ("SKU", {"product": "TEE", "stock": "many"}, (400, 111, "schema mismatch for SKU.stock; expected Number but got String")),
])
async def test_catalogue_validation(store, class_name, body, expected):
    if body.get("product") == "TEE":
        body = {**body, "product": pointer("Product", store.tee)}
    before = await count(store, class_name)
    assert error(await store.api.post(f"/classes/{class_name}", body, token=store.admin_token)) == expected
    assert await count(store, class_name) == before


async def test_a_sku_keeps_its_product_and_deleting_a_product_deletes_its_skus(store):
    api = store.api
    reply = await api.put(f"/classes/SKU/{store.tee_s}", {"product": pointer("Product", store.cap)},
                          token=store.admin_token)
    assert error(reply) == (400, 142, "product cannot be changed")
    status, _ = await api.delete(f"/classes/Product/{store.tee}", token=store.admin_token)
    assert status == 200
    status, body = await api.get("/classes/SKU")
    assert [s["objectId"] for s in body["results"]] == [store.cap_one]


# ------------------------------------------------------------------ customer profiles

async def test_customer_profiles_are_owned(store):
    api = store.api
    alice, bob = store.alice["sessionToken"], store.bob["sessionToken"]
    status, created = await api.post("/classes/Customer", {"name": "Alice A", "email": "alice@example.com",
                                                           "address": "1 Main St"}, token=alice)
    assert status == 201
    profile = created["objectId"]
    saved = await api.fetch("Customer", profile)
    assert saved["user"] == pointer("_User", store.alice["objectId"])
    assert saved["ACL"] == {store.alice["objectId"]: {"read": True, "write": True},
                            "role:admin": {"read": True, "write": True}}
    status, mine = await api.get("/classes/Customer", token=alice)
    assert [c["objectId"] for c in mine["results"]] == [profile]
    status, theirs = await api.get("/classes/Customer", token=bob)
    assert status == 200 and theirs["results"] == []
    assert error(await api.get(f"/classes/Customer/{profile}", token=bob)) == (404, 101, "Object not found.")
    assert error(await api.put(f"/classes/Customer/{profile}", {"name": "Mallory"}, token=bob)) == (
        404, 101, "Object not found.")
    assert error(await api.delete(f"/classes/Customer/{profile}", token=bob)) == (404, 101, "Object not found.")
    status, _ = await api.put(f"/classes/Customer/{profile}", {"address": "2 Side St"}, token=alice)
    assert status == 200 and (await api.fetch("Customer", profile))["address"] == "2 Side St"
    status, body = await api.get("/classes/Customer", token=store.admin_token)
    assert [c["objectId"] for c in body["results"]] == [profile]


@pytest.mark.parametrize("body, expected", [
    ({"name": "A", "email": "not an email"}, (400, 125, "Email address format is invalid.")),
    ({"name": "A", "email": "a@b"}, (400, 125, "Email address format is invalid.")),
    ({"name": "A"}, (400, 142, "email is required")),
    ({"email": "a@example.com"}, (400, 142, "name is required")),
    ({"name": "A", "email": "a@example.com", "user": "BOB"}, (400, 119, "A customer profile can only be created for yourself")),
    ({"name": "A", "email": "a@example.com", "user": pointer("_User", "ghost123")},
     (400, 119, "A customer profile can only be created for yourself")),
])
async def test_customer_validation(store, body, expected):
    if body.get("user") == "BOB":
        body = {**body, "user": pointer("_User", store.bob["objectId"])}
    assert error(await store.api.post("/classes/Customer", body, token=store.alice["sessionToken"])) == expected
    assert await count(store, "Customer") == 0


async def test_one_profile_per_account_and_no_email_typos_later(store):
    api = store.api
    alice = store.alice["sessionToken"]
    profile = (await api.create("Customer", {"name": "A", "email": "a@example.com"}, token=alice))["objectId"]
    reply = await api.post("/classes/Customer", {"name": "A2", "email": "a2@example.com"}, token=alice)
    assert error(reply) == (400, 137, f"user {store.alice['objectId']} already has a customer profile")
    reply = await api.put(f"/classes/Customer/{profile}", {"email": "broken@"}, token=alice)
    assert error(reply) == (400, 125, "Email address format is invalid.")
    reply = await api.put(f"/classes/Customer/{profile}", {"user": pointer("_User", store.bob["objectId"])}, token=alice)
    assert error(reply) == (400, 142, "user cannot be changed")
    reply = await api.put(f"/classes/Customer/{profile}", {"ACL": {"*": {"read": True}}}, token=alice)
    assert error(reply) == (400, 142, "ACL cannot be changed")


async def test_account_address_and_email_stay_private(store):
    api = store.api
    carl = await api.signup("carl", email="carl@example.com", address="3 Hill Rd")
    status, me = await api.get("/users/me", token=carl["sessionToken"])
    assert status == 200 and (me["email"], me["address"]) == ("carl@example.com", "3 Hill Rd")
    reply = await api.get(f"/users/{carl['objectId']}", token=store.alice["sessionToken"])
    assert error(reply) == (404, 101, "Object not found.")
    status, listed = await api.get("/users", params={"where": {"username": "carl"}}, token=store.admin_token)
    assert [(u["email"], u["address"]) for u in listed["results"]] == [("carl@example.com", "3 Hill Rd")]
    reply = await api.post("/users", {"username": "dan", "password": "pw", "email": "dan-at-example"})
    assert error(reply) == (400, 125, "Email address format is invalid.")


# ------------------------------------------------------------------ carts

async def test_cart_total_is_computed_by_the_server(store):
    api = store.api
    alice = store.alice["sessionToken"]
    status, body = await api.post("/classes/Cart", {"items": skus(store.tee_s, 2) + skus(store.cap_one), "total": 1},
                                  token=alice)
    assert status == 201 and body["total"] == 52.5
    basket = body["objectId"]
    status, body = await api.put(f"/classes/Cart/{basket}", {"items": {"__op": "Add", "objects": skus(store.tee_m)}},
                                 token=alice)
    assert status == 200 and body["total"] == 72.5
    saved = await api.fetch("Cart", basket)
    assert saved["total"] == 72.5 and len(saved["items"]) == 4
    assert saved["user"] == pointer("_User", store.alice["objectId"])


async def test_carts_are_private_to_their_owner(store):
    api = store.api
    basket = await cart(store, store.alice, skus(store.tee_s))
    bob = store.bob["sessionToken"]
    status, body = await api.get("/classes/Cart", token=bob)
    assert status == 200 and body["results"] == []
    assert error(await api.get(f"/classes/Cart/{basket}", token=bob)) == (404, 101, "Object not found.")
    assert error(await api.put(f"/classes/Cart/{basket}", {"items": []}, token=bob)) == (404, 101, "Object not found.")
    status, body = await api.get("/classes/Cart")
    assert (status, body) == (200, {"results": []})
    reply = await api.post("/classes/Cart", {"items": [], "user": pointer("_User", store.alice["objectId"])}, token=bob)
    assert error(reply) == (400, 119, "A cart can only be created for yourself")


@pytest.mark.parametrize("items, expected", [
    ([pointer("SKU", "gone0001")], (400, 142, "items points to a missing SKU: gone0001")),
    ([pointer("Product", "x")], (400, 111, "items must be a pointer to SKU")),
    ("SKU", (400, 111, "items must be an array of pointers to SKU")),
])
async def test_cart_validation(store, items, expected):
    reply = await store.api.post("/classes/Cart", {"items": items}, token=store.alice["sessionToken"])
    assert error(reply) == expected


# ------------------------------------------------------------------ orders

async def test_order_from_the_cart(store):
    api = store.api
    profile = (await api.create("Customer", {"name": "Alice", "email": "alice@example.com"},
                                token=store.alice["sessionToken"]))["objectId"]
    basket = await cart(store, store.alice, skus(store.tee_s, 3) + skus(store.cap_one))
    status, body = await order(store, store.alice, {"cart": pointer("Cart", basket), "total": 0.01})
    assert status == 201
    assert body["total"] == 72.5 and body["status"] == "pending"  # 3 x 20 + 12.5; the client's 0.01 is ignored
    saved = await api.fetch("Order", body["objectId"])
    assert saved["items"] == skus(store.tee_s, 3) + skus(store.cap_one)
    assert saved["products"] == [pointer("Product", store.tee), pointer("Product", store.cap)]
    assert saved["customer"] == pointer("Customer", profile)
    assert saved["user"] == pointer("_User", store.alice["objectId"])
    assert (await stock(store, store.tee_s), await stock(store, store.cap_one)) == (7, 4)
    emptied = await api.fetch("Cart", basket)
    assert (emptied["items"], emptied["total"]) == ([], 0)


async def test_order_with_items(store):
    status, body = await order(store, store.bob, {"items": skus(store.tee_m, 2), "total": 1000})
    assert status == 201 and body["total"] == 40
    assert await stock(store, store.tee_m) == 0


async def test_insufficient_stock_is_refused_and_takes_nothing(store):
    basket = await cart(store, store.alice, skus(store.tee_s, 2) + skus(store.tee_m, 3))
    reply = await order(store, store.alice, {"cart": pointer("Cart", basket)})
    assert error(reply) == (400, 142, f"Insufficient stock for SKU {store.tee_m}")
    assert (await stock(store, store.tee_s), await stock(store, store.tee_m)) == (10, 2)
    assert await count(store, "Order") == 0
    assert len((await store.api.fetch("Cart", basket))["items"]) == 5  # the cart is kept


async def test_fifty_concurrent_orders_for_the_last_ten_units_of_a_sku(store):
    api = store.api
    buyers = [store.alice, store.bob] + [await api.signup(f"buyer{i}") for i in range(3)]
    with db_latency(api.engine):
        replies = await asyncio.gather(*(order(store, buyers[i % len(buyers)], {"items": skus(store.tee_s)})
                                         for i in range(50)))
    assert sorted(r.status for r in replies) == [201] * 10 + [400] * 40
    assert {error(r) for r in replies if r.status == 400} == {(400, 142, f"Insufficient stock for SKU {store.tee_s}")}
    assert await stock(store, store.tee_s) == 0
    assert await count(store, "Order") == 10


@pytest.mark.parametrize("body, expected", [
    ({}, (400, 142, "items is required")),
    ({"items": []}, (400, 142, "items is required")),
    ({"items": [pointer("SKU", "gone0001")]}, (400, 142, "items points to a missing SKU: gone0001")),
    ({"items": "S"}, (400, 111, "items must be an array of pointers to SKU")),
    ({"cart": pointer("Cart", "gone0001")}, (400, 142, "cart points to a missing Cart: gone0001")),
    ({"cart": "ALICE_CART", "items": "ONE"}, (400, 142, "Send either cart or items, not both")),
    ({"cart": "EMPTY_CART"}, (400, 142, "The cart is empty")),
    ({"cart": "BOB_CART"}, (400, 119, "That cart belongs to someone else")),
    ({"items": "ONE", "customer": pointer("Customer", "gone0001")},
     (400, 142, "customer points to a missing Customer: gone0001")),
    ({"items": "ONE", "customer": "BOB_PROFILE"}, (400, 119, "That customer profile belongs to someone else")),
    ({"items": "ONE", "status": "delivered"}, (400, 119, "A new order starts as pending")),
    ({"items": "ONE", "status": "teleported"}, (400, 142, f"status must be one of {STATUSES}")),
    ({"items": "ONE", "coupon": "FREE"}, (400, 119, "Permission denied")),
    ({"items": "ONE", "user": "BOB"}, (400, 119, "An order can only be created for yourself")),
])
async def test_order_validation_takes_no_stock(store, body, expected):
    api = store.api
    refs = {
        "ALICE_CART": pointer("Cart", await cart(store, store.alice, skus(store.tee_s))),
        "EMPTY_CART": pointer("Cart", await cart(store, store.alice, [])),
        "BOB_CART": pointer("Cart", await cart(store, store.bob, skus(store.tee_s))),
        "BOB_PROFILE": pointer("Customer", (await api.create("Customer", {"name": "B", "email": "b@example.com"},
                                                             token=store.bob["sessionToken"]))["objectId"]),
        "ONE": skus(store.tee_s),
        "BOB": pointer("_User", store.bob["objectId"]),
    }
    body = {k: refs.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    assert error(await order(store, store.alice, body)) == expected
    assert await stock(store, store.tee_s) == 10
    assert await count(store, "Order") == 0


async def test_customers_see_only_their_own_orders(store):
    api = store.api
    a = (await order(store, store.alice, {"items": skus(store.tee_s)})).body["objectId"]
    b = (await order(store, store.bob, {"items": skus(store.cap_one)})).body["objectId"]
    status, body = await api.get("/classes/Order", token=store.alice["sessionToken"])
    assert status == 200 and [o["objectId"] for o in body["results"]] == [a]
    assert error(await api.get(f"/classes/Order/{b}", token=store.alice["sessionToken"])) == (
        404, 101, "Object not found.")
    reply = await api.get("/classes/Order", params={"where": {"user": pointer("_User", store.bob["objectId"])}},
                          token=store.alice["sessionToken"])
    assert reply.body == {"results": []}
    # anonymous: the pointer permission matches nobody (Parse Server answers an empty list too)
    assert tuple(await api.get("/classes/Order")) == (200, {"results": []})
    status, body = await api.get("/classes/Order", params={"order": "createdAt"}, token=store.admin_token)
    assert [o["objectId"] for o in body["results"]] == [a, b]


async def test_status_changes_are_for_admins_within_the_fixed_set(store):
    api = store.api
    placed = (await order(store, store.alice, {"items": skus(store.tee_s)})).body["objectId"]
    reply = await api.put(f"/classes/Order/{placed}", {"status": "shipped"}, token=store.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.put(f"/classes/Order/{placed}", {"status": "lost"}, token=store.admin_token)
    assert error(reply) == (400, 142, f"status must be one of {STATUSES}")
    reply = await api.put(f"/classes/Order/{placed}", {"total": 0}, token=store.admin_token)
    assert error(reply) == (400, 142, "total cannot be changed after the order is placed")
    for status in ("paid", "shipped", "delivered"):
        reply = await api.put(f"/classes/Order/{placed}", {"status": status}, token=store.admin_token)
        assert reply.status == 200
    assert (await api.fetch("Order", placed))["status"] == "delivered"


async def test_order_status_changes_reach_the_customer_live(store):
    api = store.api
    placed = (await order(store, store.alice, {"items": skus(store.tee_s)})).body["objectId"]
    async with LiveClient(api.ws_url) as alice_live, LiveClient(api.ws_url) as bob_live:
        await alice_live.connect(session_token=store.alice["sessionToken"])
        await alice_live.subscribe("Order", {"user": pointer("_User", store.alice["objectId"])})
        await bob_live.connect(session_token=store.bob["sessionToken"])
        await bob_live.subscribe("Order", {})
        for status in ("paid", "shipped"):
            reply = await api.put(f"/classes/Order/{placed}", {"status": status}, token=store.admin_token)
            assert reply.status == 200
            event = await alice_live.next_event()
            assert (event["op"], event["object"]["objectId"], event["object"]["status"]) == ("update", placed, status)
        await bob_live.no_event()


async def test_cancelling_puts_the_units_back_once(store):
    api = store.api
    placed = (await order(store, store.alice, {"items": skus(store.tee_s, 4) + skus(store.cap_one)})).body["objectId"]
    with db_latency(api.engine):
        replies = await asyncio.gather(*(api.put(f"/classes/Order/{placed}", {"status": "cancelled"},
                                                 token=store.admin_token) for _ in range(5)))
    assert [r.status for r in replies] == [200] * 5
    assert (await stock(store, store.tee_s), await stock(store, store.cap_one)) == (10, 5)
    assert (await api.fetch("Order", placed))["restocked"] is True
    reply = await api.put(f"/classes/Order/{placed}", {"status": "paid"}, token=store.admin_token)
    assert error(reply) == (400, 142, "A cancelled order cannot change status")


async def test_customers_withdraw_only_pending_orders(store):
    api = store.api
    alice = store.alice["sessionToken"]
    first = (await order(store, store.alice, {"items": skus(store.tee_s, 2)})).body["objectId"]
    second = (await order(store, store.alice, {"items": skus(store.tee_s, 3)})).body["objectId"]
    await api.put(f"/classes/Order/{second}", {"status": "shipped"}, token=store.admin_token)
    assert error(await api.delete(f"/classes/Order/{first}", token=store.bob["sessionToken"])) == (
        404, 101, "Object not found.")
    assert error(await api.delete(f"/classes/Order/{second}", token=alice)) == (
        400, 142, "Only a pending order can be cancelled by deleting it")
    status, _ = await api.delete(f"/classes/Order/{first}", token=alice)
    assert status == 200
    assert await stock(store, store.tee_s) == 7  # 2 back, the 3 shipped stay gone
