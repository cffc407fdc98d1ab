"""Queries over REST: every operator, options, includes and their errors."""

import pytest

from tests.conftest import SQL_STORES, sql_fetch

ROWS = [
    {"name": "alpha", "n": 1, "tags": ["a", "b"], "meta": {"color": "red", "size": 1}, "flag": True},
    {"name": "beta", "n": 2, "tags": ["b", "c"], "meta": {"color": "blue", "size": 2}, "flag": False},
    {"name": "gamma", "n": 3, "tags": ["c"], "meta": {"color": "red", "size": 3}},
    {"name": "Delta", "n": 4, "tags": [], "meta": {"color": "green", "size": 4}, "flag": True},
]


@pytest.fixture
async def rows(api):
    ids = {}
    for row in ROWS:
        ids[row["name"]] = (await api.post("/classes/Item", row, master=True)).body["objectId"]
    return ids


async def names(api, where=None, **params):
    params = dict(params)
    if where is not None:
        params["where"] = where
    reply = await api.get("/classes/Item", params=params)
    assert reply.status == 200, reply.body
    return sorted(r["name"] for r in reply.body["results"])


@pytest.mark.parametrize("where,expected", [
    ({"n": 2}, ["beta"]),
    ({"n": {"$lt": 2}}, ["alpha"]),
    ({"n": {"$lte": 2}}, ["alpha", "beta"]),
    ({"n": {"$gt": 3}}, ["Delta"]),
    ({"n": {"$gte": 3}}, ["Delta", "gamma"]),
    ({"n": {"$ne": 1}}, ["Delta", "beta", "gamma"]),
    ({"n": {"$eq": 1}}, ["alpha"]),
    ({"n": {"$in": [1, 3]}}, ["alpha", "gamma"]),
    ({"n": {"$nin": [1, 3]}}, ["Delta", "beta"]),
    ({"flag": {"$exists": True}}, ["Delta", "alpha", "beta"]),
    ({"flag": {"$exists": False}}, ["gamma"]),
    ({"tags": "b"}, ["alpha", "beta"]),
    ({"tags": {"$all": ["b", "c"]}}, ["beta"]),
    ({"tags": {"$containedBy": ["a", "b"]}}, ["Delta", "alpha"]),
    ({"name": {"$regex": "^a"}}, ["alpha"]),
    ({"name": {"$regex": "^d", "$options": "i"}}, ["Delta"]),
    ({"meta.color": "red"}, ["alpha", "gamma"]),
    ({"meta.size": {"$gt": 2}}, ["Delta", "gamma"]),
    ({"$or": [{"n": 1}, {"n": 4}]}, ["Delta", "alpha"]),
    ({"$and": [{"n": {"$gt": 1}}, {"n": {"$lt": 4}}]}, ["beta", "gamma"]),
    ({"$nor": [{"n": 1}, {"n": 4}]}, ["beta", "gamma"]),
    ({"$or": [{"$and": [{"n": 1}, {"flag": True}]}, {"name": "gamma"}]}, ["alpha", "gamma"]),
])
async def test_operators(api, rows, where, expected):
    assert await names(api, where) == expected


async def test_order_limit_skip_count(api, rows):
    reply = await api.get("/classes/Item", params={"order": "-n", "limit": 2, "skip": 1, "count": 1})
    assert [r["name"] for r in reply.body["results"]] == ["gamma", "beta"]
    assert reply.body["count"] == 4
    reply = await api.get("/classes/Item", params={"limit": 0, "count": 1, "where": {"n": {"$gt": 1}}})
    assert reply.body == {"results": [], "count": 3}
    reply = await api.get("/classes/Item", params={"order": "flag,-n", "keys": "name"})
    assert [r["name"] for r in reply.body["results"]] == ["gamma", "beta", "Delta", "alpha"]
    assert set(reply.body["results"][0]) == {"name", "objectId", "createdAt", "updatedAt"}


async def test_order_on_unknown_field_is_ignored(api, rows):
    assert len((await api.get("/classes/Item", params={"order": "nope"})).body["results"]) == 4


async def test_default_limit_is_100(api):
    await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/classes/Many", "body": {"i": i}} for i in range(120)]}, master=True)
    assert len((await api.get("/classes/Many")).body["results"]) == 100
    assert len((await api.get("/classes/Many", params={"limit": 1000})).body["results"]) == 120


