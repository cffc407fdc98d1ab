"""Behaviour every store shares that the SQL stores must get right in SQL:
one-statement updates at any depth, unique indexes, bad input that would
be a type error in SQL, and (the SQL stores) batch transactions."""

from __future__ import annotations

import pytest

from tests.conftest import SQL_STORES


async def test_increment_at_any_depth_and_array_operators_in_one_update(api):
    oid = (await api.post("/classes/Deep", {"o": {"a": {"b": 1.5}}, "tags": ["x", "y"]}, master=True)).body["objectId"]
    reply = await api.put(f"/classes/Deep/{oid}", {
        "o.a.b": {"__op": "Increment", "amount": 2}, "o.c.d": {"__op": "Increment", "amount": 1},
        "o.e": "set", "tags": {"__op": "AddUnique", "objects": ["y", "z"]},
    }, master=True)
    assert reply.status == 200, reply.body
    got = (await api.get(f"/classes/Deep/{oid}")).body
    assert got["o"] == {"a": {"b": 3.5}, "c": {"d": 1}, "e": "set"}
    assert got["tags"] == ["x", "y", "z"]
    await api.put(f"/classes/Deep/{oid}", {"tags": {"__op": "Remove", "objects": ["x"]},
                                           "o.a": {"__op": "Delete"}}, master=True)
    got = (await api.get(f"/classes/Deep/{oid}")).body
    assert got["tags"] == ["y", "z"] and got["o"] == {"c": {"d": 1}, "e": "set"}


async def test_type_mismatches_match_nothing_instead_of_failing(api):
    await api.post("/classes/Mix", {"s": "text", "n": 5, "o": {"k": "v", "n": 2}}, master=True)
    for where, expected in (({"s": 5}, 0), ({"n": "five"}, 0), ({"n": {"$gt": "a"}}, 0), ({"s": {"$ne": 3}}, 1),
                            ({"o.k": {"$gt": 1}}, 0), ({"o.n": {"$gte": 2}}, 1), ({"n": {"$in": ["x", 5]}}, 1),
                            ({"s": {"$regex": "^te"}, "n": {"$nin": [1, "x"]}}, 1), ({"nope": {"$exists": False}}, 1)):
        reply = await api.get("/classes/Mix", params={"where": where})
        assert reply.status == 200, (where, reply.body)
        assert len(reply.body["results"]) == expected, where


async def test_long_in_lists_and_deep_nesting_are_parse_errors_or_work(api):
    await api.post("/classes/Many", {"n": 3}, master=True)
    limit = api.engine.settings.limits.in_size
    # The SDKs send long queries as POST with _method GET.
    reply = await api.post("/classes/Many", {"_method": "GET", "where": {"n": {"$in": list(range(limit))}}})
    assert reply.status == 200 and len(reply.body["results"]) == 1
    reply = await api.post("/classes/Many", {"_method": "GET", "where": {"n": {"$in": list(range(limit + 1))}}})
    assert reply.status == 400 and reply.body["code"] == 102
    where: dict = {"n": 3}
    for _ in range(api.engine.settings.limits.query_depth + 5):
        where = {"$or": [where]}
    reply = await api.post("/classes/Many", {"_method": "GET", "where": where})
    assert reply.status == 400 and reply.body["code"] == 102


async def test_unique_index_answers_duplicate_value(api):
    await api.post("/schemas/Code", {"className": "Code", "fields": {"code": {"type": "String"}}}, master=True)
    await api.engine.storage.ensure_index("Code", api.engine.schemas.fields_of("Code"), {"code": 1}, unique=True)
    assert (await api.post("/classes/Code", {"code": "A"}, master=True)).status == 201
    reply = await api.post("/classes/Code", {"code": "A"}, master=True)
    assert reply.status == 400 and reply.body["code"] == 137


async def test_batch_transaction_rolls_back_on_error(api, bapp_store):
    if bapp_store not in SQL_STORES:
        pytest.skip("the in-memory store has no transactions")
    await api.post("/classes/Acct", {"n": 1}, master=True)
    await api.post("/schemas/Uniq", {"className": "Uniq", "fields": {"k": {"type": "String"}}}, master=True)
    await api.engine.storage.ensure_index("Uniq", api.engine.schemas.fields_of("Uniq"), {"k": 1}, unique=True)
    await api.post("/classes/Uniq", {"k": "taken"}, master=True)
    reply = await api.post("/batch", {"transaction": True, "requests": [
        {"method": "POST", "path": "/parse/classes/Acct", "body": {"n": 2}},
        {"method": "POST", "path": "/parse/classes/Uniq", "body": {"k": "taken"}},
    ]}, master=True)
    assert reply.status == 400 and reply.body["code"] == 137
    found = (await api.get("/classes/Acct", params={"where": {"n": 2}}, master=True)).body["results"]
    assert found == []
    reply = await api.post("/batch", {"transaction": True, "requests": [
        {"method": "POST", "path": "/parse/classes/Acct", "body": {"n": 3}},
        {"method": "POST", "path": "/parse/classes/Uniq", "body": {"k": "fresh"}},
    ]}, master=True)
    assert reply.status == 200 and all("success" in r for r in reply.body)
    assert len((await api.get("/classes/Acct", params={"where": {"n": 3}}, master=True)).body["results"]) == 1


def test_postgres_uris_select_the_postgres_store(tmp_path):
    from bapp.config import Settings, apply_parse_config
    from bapp.server import build_storage
    from bapp.storage.files.base import adapter_kind
    from bapp.storage.sql.pg_adapter import PostgresAdapter

    for uri in ("postgres://u:p@127.0.0.1:5432/db", "postgresql://u@localhost/db"):
        settings = Settings(database_uri=uri, database_pool_size=3)
        storage = build_storage(settings)
        assert isinstance(storage, PostgresAdapter) and storage.pool_size == 3 and storage.uri == uri
        assert adapter_kind(settings) == "local"  # GridFS needs MongoDB
    config = tmp_path / "parse.json"
    config.write_text('{"appId": "a", "masterKey": "m", "databaseURI": "postgres://u@db.example/app"}')
    settings = Settings()
    apply_parse_config(settings, config)
    assert isinstance(build_storage(settings), PostgresAdapter)
