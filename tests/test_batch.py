"""POST /batch with Parse Server's request and response shapes."""


async def test_batch_mixed_results(api):
    oid = (await api.post("/classes/Thing", {"n": 1}, master=True)).body["objectId"]
    # Sub-requests run concurrently: the delete targets another object, so
    # the outcome does not depend on the order a real database runs them in.
    other = (await api.post("/classes/Thing", {"n": 0}, master=True)).body["objectId"]
    reply = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Thing", "body": {"n": 2}},
        {"method": "PUT", "path": f"/parse/classes/Thing/{oid}", "body": {"n": {"__op": "Increment", "amount": 5}}},
        {"method": "GET", "path": f"/parse/classes/Thing/{oid}"},
        {"method": "PUT", "path": "/parse/classes/Thing/missing000", "body": {"n": 1}},
        {"method": "DELETE", "path": f"/parse/classes/Thing/{other}"},
    ]})
    assert reply.status == 200
    created, updated, fetched, missing, deleted = reply.body
    assert set(created["success"]) == {"objectId", "createdAt"}
    assert updated["success"]["n"] == 6 and "updatedAt" in updated["success"]
    assert fetched["success"]["objectId"] == oid
    assert missing == {"error": {"code": 101, "error": "Object not found."}}
    assert deleted == {"success": {}}


async def test_batch_path_must_carry_mount(api):
    reply = await api.post("/batch", {"requests": [{"method": "POST", "path": "/classes/Thing", "body": {}}]}, master=True)
    assert reply.status == 400 and reply.body == {"code": 107, "error": "cannot route batch path /classes/Thing"}


async def test_batch_shapes_refused(api):
    assert (await api.post("/batch", {"requests": {"a": 1}})).body == {"code": 107, "error": "requests must be an array"}
    reply = await api.post("/batch", {"requests": [{"method": "POST", "path": "/parse/batch", "body": {"requests": []}}]})
    assert reply.body["code"] == 107
    reply = await api.post("/batch", {"requests": [{"method": 5, "path": "/parse/classes/X"}]})
    assert reply.body["code"] == 107
    reply = await api.post("/batch", {"requests": [{"method": "PATCH", "path": "/parse/classes/X"}]})
    assert reply.body == {"code": 107, "error": "cannot route PATCH /classes/X"}


async def test_batch_size_limit(api):
    requests = [{"method": "POST", "path": "/parse/classes/Thing", "body": {}}] * 1001
    reply = await api.post("/batch", {"requests": requests}, master=True)
    assert reply.status == 400 and reply.body["code"] == 107
    assert "exceeds the limit of 1000" in reply.body["error"]


async def test_batch_uses_outer_auth(api):
    await api.post("/classes/Thing", {"n": 1}, master=True)
    reply = await api.post("/batch", {"requests": [{"method": "POST", "path": "/parse/classes/Brand", "body": {}}]})
    assert reply.body[0]["error"]["code"] == 119
    reply = await api.post("/batch", {"requests": [{"method": "POST", "path": "/parse/classes/Brand", "body": {}}]}, master=True)
    assert "success" in reply.body[0]