async def test_dates_compare(api):
    for iso in ("2024-01-01T00:00:00.000Z", "2024-06-01T00:00:00.000Z"):
        await api.post("/classes/Ev", {"at": {"__type": "Date", "iso": iso}}, master=True)
    reply = await api.get("/classes/Ev", params={"where": {"at": {"$gt": {"__type": "Date", "iso": "2024-03-01T00:00:00Z"}}}})
    assert [r["at"]["iso"] for r in reply.body["results"]] == ["2024-06-01T00:00:00.000Z"]
    reply = await api.get("/classes/Ev", params={"where": {"at": {"$lt": {"$relativeTime": "1 day ago"}}}})
    assert len(reply.body["results"]) == 2
    reply = await api.get("/classes/Ev", params={"where": {"createdAt": {"$gt": {"$relativeTime": "in 1 day"}}}})
    assert reply.body["results"] == []


async def test_pointer_queries_and_include(api):
    author = (await api.post("/classes/Author", {"name": "ann"}, master=True)).body["objectId"]
    ptr = {"__type": "Pointer", "className": "Author", "objectId": author}
    post = (await api.post("/classes/Post", {"title": "t", "author": ptr, "authors": [ptr]}, master=True)).body["objectId"]
    await api.post("/classes/Comment", {"post": {"__type": "Pointer", "className": "Post", "objectId": post}}, master=True)
    reply = await api.get("/classes/Post", params={"where": {"author": ptr}, "include": "author"})
    [row] = reply.body["results"]
    assert row["author"]["name"] == "ann" and row["author"]["__type"] == "Object"
    assert row["author"]["className"] == "Author" and row["author"]["objectId"] == author
    assert row["authors"] == [ptr]  # not included
    reply = await api.get("/classes/Post", params={"include": "authors"})
    assert reply.body["results"][0]["authors"][0]["name"] == "ann"
    reply = await api.get("/classes/Comment", params={"include": "post.author"})
    assert reply.body["results"][0]["post"]["author"]["name"] == "ann"
    reply = await api.get("/classes/Post", params={"where": {"author": {"$in": [author]}}})
    assert len(reply.body["results"]) == 1  # bare ids are accepted for pointer fields in $in
    # an included pointer whose target is gone disappears
    await api.delete(f"/classes/Author/{author}", master=True)
    reply = await api.get("/classes/Post", params={"include": "author"})
    assert "author" not in reply.body["results"][0]


async def test_keys_with_dot_restricts_included_object(api):
    author = (await api.post("/classes/Author", {"name": "ann", "age": 3}, master=True)).body["objectId"]
    ptr = {"__type": "Pointer", "className": "Author", "objectId": author}
    await api.post("/classes/Post", {"title": "t", "author": ptr, "body": "b"}, master=True)
    reply = await api.get("/classes/Post", params={"keys": "title,author.name"})
    [row] = reply.body["results"]
    assert "body" not in row and row["author"]["name"] == "ann" and "age" not in row["author"]


async def test_subqueries(api):
    a1 = (await api.post("/classes/Author", {"name": "ann", "city": "x"}, master=True)).body["objectId"]
    a2 = (await api.post("/classes/Author", {"name": "bob", "city": "y"}, master=True)).body["objectId"]
    for author, title in ((a1, "p1"), (a2, "p2")):
        await api.post("/classes/Post", {"title": title, "author": {"__type": "Pointer", "className": "Author", "objectId": author}, "city": "x"}, master=True)
    inq = {"author": {"$inQuery": {"where": {"name": "ann"}, "className": "Author"}}}
    assert [r["title"] for r in (await api.get("/classes/Post", params={"where": inq})).body["results"]] == ["p1"]
    notq = {"author": {"$notInQuery": {"where": {"name": "ann"}, "className": "Author"}}}
    assert [r["title"] for r in (await api.get("/classes/Post", params={"where": notq})).body["results"]] == ["p2"]
    sel = {"city": {"$select": {"query": {"className": "Author", "where": {"name": "ann"}}, "key": "city"}}}
    assert len((await api.get("/classes/Post", params={"where": sel})).body["results"]) == 2
    dont = {"city": {"$dontSelect": {"query": {"className": "Author", "where": {"name": "ann"}}, "key": "city"}}}
    assert (await api.get("/classes/Post", params={"where": dont})).body["results"] == []
    bad = {"city": {"$select": {"query": {"className": "Author"}, "key": "city", "extra": 1}}}
    assert (await api.get("/classes/Post", params={"where": bad})).body["code"] == 102


