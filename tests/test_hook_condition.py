"""A beforeSave hook may guard the update it is part of: ``req.condition``
is ANDed into the one atomic database write, so a client's Increment can be
refused when it would take a quantity below zero, even under concurrency."""

from __future__ import annotations

import asyncio

import pytest
from conftest import make_settings

CLOUD = '''
import asyncio

from bapp import cloud


@cloud.before_save("Item")
async def guard_stock(req):
    if req.original is None or req.master:
        return
    if req.object.get("name") == "bad-condition":
        req.condition = {"stock": {"$nope": 1}}
        return
    delta = req.object["stock"] - req.original["stock"]
    if req.object["stock"] < 0:
        raise cloud.Error(142, "stock must not be negative")
    if delta < 0:
        req.condition = {"stock": {"$gte": -delta}}
    # Let every concurrent request read the same original before any writes.
    await asyncio.sleep(0.05)


@cloud.before_save("Plain")
async def ignored_on_create(req):
    req.condition = {"stock": {"$gte": 1000}}
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(CLOUD)
    return make_settings(cloud_path=str(path), allow_client_class_creation=True)


async def _item(api, stock: int) -> str:
    status, body = await api.post("/classes/Item", {"stock": stock, "name": "x"})
    assert status == 201, body
    return body["objectId"]


async def test_concurrent_client_decrements_never_go_below_zero(api):
    item = await _item(api, 5)
    take = {"stock": {"__op": "Increment", "amount": -1}}
    replies = await asyncio.gather(*(api.put(f"/classes/Item/{item}", take) for _ in range(20)))
    assert sorted(r.body["stock"] for r in replies if r.status == 200) == [0, 1, 2, 3, 4]
    # All hooks read stock 5 before any write: the guard in the write refuses.
    assert {(r.status, r.body["code"], r.body["error"]) for r in replies if r.status != 200} == {
        (404, 101, "Object not found or it does not match the update condition.")}
    assert (await api.get(f"/classes/Item/{item}")).body["stock"] == 0


async def test_a_refused_write_changes_nothing(api):
    item = await _item(api, 3)
    replies = await asyncio.gather(*(
        api.put(f"/classes/Item/{item}", {"stock": {"__op": "Increment", "amount": -2}, "note": f"n{i}"})
        for i in range(6)))
    done = [i for i, r in enumerate(replies) if r.status == 200]
    assert len(done) == 1
    body = (await api.get(f"/classes/Item/{item}")).body
    assert (body["stock"], body["note"]) == (1, f"n{done[0]}")


async def test_an_invalid_hook_condition_is_a_query_error(api):
    item = await _item(api, 2)
    status, body = await api.put(f"/classes/Item/{item}", {"name": "bad-condition"})
    assert (status, body["code"], body["error"]) == (400, 107, "bad constraint: $nope")
    assert (await api.get(f"/classes/Item/{item}")).body["name"] == "x"


async def test_a_condition_set_on_create_is_ignored(api):
    status, body = await api.post("/classes/Plain", {"stock": 1})
    assert status == 201, body
