"""Database round trips per request: cheap, deterministic performance tests."""

import pytest

COUNTED = ("create", "update", "delete", "find", "count", "load_schemas", "owning_ids", "related_ids",
           "delete_many", "save_schema")


@pytest.fixture
def calls(api):
    storage = api.engine.storage
    seen: list[str] = []
    for name in COUNTED:
        original = getattr(storage, name)

        def wrapper(*args, _name=name, _original=original, **kwargs):
            seen.append(_name)
            return _original(*args, **kwargs)

        setattr(storage, name, wrapper)
    return seen


async def test_crud_round_trips(api, calls):
    oid = (await api.post("/classes/Thing", {"n": 1}, master=True)).body["objectId"]
    calls.clear()
    await api.post("/classes/Thing", {"n": 2})
    assert calls == ["create"]
    calls.clear()
    await api.get(f"/classes/Thing/{oid}")
    assert calls == ["find"]
    calls.clear()
    await api.get("/classes/Thing", params={"where": {"n": {"$gt": 0}}, "limit": 10})
    assert calls == ["find"]
    calls.clear()
    await api.put(f"/classes/Thing/{oid}", {"n": {"__op": "Increment", "amount": 1}})
    assert calls == ["find", "update"]  # the original (hooks, LiveQuery) and one atomic update
    calls.clear()
    await api.delete(f"/classes/Thing/{oid}")
    assert calls == ["find", "delete"]


async def test_sessions_and_roles_are_cached(api, calls):
    user = await api.signup("ann")
    await api.post("/classes/Thing", {"n": 1}, master=True)
    calls.clear()
    await api.get("/classes/Thing", token=user["sessionToken"])
    first = list(calls)
    calls.clear()
    for _ in range(5):
        await api.get("/classes/Thing", token=user["sessionToken"])
    assert calls == ["find"] * 5, (first, calls)


async def test_includes_are_batched_per_class(api, calls):
    authors = [(await api.post("/classes/Author", {"i": i}, master=True)).body["objectId"] for i in range(5)]
    for oid in authors:
        ptr = {"__type": "Pointer", "className": "Author", "objectId": oid}
        await api.post("/classes/Post", {"author": ptr, "editor": ptr}, master=True)
    calls.clear()
    reply = await api.get("/classes/Post", params={"include": "author,editor"})
    assert len(reply.body["results"]) == 5
    assert calls == ["find", "find"]  # the posts, then all authors and editors in one query


async def test_first_session_records_the_session_class(api):
    await api.signup("ann")
    names = [c["className"] for c in (await api.get("/schemas", master=True)).body["results"]]
    assert "_Session" in names


def test_auth_caches_are_bounded(monkeypatch):
    from bapp.core import auth

    monkeypatch.setattr(auth, "CACHE_LIMIT", 3)
    cache: dict = {}
    for i in range(10):
        auth._bounded_put(cache, f"t{i}", (float(i), {}, None), ttl=1e9)
    assert list(cache) == ["t7", "t8", "t9"]