async def test_relations(api, bapp_store):
    users = [(await api.post("/classes/Member", {"n": i}, master=True)).body["objectId"] for i in range(3)]
    team = (await api.post("/classes/Team", {"name": "t"}, master=True)).body["objectId"]
    ptrs = [{"__type": "Pointer", "className": "Member", "objectId": u} for u in users]
    reply = await api.put(f"/classes/Team/{team}", {"members": {"__op": "AddRelation", "objects": ptrs}}, master=True)
    assert reply.status == 200
    got = (await api.get(f"/classes/Team/{team}")).body
    assert got["members"] == {"__type": "Relation", "className": "Member"}
    related = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Team", "objectId": team}, "key": "members"}}
    reply = await api.get("/classes/Member", params={"where": related})
    assert sorted(r["objectId"] for r in reply.body["results"]) == sorted(users)
    await api.put(f"/classes/Team/{team}", {"members": {"__op": "RemoveRelation", "objects": ptrs[:1]}}, master=True)
    reply = await api.get("/classes/Member", params={"where": related})
    assert len(reply.body["results"]) == 2
    reply = await api.get("/classes/Team", params={"where": {"members": ptrs[1]}})
    assert [r["objectId"] for r in reply.body["results"]] == [team]
    reply = await api.get("/classes/Team", params={"where": {"members": ptrs[0]}})
    assert reply.body["results"] == []
    if bapp_store in SQL_STORES:
        rows = await sql_fetch(api, 'SELECT * FROM "_Join:members:Team" WHERE "relatedId" = $1', users[1])
        assert [(r["relatedId"], r["owningId"]) for r in rows] == [(users[1], team)]
    else:
        doc = await api.engine.storage._col("_Join:members:Team").find_one({"relatedId": users[1]})
        assert doc["owningId"] == team


async def test_geo_queries(api):
    places = {"berlin": (52.52, 13.405), "potsdam": (52.39, 13.06), "paris": (48.85, 2.35), "sf": (37.77, -122.42)}
    for name, (lat, lng) in places.items():
        await api.post("/classes/Place", {"name": name, "loc": {"__type": "GeoPoint", "latitude": lat, "longitude": lng}}, master=True)
    berlin = {"__type": "GeoPoint", "latitude": 52.52, "longitude": 13.405}
    reply = await api.get("/classes/Place", params={"where": {"loc": {"$nearSphere": berlin}}})
    assert [r["name"] for r in reply.body["results"]] == ["berlin", "potsdam", "paris", "sf"]
    reply = await api.get("/classes/Place", params={"where": {"loc": {"$nearSphere": berlin, "$maxDistanceInKilometers": 100}}})
    assert [r["name"] for r in reply.body["results"]] == ["berlin", "potsdam"]
    reply = await api.get("/classes/Place", params={"where": {"loc": {"$nearSphere": berlin, "$maxDistanceInMiles": 700}}})
    assert [r["name"] for r in reply.body["results"]] == ["berlin", "potsdam", "paris"]
    box = {"$box": [{"__type": "GeoPoint", "latitude": 50, "longitude": 10}, {"__type": "GeoPoint", "latitude": 55, "longitude": 15}]}
    assert await _names(api, "Place", {"loc": {"$within": box}}) == ["berlin", "potsdam"]
    poly = {"$polygon": [{"__type": "GeoPoint", "latitude": 40, "longitude": 0},
                         {"__type": "GeoPoint", "latitude": 55, "longitude": 0},
                         {"__type": "GeoPoint", "latitude": 55, "longitude": 5}]}
    assert await _names(api, "Place", {"loc": {"$geoWithin": poly}}) == ["paris"]
    sphere = {"$centerSphere": [berlin, 200 / 6371]}
    assert await _names(api, "Place", {"loc": {"$geoWithin": sphere}}) == ["berlin", "potsdam"]
    count = await api.get("/classes/Place", params={"where": {"loc": {"$nearSphere": berlin, "$maxDistanceInKilometers": 100}}, "count": 1, "limit": 0})
    assert count.body["count"] == 2


async def _names(api, cls, where):
    return sorted(r["name"] for r in (await api.get(f"/classes/{cls}", params={"where": where})).body["results"])


async def test_text_search(api):
    for title in ("The quick brown fox", "Lazy dogs sleep", "quick thinking"):
        await api.post("/classes/Doc", {"title": title}, master=True)
    where = {"title": {"$text": {"$search": {"$term": "quick"}}}}
    assert await _names_of(api, where) == ["The quick brown fox", "quick thinking"]


async def _names_of(api, where):
    return sorted(r["title"] for r in (await api.get("/classes/Doc", params={"where": where})).body["results"])


@pytest.mark.parametrize("where,code", [
    ({"n": {"$bogus": 1}}, 107),
    ({"n": {"$in": 5}}, 107),
    ({"n": {"$nin": "x"}}, 107),
    ({"$or": {"0": {"n": 1}, "length": 1}}, 102),
    ({"$or": "x"}, 102),
    ({"$nor": []}, 102),
    ({"$where": "sleep(1000)"}, 105),
    ({"ACL": {"$exists": True}}, 102),
    ({"_rperm": {"$in": ["*"]}}, 105),
    ({"_hashed_password": {"$exists": True}}, 105),
    ({"name": {"$regex": 5}}, 102),
    ({"name": {"$regex": "a", "$options": "z"}}, 102),
    ({"name": {"$regex": "(unclosed"}}, 102),
    ({"n": {"$exists": "yes"}}, 107),
    ({"bad-key": 1}, 105),
    ({"n": {"$gt": {"a": 1}}}, 107),
    ({"n": {"$lt": {"$relativeTime": "3 days ago"}}}, 107),
])
async def test_bad_where(api, rows, where, code):
    reply = await api.get("/classes/Item", params={"where": where})
    assert reply.status == 400, reply.body
    assert reply.body["code"] == code, reply.body


