"""Save, delete and find triggers written in Python, through the REST API."""

from __future__ import annotations

import textwrap

import pytest
from conftest import make_settings

from bapp.core import triggers

CLOUD = '''
from bapp import cloud


@cloud.before_save("Inventory")
async def inventory_before(req):
    if req.object.get("quantity", 0) < 0:
        raise cloud.Error(142, "quantity must not be negative")
    if "name" in req.object:
        req.object["name"] = req.object["name"].strip()
    if req.original is not None:
        req.object["previousQuantity"] = req.original.get("quantity")
    req.object.pop("scratch", None)


@cloud.after_save("Inventory")
async def inventory_after(req):
    inv = req.object
    if inv.get("quantity", 0) < inv.get("threshold", 0):
        found = await cloud.find("PurchaseOrder", {"inventory": cloud.pointer(inv), "status": "open"},
                                 limit=1, master=True)
        if not found:
            await cloud.create("PurchaseOrder", {"inventory": cloud.pointer(inv), "status": "open"}, master=True)
    inv["quantity"] = 12345  # after_save cannot change the stored object


@cloud.before_save("Crash")
def crash(req):
    kind = req.object.get("kind")
    if kind == "plain":
        raise ValueError("plain failure")
    if kind == "empty":
        raise RuntimeError()
    if kind == "custom":
        raise cloud.Error(1001, "custom code")
    if kind == "notfound":
        raise cloud.Error(cloud.Error.OBJECT_NOT_FOUND, "nope")
    if kind == "badfield":
        req.object["bad-field"] = 1


@cloud.after_save("Noisy")
async def noisy(req):
    raise ValueError("after save broke")


@cloud.before_delete("Guarded")
async def guarded_before(req):
    if req.object.get("locked"):
        raise cloud.Error(142, "this one is locked")


@cloud.after_delete("Guarded")
async def guarded_after(req):
    await cloud.create("HookLog", {"event": "afterDelete", "target": req.object["objectId"],
                                   "cls": req.object["className"]}, master=True)
    if req.object.get("explode"):
        raise cloud.Error(1002, "after delete broke")


@cloud.before_find("Secret")
def secret_find(req):
    req.query["where"]["hidden"] = {"$ne": True}
    if not req.query["get"]:
        req.query["limit"] = 2
        req.query["order"] = ["rank"]


@cloud.after_find("Decorated")
def decorated_find(req):
    req.objects = [dict(o, decorated=True, cls=o["className"]) for o in req.objects if not o.get("drop")]


@cloud.before_save("Ctx")
def ctx_before(req):
    req.object["fromContext"] = req.context.get("tag")
    req.context["seenBy"] = "beforeSave"


@cloud.after_save("Ctx")
async def ctx_after(req):
    await cloud.create("HookLog", {"event": "ctx", "context": dict(req.context),
                                   "target": req.object["objectId"]}, master=True)


@cloud.before_save("Who")
def who(req):
    req.object["byUser"] = req.user["username"] if req.user else None
    req.object["byMaster"] = req.master
    req.object["installation"] = req.installation_id
    req.object["trigger"] = req.trigger_name
    req.object["userHasToken"] = bool(req.user and req.user.get("sessionToken"))
    req.object["userHasHash"] = bool(req.user and "_hashed_password" in req.user)


@cloud.after_save("Loop")
async def loop(req):
    await cloud.create("Loop", {"n": req.object["n"] + 1}, master=True)


@cloud.before_save("DeepLoop")
async def deep_loop(req):
    await cloud.create("DeepLoop", {"n": 1}, master=True)


@cloud.before_save("Checked", validator={"fields": {
    "name": {"required": True, "type": str},
    "status": {"default": "new", "options": ["new", "done"]},
    "code": {"constant": True, "default": "A"},
}})
def checked(req):
    pass


@cloud.before_save("Members", validator={"require_user": True})
def members(req):
    pass


@cloud.before_save("Skipped", validator={"skip_with_master_key": True})
def skipped(req):
    req.object["touched"] = True


@cloud.define("makeInventory")
async def make_inventory(req):
    return await cloud.create("Inventory", {"name": "  padded  ", "quantity": 1}, master=True)
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path), allow_client_class_creation=True)


async def _count(api, class_name: str, where: dict | None = None) -> int:
    reply = await api.get(f"/classes/{class_name}", params={"where": where or {}, "count": 1, "limit": 0}, master=True)
    assert reply.status == 200, reply.body
    return reply.body["count"]


# ------------------------------------------------------------------ beforeSave

async def test_before_save_mutation_is_saved_and_echoed(api):
    status, body = await api.post("/classes/Inventory", {"name": "  widget ", "quantity": 3, "scratch": "x"})
    assert status == 201
    assert body["name"] == "widget"
    assert set(body) == {"objectId", "createdAt", "name"}
    status, stored = await api.get(f"/classes/Inventory/{body['objectId']}")
    assert stored["name"] == "widget"
    assert "scratch" not in stored


async def test_before_save_rejection_writes_nothing(api):
    status, body = await api.post("/classes/Inventory", {"name": "w", "quantity": -1})
    assert (status, body) == (400, {"code": 142, "error": "quantity must not be negative"})
    assert await _count(api, "Inventory") == 0


async def test_before_save_sees_original_on_update(api):
    _, created = await api.post("/classes/Inventory", {"name": "w", "quantity": 7})
    status, body = await api.put(f"/classes/Inventory/{created['objectId']}", {"quantity": 5})
    assert status == 200
    assert body["previousQuantity"] == 7
    _, stored = await api.get(f"/classes/Inventory/{created['objectId']}")
    assert (stored["quantity"], stored["previousQuantity"], stored["name"]) == (5, 7, "w")


async def test_before_save_keeps_client_operations_atomic(api):
    _, created = await api.post("/classes/Inventory", {"name": "w", "quantity": 7})
    status, body = await api.put(f"/classes/Inventory/{created['objectId']}",
                                 {"quantity": {"__op": "Increment", "amount": 2}})
    assert status == 200
    assert body["quantity"] == 9
    assert body["previousQuantity"] == 7


@pytest.mark.parametrize(("kind", "code", "message", "http"), [
    ("plain", 141, "plain failure", 400),
    ("empty", 141, "Script failed. Unknown error.", 400),
    ("custom", 1001, "custom code", 400),
    ("notfound", 101, "nope", 404),
])
async def test_before_save_error_mapping(api, kind, code, message, http):
    status, body = await api.post("/classes/Crash", {"kind": kind})
    assert (status, body) == (http, {"code": code, "error": message})
    assert await _count(api, "Crash") == 0


async def test_before_save_output_is_revalidated(api):
    status, body = await api.post("/classes/Crash", {"kind": "badfield"})
    assert (status, body) == (400, {"code": 105, "error": "Invalid field name: bad-field."})


# ------------------------------------------------------------------ afterSave

async def test_after_save_finishes_before_the_response(api):
    status, inv = await api.post("/classes/Inventory", {"name": "bolt", "quantity": 1, "threshold": 5})
    assert status == 201
    _, orders = await api.get("/classes/PurchaseOrder", master=True)
    assert [o["inventory"] for o in orders["results"]] == [
        {"__type": "Pointer", "className": "Inventory", "objectId": inv["objectId"]}]
    assert orders["results"][0]["status"] == "open"
    # A second low-stock save finds the open order and creates no other.
    await api.put(f"/classes/Inventory/{inv['objectId']}", {"quantity": 0})
    assert await _count(api, "PurchaseOrder") == 1


async def test_after_save_cannot_change_the_saved_object(api):
    _, inv = await api.post("/classes/Inventory", {"name": "nut", "quantity": 9})
    _, stored = await api.get(f"/classes/Inventory/{inv['objectId']}")
    assert stored["quantity"] == 9


async def test_after_save_error_is_logged_not_returned(api, caplog):
    status, body = await api.post("/classes/Noisy", {"a": 1})
    assert status == 201
    assert set(body) == {"objectId", "createdAt"}
    assert await _count(api, "Noisy") == 1
    assert any("after save broke" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ delete

async def test_before_delete_can_veto(api):
    _, obj = await api.post("/classes/Guarded", {"locked": True})
    status, body = await api.delete(f"/classes/Guarded/{obj['objectId']}")
    assert (status, body) == (400, {"code": 142, "error": "this one is locked"})
    assert await _count(api, "Guarded") == 1
    assert await _count(api, "HookLog") == 0


async def test_after_delete_runs_before_the_response(api):
    _, obj = await api.post("/classes/Guarded", {"locked": False})
    status, body = await api.delete(f"/classes/Guarded/{obj['objectId']}")
    assert (status, body) == (200, {})
    _, logs = await api.get("/classes/HookLog", master=True)
    assert [(r["event"], r["target"], r["cls"]) for r in logs["results"]] == [
        ("afterDelete", obj["objectId"], "Guarded")]


async def test_after_delete_error_is_returned_but_the_object_is_gone(api):
    # As Parse Server: the afterDelete failure reaches the client.
    _, obj = await api.post("/classes/Guarded", {"explode": True})
    status, body = await api.delete(f"/classes/Guarded/{obj['objectId']}")
    assert (status, body) == (400, {"code": 1002, "error": "after delete broke"})
    assert await _count(api, "Guarded") == 0


# ------------------------------------------------------------------ find

async def test_before_find_adds_constraints_limit_and_order(api):
    for rank, hidden in ((3, False), (1, False), (2, True), (4, False)):
        await api.post("/classes/Secret", {"rank": rank, "hidden": hidden})
    status, body = await api.get("/classes/Secret")
    assert status == 200
    assert [r["rank"] for r in body["results"]] == [1, 3]


async def test_before_find_applies_to_get(api):
    _, hidden = await api.post("/classes/Secret", {"rank": 1, "hidden": True})
    _, shown = await api.post("/classes/Secret", {"rank": 2})
    status, body = await api.get(f"/classes/Secret/{hidden['objectId']}")
    assert (status, body) == (404, {"code": 101, "error": "Object not found."})
    status, body = await api.get(f"/classes/Secret/{shown['objectId']}")
    assert (status, body["rank"]) == (200, 2)


async def test_after_find_replaces_and_drops_results(api):
    _, kept = await api.post("/classes/Decorated", {"drop": False})
    await api.post("/classes/Decorated", {"drop": True})
    status, body = await api.get("/classes/Decorated")
    assert status == 200
    assert len(body["results"]) == 1
    row = body["results"][0]
    assert (row["objectId"], row["decorated"], row["cls"]) == (kept["objectId"], True, "Decorated")
    assert "className" not in row


# ------------------------------------------------------------------ request fields

async def test_context_from_header_is_shared_by_before_and_after_save(api):
    status, body = await api.post("/classes/Ctx", {"a": 1}, headers={"X-Parse-Cloud-Context": '{"tag": "t1"}'})
    assert status == 201
    assert body["fromContext"] == "t1"
    _, logs = await api.get("/classes/HookLog", master=True)
    assert [r["context"] for r in logs["results"]] == [{"tag": "t1", "seenBy": "beforeSave"}]


async def test_context_from_js_envelope(api):
    raw = ('{"_ApplicationId": "test-app", "_context": {"tag": "js"}, "a": 1}')
    status, body = await api.post("/classes/Ctx", raw=raw, app_id=None, headers={"Content-Type": "text/plain"})
    assert status == 201
    assert body["fromContext"] == "js"


async def test_bad_context_header_is_107(api):
    status, body = await api.post("/classes/Ctx", {"a": 1}, headers={"X-Parse-Cloud-Context": "[1]"})
    assert (status, body) == (400, {"code": 107, "error": "Invalid object for context."})


async def test_request_user_master_and_installation(api):
    user = await api.signup("alice")
    status, body = await api.post("/classes/Who", {}, token=user["sessionToken"],
                                  headers={"X-Parse-Installation-Id": "inst-1"})
    assert status == 201
    assert (body["byUser"], body["byMaster"], body["installation"], body["trigger"]) == (
        "alice", False, "inst-1", "beforeSave")
    assert (body["userHasToken"], body["userHasHash"]) == (True, False)
    # With the master key the session token is ignored: no user.
    status, body = await api.post("/classes/Who", {}, master=True, token=user["sessionToken"])
    assert status == 201
    assert (body["byUser"], body["byMaster"]) == (None, True)


# ------------------------------------------------------------------ nesting

async def test_writes_from_cloud_code_fire_triggers(api):
    status, body = await api.post("/functions/makeInventory", {})
    assert status == 200
    assert body["result"]["name"] == "padded"
    _, stored = await api.get(f"/classes/Inventory/{body['result']['objectId']}")
    assert stored["name"] == "padded"


async def test_recursion_guard_stops_an_after_save_loop(api):
    status, _ = await api.post("/classes/Loop", {"n": 0})
    assert status == 201
    # The client's object plus one per nesting level the guard allows.
    assert await _count(api, "Loop") == triggers.MAX_HOOK_DEPTH + 1


async def test_recursion_guard_fails_a_before_save_loop(api):
    status, body = await api.post("/classes/DeepLoop", {"n": 0})
    assert (status, body) == (400, {"code": 141, "error": f"Hooks nested more than {triggers.MAX_HOOK_DEPTH} levels deep."})
    assert await _count(api, "DeepLoop") == 0


async def test_cloud_writes_publish_live_query_events(api):
    events = []

    class Recorder:
        async def publish(self, class_name, original, current):
            events.append((class_name, original is None, (current or {}).get("name")))

    api.engine.hub = Recorder()
    await api.post("/functions/makeInventory", {})
    assert ("Inventory", True, "padded") in events


# ------------------------------------------------------------------ validators

async def test_trigger_validator_required_and_type(api):
    status, body = await api.post("/classes/Checked", {"status": "new"})
    assert (status, body) == (400, {"code": 142, "error": "Validation failed. Please specify data for name."})
    status, body = await api.post("/classes/Checked", {"name": 5})
    assert (status, body) == (400, {"code": 142, "error": "Validation failed. Invalid type for name. Expected: string"})


async def test_trigger_validator_default_options_and_constant(api):
    status, body = await api.post("/classes/Checked", {"name": "a", "code": "Z"})
    assert status == 201
    assert (body["status"], body["code"]) == ("new", "A")
    status, body = await api.post("/classes/Checked", {"name": "b", "status": "bad"})
    assert (status, body) == (400, {"code": 142, "error": "Validation failed. Invalid option for status. Expected: new, done"})


async def test_trigger_validator_constant_reverts_on_update(api):
    _, created = await api.post("/classes/Checked", {"name": "a"})
    status, _ = await api.put(f"/classes/Checked/{created['objectId']}", {"code": "B", "status": "done"})
    assert status == 200
    _, stored = await api.get(f"/classes/Checked/{created['objectId']}")
    assert (stored["code"], stored["status"]) == ("A", "done")


async def test_trigger_validator_is_skipped_for_master(api):
    status, body = await api.post("/classes/Checked", {"status": "whatever"}, master=True)
    assert status == 201


async def test_trigger_require_user(api):
    status, body = await api.post("/classes/Members", {})
    assert (status, body) == (400, {"code": 142, "error": "Validation failed. Please login to continue."})
    user = await api.signup("bob")
    status, _ = await api.post("/classes/Members", {}, token=user["sessionToken"])
    assert status == 201


async def test_skip_with_master_key_skips_the_handler(api):
    _, created = await api.post("/classes/Skipped", {}, master=True)
    _, stored = await api.get(f"/classes/Skipped/{created['objectId']}", master=True)
    assert "touched" not in stored
    _, created = await api.post("/classes/Skipped", {})
    _, stored = await api.get(f"/classes/Skipped/{created['objectId']}", master=True)
    assert stored["touched"] is True
