"""Conditional updates: ``engine.update(..., where=...)`` and
``cloud.update(..., where=...)`` write only when the object still matches the
condition, in the same atomic database operation (no overselling)."""

from __future__ import annotations

import asyncio

import pytest
from apps_support import db_latency
from conftest import make_settings

from bapp.core.auth import Auth

CLOUD = '''
from bapp import cloud


@cloud.define("take")
async def take(req):
    n = req.params["n"]
    try:
        saved = await cloud.update("Item", req.params["id"], {"stock": {"__op": "Increment", "amount": -n}},
                                   where={"stock": {"$gte": n}}, master=True)
    except cloud.Error as exc:
        return {"ok": False, "code": exc.code, "error": exc.message}
    return {"ok": True, "stock": saved["stock"]}


@cloud.define("takeNaively")
async def take_naively(req):
    # The read-modify-write the guard replaces; kept to show the race is real.
    item = await cloud.get("Item", req.params["id"], master=True)
    if item["stock"] < 1:
        return {"ok": False}
    await cloud.update("Item", req.params["id"], {"stock": item["stock"] - 1}, master=True)
    return {"ok": True}


@cloud.define("badCondition")
async def bad_condition(req):
    await cloud.update("Item", req.params["id"], {"stock": 1}, where=req.params["where"], master=True)


@cloud.define("asUser")
async def as_user(req):
    await cloud.update("Item", req.params["id"], {"stock": 99}, where={"stock": {"$gte": 0}}, user=req.user)
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(CLOUD)
    return make_settings(cloud_path=str(path), allow_client_class_creation=True)


async def _item(api, stock: int, acl: dict | None = None) -> str:
    body = {"stock": stock, "name": "x"}
    if acl is not None:
        body["ACL"] = acl
    status, created = await api.post("/classes/Item", body, master=True)
    assert status == 201
    return created["objectId"]


async def _stock(api, object_id: str) -> int:
    status, body = await api.get(f"/classes/Item/{object_id}", master=True)
    assert status == 200
    return body["stock"]


async def test_engine_update_applies_only_while_the_condition_holds(api):
    item = await _item(api, 5)
    master = Auth(master=True)
    out = await api.engine.update("Item", item, {"stock": {"__op": "Increment", "amount": -3}}, master,
                                  where={"stock": {"$gte": 3}})
    assert out["stock"] == 2
    with pytest.raises(Exception) as caught:
        await api.engine.update("Item", item, {"stock": {"__op": "Increment", "amount": -3}}, master,
                                where={"stock": {"$gte": 3}})
    assert caught.value.code == 101
    assert caught.value.message == "Object not found or it does not match the update condition."
    assert await _stock(api, item) == 2


async def test_cloud_update_where_refuses_and_leaves_object_unchanged(api):
    item = await _item(api, 2)
    status, body = await api.post("/functions/take", {"id": item, "n": 2})
    assert (status, body) == (200, {"result": {"ok": True, "stock": 0}})
    status, body = await api.post("/functions/take", {"id": item, "n": 1})
    assert body == {"result": {"ok": False, "code": 101,
                               "error": "Object not found or it does not match the update condition."}}
    assert await _stock(api, item) == 0


async def test_concurrent_conditional_decrements_never_oversell(api):
    item = await _item(api, 10)
    with db_latency(api.engine):
        replies = await asyncio.gather(*(api.post("/functions/take", {"id": item, "n": 1}) for _ in range(50)))
    assert all(r.status == 200 for r in replies)
    assert sum(1 for r in replies if r.body["result"]["ok"]) == 10
    assert await _stock(api, item) == 0


async def test_the_concurrency_test_can_see_a_race(api):
    """Under the same load a read-then-write oversells: the test above
    would catch an unguarded implementation."""
    item = await _item(api, 10)
    with db_latency(api.engine):
        replies = await asyncio.gather(*(api.post("/functions/takeNaively", {"id": item}) for _ in range(50)))
    assert sum(1 for r in replies if r.body["result"]["ok"]) > 10


async def test_a_missing_object_is_plain_object_not_found(api):
    status, body = await api.post("/functions/take", {"id": "nope", "n": 1})
    assert body == {"result": {"ok": False, "code": 101, "error": "Object not found."}}


@pytest.mark.parametrize("where, code", [
    ({}, 102),
    ([], 102),
    ({"stock": {"$bogus": 1}}, 107),
    ({"$or": "x"}, 102),
    ({"bad-key": 1}, 105),
])
async def test_invalid_conditions_are_query_errors_and_change_nothing(api, where, code):
    item = await _item(api, 4)
    status, body = await api.post("/functions/badCondition", {"id": item, "where": where})
    assert status == 400 and body["code"] == code, body
    assert await _stock(api, item) == 4


async def test_condition_does_not_bypass_acl(api):
    user = await api.signup("alice")
    item = await _item(api, 4, acl={"*": {"read": True}})
    status, body = await api.post("/functions/asUser", {"id": item}, token=user["sessionToken"])
    assert (status, body["code"]) == (404, 101)
    assert await _stock(api, item) == 4
