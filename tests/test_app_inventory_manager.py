"""The inventory manager app end to end over HTTP: SKUs at locations, one
call for a SKU's stock everywhere, alerts owned by their creator, a
notification recorded once per drop below the threshold and pushed live,
quantities that never go below zero, validation with exact codes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from apps_support import AppClient, LiveClient, app_server, error, pointer

STORAGE = True  # the seed apps run on every store of tests/stores.py

APP = "inventory_manager"


@pytest.fixture
async def api():
    async with app_server(APP) as client:
        yield client


@dataclass
class World:
    admin: dict
    manager: dict
    alice: dict
    bob: dict
    north: str
    south: str
    sku: str
    row: str  # the SKU's Inventory row at north (10 units)


async def make_world(api: AppClient) -> World:
    admin = await api.admin("boss")
    manager = await api.admin("keeper", role="manager")
    alice, bob = await api.signup("alice"), await api.signup("bob")
    north = await api.create("Location", {"name": "North", "address": "1 Fjord Rd"}, token=admin["sessionToken"])
    south = await api.create("Location", {"name": "South"}, token=admin["sessionToken"])
    sku = await api.create("SKU", {"name": "Bolt", "identifier": "B-1"}, token=manager["sessionToken"])
    row = await api.create("Inventory", {"sku": pointer("SKU", sku["objectId"]), "quantity": 10,
                                         "location": pointer("Location", north["objectId"])},
                           token=manager["sessionToken"])
    return World(admin, manager, alice, bob, north["objectId"], south["objectId"], sku["objectId"], row["objectId"])


async def set_quantity(api: AppClient, w: World, value, row: str | None = None):
    reply = await api.put(f"/classes/Inventory/{row or w.row}", {"quantity": value},
                          token=w.manager["sessionToken"])
    assert reply.status == 200, reply.body
    return reply


async def alert(api: AppClient, w: World, user: dict, threshold: float, **extra) -> dict:
    return await api.create("Alert", {"sku": pointer("SKU", w.sku), "threshold": threshold, **extra},
                            token=user["sessionToken"])


async def notifications(api: AppClient, **where) -> list[dict]:
    status, body = await api.get("/classes/Notification", params={"where": where, "order": "createdAt"},
                                 master=True)
    assert status == 200
    return body["results"]


# ------------------------------------------------------------------ stock everywhere

async def test_sku_stock_shows_every_location_and_the_total_in_one_call(api):
    w = await make_world(api)
    await api.create("Inventory", {"sku": pointer("SKU", w.sku), "location": pointer("Location", w.south),
                                   "quantity": 4}, token=w.manager["sessionToken"])
    third = await api.create("Location", {"name": "East"}, token=w.admin["sessionToken"])
    for params in ({"skuId": w.sku}, {"identifier": "B-1"}):
        reply = await api.call("skuStock", params, token=w.alice["sessionToken"])
        assert reply.status == 200, reply.body
        result = reply.body["result"]
        assert (result["sku"]["objectId"], result["sku"]["stockLevel"], result["total"]) == (w.sku, 14, 14)
        assert [(x["location"]["name"], x["quantity"]) for x in result["locations"]] == [
            ("East", 0), ("North", 10), ("South", 4)]
    assert third["objectId"]
    assert error(await api.call("skuStock", {"skuId": w.sku})) == (
        400, 142, "Validation failed. Please login to continue.")
    assert error(await api.call("skuStock", {"identifier": "nope"}, token=w.alice["sessionToken"])) == (
        404, 101, "Object not found.")
    assert error(await api.call("skuStock", {}, token=w.alice["sessionToken"])) == (
        400, 142, "skuId or identifier is required")


async def test_the_sku_total_follows_every_change_and_is_server_managed(api):
    w = await make_world(api)
    second = await api.create("Inventory", {"sku": pointer("SKU", w.sku), "quantity": 5,
                                            "location": pointer("Location", w.south)},
                              token=w.manager["sessionToken"])
    assert (await api.fetch("SKU", w.sku))["stockLevel"] == 15
    await set_quantity(api, w, {"__op": "Increment", "amount": -3})
    assert (await api.fetch("SKU", w.sku))["stockLevel"] == 12
    assert (await api.delete(f"/classes/Inventory/{second['objectId']}", token=w.admin["sessionToken"])).status == 200
    assert (await api.fetch("SKU", w.sku))["stockLevel"] == 7
    reply = await api.put(f"/classes/SKU/{w.sku}", {"stockLevel": 100}, token=w.manager["sessionToken"])
    assert error(reply) == (400, 119, "stockLevel is maintained by the server")


async def test_concurrent_decrements_never_go_below_zero(api):
    w = await make_world(api)
    take = {"quantity": {"__op": "Increment", "amount": -1}}
    replies = await asyncio.gather(*(api.put(f"/classes/Inventory/{w.row}", take, token=w.manager["sessionToken"])
                                     for _ in range(30)))
    assert [r.status for r in replies].count(200) == 10
    assert {error(r)[1] for r in replies if r.status != 200} <= {101, 142}
    assert (await api.fetch("Inventory", w.row))["quantity"] == 0
    assert (await api.fetch("SKU", w.sku))["stockLevel"] == 0


async def test_inventory_rules(api):
    w = await make_world(api)
    token = w.manager["sessionToken"]
    base = {"sku": pointer("SKU", w.sku), "location": pointer("Location", w.south), "quantity": 1}
    cases = [
        ({**base, "quantity": -1}, 142, "quantity must be a non-negative number"),
        ({**base, "quantity": "1"}, 142, "quantity must be a non-negative number"),
        ({k: v for k, v in base.items() if k != "quantity"}, 142, "quantity is required"),
        ({**base, "sku": pointer("SKU", "missing")}, 142, "sku must point to an existing SKU"),
        ({**base, "location": None}, 142, "location is required"),
        ({**base, "location": pointer("Location", w.north)}, 137,
         "This location already has an inventory row for this SKU"),
    ]
    for body, code, message in cases:
        body = {k: v for k, v in body.items() if v is not None}
        assert error(await api.post("/classes/Inventory", body, token=token)) == (400, code, message)
    created = await api.create("Inventory", base, token=token)
    assert created["user"] == pointer("_User", w.manager["objectId"])
    reply = await api.put(f"/classes/Inventory/{w.row}", {"location": pointer("Location", w.south)}, token=token)
    assert error(reply) == (400, 119, "location cannot be changed")
    reply = await api.post("/classes/Inventory", base, token=w.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")
    reply = await api.put(f"/classes/Inventory/{w.row}", {"quantity": 1}, token=w.alice["sessionToken"])
    assert error(reply) == (400, 119, "Permission denied")


async def test_catalogue_validation(api):
    w = await make_world(api)
    token = w.manager["sessionToken"]
    cases = [
        ("SKU", {"identifier": "X"}, 142, "name is required"),
        ("SKU", {"name": "X", "location": pointer("Location", "gone")}, 142,
         "location must point to an existing Location"),
        ("SKU", {"name": "X", "stockLevel": 3}, 119, "stockLevel is maintained by the server"),
        ("Location", {"name": ""}, 142, "name must be a non-empty string"),
    ]
    for class_name, body, code, message in cases:
        reply = await api.post(f"/classes/{class_name}", body, token=w.admin["sessionToken"] if class_name ==
                               "Location" else token)
        assert error(reply) == (400, code, message), body


# ------------------------------------------------------------------ alerts

async def test_alerts_belong_to_their_creator(api):
    w = await make_world(api)
    mine = await alert(api, w, w.alice, 3, notification="Reorder bolts")
    assert mine["createdBy"] == pointer("_User", w.alice["objectId"])
    path = f"/classes/Alert/{mine['objectId']}"
    assert (await api.get("/classes/Alert", token=w.bob["sessionToken"])).body["results"] == []
    assert error(await api.get(path, token=w.bob["sessionToken"])) == (404, 101, "Object not found.")
    assert error(await api.put(path, {"threshold": 1}, token=w.bob["sessionToken"])) == (
        404, 101, "Object not found.")
    assert error(await api.delete(path, token=w.bob["sessionToken"])) == (404, 101, "Object not found.")
    # Admins may see every alert but not change someone else's.
    assert [a["objectId"] for a in (await api.get("/classes/Alert", token=w.admin["sessionToken"])).body[
        "results"]] == [mine["objectId"]]
    assert error(await api.put(path, {"threshold": 1}, token=w.admin["sessionToken"])) == (
        404, 101, "Object not found.")
    assert (await api.put(path, {"threshold": 2}, token=w.alice["sessionToken"])).status == 200
    reply = await api.put(path, {"createdBy": pointer("_User", w.bob["objectId"])}, token=w.alice["sessionToken"])
    assert error(reply) == (400, 119, "createdBy cannot be changed")
    reply = await api.put(path, {"triggered": True}, token=w.alice["sessionToken"])
    assert error(reply) == (400, 119, "triggered is maintained by the server")
    assert (await api.delete(path, token=w.alice["sessionToken"])).status == 200


async def test_an_alert_cannot_be_created_for_someone_else(api):
    w = await make_world(api)
    reply = await api.post("/classes/Alert", {"sku": pointer("SKU", w.sku), "threshold": 1,
                                              "createdBy": pointer("_User", w.bob["objectId"])},
                           token=w.alice["sessionToken"])
    assert error(reply) == (400, 119, "An alert belongs to the user who creates it")
    assert error(await api.post("/classes/Alert", {"sku": pointer("SKU", w.sku), "threshold": 1})) == (
        404, 101, "Permission denied")


@pytest.mark.parametrize("body, message", [
    ({"threshold": 1}, "sku is required"),
    ({"sku": "SKU", "threshold": -1}, "threshold must be a non-negative number"),
    ({"sku": "SKU"}, "threshold is required"),
    ({"sku": "SKU", "threshold": 1, "active": "yes"}, "active must be a boolean"),
    ({"sku": {"__type": "Pointer", "className": "SKU", "objectId": "gone"}, "threshold": 1},
     "sku must point to an existing SKU"),
    ({"sku": "SKU", "threshold": 1, "location": {"__type": "Pointer", "className": "SKU", "objectId": "x"}},
     "location must be a pointer to Location"),
])
async def test_alert_validation(api, body, message):
    w = await make_world(api)
    if body.get("sku") == "SKU":
        body = {**body, "sku": pointer("SKU", w.sku)}
    assert error(await api.post("/classes/Alert", body, token=w.alice["sessionToken"])) == (400, 142, message)


async def test_a_drop_below_the_threshold_notifies_once_until_stock_recovers(api):
    w = await make_world(api)
    mine = await alert(api, w, w.alice, 5)
    await set_quantity(api, w, 5)  # at the threshold: not below it
    assert await notifications(api) == []
    await set_quantity(api, w, 4)
    [first] = await notifications(api)
    assert (first["quantity"], first["threshold"], first["message"]) == (4, 5, "Bolt is low: 4 left (threshold 5)")
    assert first["recipient"] == pointer("_User", w.alice["objectId"])
    assert first["alert"] == pointer("Alert", mine["objectId"])
    assert (await api.fetch("Alert", mine["objectId"]))["triggered"] is True
    await set_quantity(api, w, 2)
    await set_quantity(api, w, {"__op": "Increment", "amount": -1})
    assert len(await notifications(api)) == 1
    await set_quantity(api, w, 8)  # recovered: re-armed
    assert (await api.fetch("Alert", mine["objectId"]))["triggered"] is False
    assert len(await notifications(api)) == 1
    await set_quantity(api, w, 3)
    assert [n["quantity"] for n in await notifications(api)] == [4, 3]


async def test_concurrent_drops_record_a_single_notification(api):
    w = await make_world(api)
    await alert(api, w, w.alice, 8)
    take = {"quantity": {"__op": "Increment", "amount": -1}}
    replies = await asyncio.gather(*(api.put(f"/classes/Inventory/{w.row}", take, token=w.manager["sessionToken"])
                                     for _ in range(6)))
    assert all(r.status == 200 for r in replies)
    assert [n["quantity"] for n in await notifications(api)] in ([7], [6], [5], [4])
    assert len(await notifications(api)) == 1


async def test_alerts_watch_the_total_or_one_location_and_can_be_switched_off(api):
    w = await make_world(api)
    south = await api.create("Inventory", {"sku": pointer("SKU", w.sku), "location": pointer("Location", w.south),
                                           "quantity": 10}, token=w.manager["sessionToken"])
    total = await alert(api, w, w.alice, 15)
    local = await alert(api, w, w.bob, 5, location=pointer("Location", w.south), notification="South is low")
    off = await alert(api, w, w.bob, 100, active=False)
    await set_quantity(api, w, 4, row=south["objectId"])  # total 14, south 4
    fired = {n["alert"]["objectId"]: n for n in await notifications(api)}
    assert set(fired) == {total["objectId"], local["objectId"]}
    assert (fired[total["objectId"]]["quantity"], fired[local["objectId"]]["quantity"]) == (14, 4)
    assert fired[local["objectId"]]["message"] == "South is low"
    assert fired[local["objectId"]]["location"] == pointer("Location", w.south)
    assert off["objectId"] not in fired


async def test_an_alert_created_while_stock_is_low_fires_at_once(api):
    w = await make_world(api)
    mine = await alert(api, w, w.alice, 50)
    [note] = await notifications(api)
    assert (note["alert"]["objectId"], note["quantity"]) == (mine["objectId"], 10)
    await api.put(f"/classes/Alert/{mine['objectId']}", {"threshold": 60}, token=w.alice["sessionToken"])
    assert len(await notifications(api)) == 1


async def test_notifications_are_pushed_live_to_their_recipient_only(api):
    w = await make_world(api)
    await alert(api, w, w.alice, 5)
    async with LiveClient(api.ws_url) as alice, LiveClient(api.ws_url) as bob:
        await alice.connect(session_token=w.alice["sessionToken"])
        await alice.subscribe("Notification")
        await bob.connect(session_token=w.bob["sessionToken"])
        await bob.subscribe("Notification")
        await set_quantity(api, w, 1)
        event = await alice.next_event()
        assert (event["op"], event["object"]["quantity"], event["object"]["message"]) == (
            "create", 1, "Bolt is low: 1 left (threshold 5)")
        await bob.no_event()
        await set_quantity(api, w, 0)
        await alice.no_event()


async def test_the_recipient_may_mark_a_notification_read_and_nothing_else(api):
    w = await make_world(api)
    await alert(api, w, w.alice, 20)
    [note] = await notifications(api)
    path = f"/classes/Notification/{note['objectId']}"
    assert (await api.get("/classes/Notification", token=w.bob["sessionToken"])).body["results"] == []
    assert error(await api.put(path, {"read": True}, token=w.bob["sessionToken"])) == (
        404, 101, "Object not found.")
    assert error(await api.put(path, {"message": "x"}, token=w.alice["sessionToken"])) == (
        400, 119, "message is maintained by the server")
    assert error(await api.put(path, {"read": "yes"}, token=w.alice["sessionToken"])) == (
        400, 142, "read must be a boolean")
    assert (await api.put(path, {"read": True}, token=w.alice["sessionToken"])).status == 200
    assert error(await api.post("/classes/Notification", {"alert": note["alert"], "recipient": note["recipient"]},
                                token=w.alice["sessionToken"])) == (
        400, 119, "Permission denied")


async def test_admins_make_stock_keepers_with_assign_role(api):
    w = await make_world(api)
    body = {"name": "Nail"}
    assert error(await api.post("/classes/SKU", body, token=w.bob["sessionToken"])) == (
        400, 119, "Permission denied")
    assert error(await api.call("assignRole", {"username": "bob", "role": "manager"},
                                token=w.alice["sessionToken"])) == (
        400, 142, "Validation failed. User does not match the required roles.")
    assert error(await api.call("assignRole", {"username": "bob", "role": "admin"}, token=w.admin["sessionToken"])) \
        == (400, 142, "Validation failed. Invalid option for role. Expected: manager")
    assert error(await api.call("assignRole", {"username": "nobody", "role": "manager"},
                                token=w.admin["sessionToken"])) == (400, 142, "username must name an existing user")
    reply = await api.call("assignRole", {"username": "bob", "role": "manager"}, token=w.admin["sessionToken"])
    assert reply.body == {"result": {"userId": w.bob["objectId"], "role": "manager", "member": True}}
    assert (await api.post("/classes/SKU", body, token=w.bob["sessionToken"])).status == 201
    reply = await api.call("assignRole", {"userId": w.bob["objectId"], "role": "manager", "member": False},
                           token=w.admin["sessionToken"])
    assert reply.body["result"]["member"] is False
    assert error(await api.post("/classes/SKU", body, token=w.bob["sessionToken"])) == (
        400, 119, "Permission denied")