async def test_unknown_query_parameter(api, rows):
    reply = await api.get("/classes/Item", params={"foo": 1})
    assert reply.body == {"code": 102, "error": "Invalid parameter for query: foo"}


async def test_deep_or_nesting_is_refused(api, rows):
    where = {"n": 1}
    for _ in range(60):
        where = {"$or": [where]}
    reply = await api.get("/classes/Item", params={"where": where})
    assert reply.status == 400 and reply.body["code"] == 102


async def test_in_size_limit(api, rows):
    reply = await api.post("/classes/Item", {"_method": "GET", "where": {"n": {"$in": list(range(100_001))}}})
    assert reply.status == 400 and reply.body["code"] == 102


async def test_include_limits(api, rows):
    reply = await api.get("/classes/Item", params={"include": ".".join(["a"] * 30)})
    assert reply.status == 400 and reply.body["code"] == 102
    reply = await api.get("/classes/Item", params={"include": ",".join(f"f{i}" for i in range(100))})
    assert reply.status == 400 and reply.body["code"] == 102


async def test_sdk_style_quoted_regex_and_array_pointers(api, rows):
    # The SDKs quote literal text as \Q...\E (startsWith, endsWith, contains).
    assert await names(api, {"name": {"$regex": "^\\Qal\\E"}}) == ["alpha"]
    assert await names(api, {"name": {"$regex": "\\Qmm\\E"}}) == ["gamma"]
    author = (await api.post("/classes/Author", {"name": "ann"}, master=True)).body["objectId"]
    ptr = {"__type": "Pointer", "className": "Author", "objectId": author}
    await api.post("/classes/Book", {"authors": [ptr]}, master=True)
    reply = await api.get("/classes/Book", params={"where": {"authors": ptr}})
    assert len(reply.body["results"]) == 1


async def test_array_equality_matches_like_parse_server(api, rows):
    reply = await api.get("/classes/Item", params={"where": {"tags": ["a", "b"]}})
    assert reply.status == 200


async def test_redirect_class_name_for_key(api):
    member = (await api.post("/classes/Member", {"n": 1}, master=True)).body["objectId"]
    team = (await api.post("/classes/Team", {"members": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "Member", "objectId": member}]}}, master=True)).body["objectId"]
    where = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Team", "objectId": team}, "key": "members"}}
    reply = await api.get("/classes/Team", params={"redirectClassNameForKey": "members", "where": where})
    assert reply.body["className"] == "Member"
    assert [r["objectId"] for r in reply.body["results"]] == [member]


async def test_explain_needs_the_master_key(api, rows):
    reply = await api.get("/classes/Item", params={"explain": True})
    assert (reply.status, reply.body["code"]) == (400, 102)
    reply = await api.get("/classes/Item", params={"explain": True}, master=True)
    assert reply.status == 200 and "queryPlanner" in reply.body["results"]


async def test_catastrophic_regex_does_not_freeze_the_server(api):
    import asyncio
    import time

    await api.post("/classes/Item", {"name": "a" * 40 + "!"}, master=True)
    started = time.monotonic()
    slow = asyncio.create_task(api.get("/classes/Item", params={"where": {"name": {"$regex": "^(a|a)*$"}}}))
    # the event loop keeps answering while the regex runs
    assert (await api.get("/classes/Item", params={"limit": 1})).status == 200
    reply = await slow
    assert time.monotonic() - started < 5
    assert reply.status in (200, 400)
    if reply.status == 400:
        assert reply.body["code"] == 102


async def test_text_search_sorted_by_score(api):
    for title in ("quick", "quick quick brown", "slow brown", "a quick fox"):
        await api.post("/classes/Doc", {"title": title}, master=True)
    where = {"title": {"$text": {"$search": {"$term": "quick"}}}}
    reply = await api.get("/classes/Doc", params={"where": where, "order": "$score", "keys": "$score,title"})
    rows = reply.body["results"]
    assert [r["title"] for r in rows][0] == "quick quick brown"
    assert len(rows) == 3 and all(r["score"] > 0 for r in rows)
    assert rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]


async def test_negative_limit_is_its_absolute_value(api, rows):
    reply = await api.get("/classes/Item", params={"limit": -2})
    assert len(reply.body["results"]) == 2
