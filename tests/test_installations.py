"""_Installation: the rules mobile SDKs rely on when they save at launch."""


async def test_create_needs_device_type_and_an_id(api):
    reply = await api.post("/installations", {"deviceType": "ios"})
    assert reply.body == {"code": 135, "error": "at least one ID field (deviceToken, installationId) must be specified in this operation"}
    reply = await api.post("/installations", {"installationId": "abc"})
    assert reply.body == {"code": 135, "error": "deviceType must be specified in this operation"}


async def test_save_at_launch_becomes_an_update(api):
    first = await api.post("/installations", {"installationId": "ABC-1", "deviceType": "android", "badge": 1})
    assert first.status == 201 and "objectId" in first.body
    again = await api.post("/installations", {"installationId": "abc-1", "deviceType": "android", "badge": 2})
    assert again.status == 200 and set(again.body) == {"updatedAt"}
    got = (await api.get(f"/installations/{first.body['objectId']}")).body
    assert got["installationId"] == "abc-1" and got["badge"] == 2


async def test_installation_id_from_header(api):
    reply = await api.post("/installations", {"deviceType": "ios"}, headers={"X-Parse-Installation-Id": "HDR-9"})
    assert reply.status == 201
    got = (await api.get(f"/installations/{reply.body['objectId']}")).body
    assert got["installationId"] == "hdr-9"


async def test_ids_and_device_type_are_immutable(api):
    oid = (await api.post("/installations", {"installationId": "i1", "deviceType": "ios", "deviceToken": "t1"})).body["objectId"]
    reply = await api.put(f"/installations/{oid}", {"installationId": "other"})
    assert reply.body == {"code": 136, "error": "installationId may not be changed in this operation"}
    reply = await api.put(f"/installations/{oid}", {"deviceType": "android"})
    assert reply.body == {"code": 136, "error": "deviceType may not be changed in this operation"}
    assert (await api.put(f"/installations/{oid}", {"channels": ["news"]})).status == 200


async def test_ios_token_is_lowercased_and_duplicates_cleaned(api):
    token = "A" * 64
    first = (await api.post("/installations", {"installationId": "i1", "deviceType": "ios", "deviceToken": token})).body
    got = (await api.get(f"/installations/{first['objectId']}")).body
    assert got["deviceToken"] == "a" * 64
    # the same device token re-registered under a new installation id replaces the old row
    second = await api.post("/installations", {"installationId": "i2", "deviceType": "ios", "deviceToken": token})
    assert second.status == 201
    rows = (await api.get("/installations", master=True)).body["results"]
    assert [r["installationId"] for r in rows] == ["i2"]


async def test_clients_cannot_list_or_delete_installations(api):
    oid = (await api.post("/installations", {"installationId": "i1", "deviceType": "ios"})).body["objectId"]
    assert (await api.get("/installations")).body["code"] == 119
    assert (await api.delete(f"/installations/{oid}")).body["code"] == 119
    assert (await api.delete(f"/installations/{oid}", master=True)).status == 200
