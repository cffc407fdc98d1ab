"""/config, /serverInfo, /aggregate, /purge."""


async def test_config_round_trip(api):
    assert (await api.get("/config")).body == {"params": {}}
    reply = await api.put("/config", {"params": {"welcome": "hi", "secret": 42}, "masterKeyOnly": {"secret": True}}, master=True)
    assert reply.body == {"result": True}
    assert (await api.get("/config")).body == {"params": {"welcome": "hi"}}
    master = (await api.get("/config", master=True)).body
    assert master == {"params": {"welcome": "hi", "secret": 42}, "masterKeyOnly": {"welcome": False, "secret": True}}
    reply = await api.put("/config", {"params": {"x": 1}})
    assert (reply.status, reply.body) == (403, {"error": "Permission denied"})
    await api.put("/config", {"params": {"welcome": {"__op": "Delete"}}}, master=True)
    assert (await api.get("/config")).body == {"params": {}}


async def test_server_info_is_master_only(api):
    assert (await api.get("/serverInfo")).status == 403
    body = (await api.get("/serverInfo", master=True)).body
    assert "parseServerVersion" in body and body["features"]["schemas"]["addClass"] is True


async def test_aggregate_and_distinct(api):
    for i, tag in enumerate(["a", "b", "a"]):
        await api.post("/classes/Sale", {"tag": tag, "amount": i + 1}, master=True)
    reply = await api.get("/aggregate/Sale", params={"pipeline": [{"$group": {"_id": "$tag", "total": {"$sum": "$amount"}}}, {"$sort": {"_id": 1}}]}, master=True)
    assert reply.body == {"results": [{"objectId": "a", "total": 4}, {"objectId": "b", "total": 2}]}
    reply = await api.get("/aggregate/Sale", params={"distinct": "tag"}, master=True)
    assert sorted(reply.body["results"]) == ["a", "b"]
    reply = await api.get("/aggregate/Sale", params={"distinct": "tag", "where": {"amount": {"$gt": 1}}}, master=True)
    assert sorted(reply.body["results"]) == ["a", "b"]
    reply = await api.get("/aggregate/Sale", params={"pipeline": [{"$match": {"amount": {"$gt": 2}}}]}, master=True)
    assert [r["tag"] for r in reply.body["results"]] == ["a"]
    assert (await api.get("/aggregate/Sale", params={"distinct": "tag"})).status == 403


async def test_aggregate_refuses_writes_and_code(api):
    await api.post("/classes/Sale", {"tag": "a"}, master=True)
    for pipeline in ([{"$out": "Other"}], [{"$merge": {"into": "Other"}}],
                     [{"$match": {"$where": "1"}}], [{"$group": {"_id": {"$function": {"body": "x"}}}}],
                     [{"$group": {"total": {"$sum": 1}}}], [{"match": {}}]):
        reply = await api.get("/aggregate/Sale", params={"pipeline": pipeline}, master=True)
        assert reply.status == 400 and reply.body["code"] == 102, (pipeline, reply.body)


async def test_purge(api):
    for _ in range(3):
        await api.post("/classes/Junk", {"a": 1}, master=True)
    assert (await api.delete("/purge/Junk")).status == 403
    assert (await api.delete("/purge/Junk", master=True)).body == {}
    assert (await api.get("/classes/Junk", params={"count": 1}, master=True)).body == {"results": [], "count": 0}
    assert (await api.delete("/purge/Missing", master=True)).body == {}


async def test_push_without_an_adapter(api):
    assert (await api.post("/push", {"channels": ["a"], "data": {"alert": "hi"}})).status == 403
    reply = await api.post("/push", {"channels": ["a"], "data": {"alert": "hi"}}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 115, "error": "Missing push configuration"})


async def test_analytics_events_are_accepted(api):
    assert (await api.post("/events/AppOpened", {})).body == {}
