async def test_create_and_get(api):
    status, body = await api.post("/classes/Thing", {"name": "a"}, master=True)
    assert status == 201
    status, got = await api.get(f"/classes/Thing/{body['objectId']}")
    assert status == 200
    assert got["name"] == "a"
