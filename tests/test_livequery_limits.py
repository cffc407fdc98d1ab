"""Bounds on what one LiveQuery socket may hold."""

from test_livequery import LiveSocket, make_class

from bapp.livequery import server


async def test_subscriptions_per_client_are_bounded(api, monkeypatch):
    monkeypatch.setattr(server, "MAX_SUBSCRIPTIONS_PER_CLIENT", 3)
    await make_class(api, "Item", n=1)
    sock = await LiveSocket.connected(api)
    try:
        for request_id in (1, 2, 3):
            await sock.subscribe("Item", {"n": request_id}, request_id=request_id)
        reply = await sock.subscribe("Item", {"n": 4}, request_id=4, expect="error")
        assert (reply["code"], reply["requestId"]) == (102, 4)
        # re-using a held requestId replaces it and stays within the bound
        await sock.subscribe("Item", {"n": 5}, request_id=3)
    finally:
        await sock.close()
