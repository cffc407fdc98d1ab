"""Objects and queries as Parse Server 9 (on MongoDB) answers them: array
equality, dotted keys, invalid class names, sort aliases, $text scores, geo
boxes and polygons, relation queries from unfetched or unsaved parents,
hint/comment, $regex checks, large $in/$or, and CLP values."""

from __future__ import annotations

import pytest

from bapp.model.text_search import TextSearch

DENIED = "Permission denied"


def ptr(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def geo(lat: float, lng: float) -> dict:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


async def query(api, class_name: str, **params) -> object:
    """A find sent as the JS SDK sends it: POST with _method GET (no URL length limit)."""
    return await api.post(f"/classes/{class_name}", {"_method": "GET", **params})


async def test_equal_to_a_whole_array(api):
    ids = {}
    for name, tags in (("exact", ["x", "y"]), ("reversed", ["y", "x"]), ("longer", ["x", "y", "z"]),
                       ("nested", [["x", "y"], "w"]), ("none", [])):
        ids[name] = (await api.post("/classes/Tagged", {"name": name, "tags": tags}, master=True)).body["objectId"]
    reply = await api.get("/classes/Tagged", params={"where": {"tags": ["x", "y"]}, "order": "name"})
    assert reply.status == 200
    # MongoDB's equality: the array itself, or an element equal to it
    assert [r["name"] for r in reply.body["results"]] == ["exact", "nested"]
    empty = await api.get("/classes/Tagged", params={"where": {"tags": []}})
    assert [r["name"] for r in empty.body["results"]] == ["none"]
    # a plain object is still no equality value
    bad = await api.get("/classes/Tagged", params={"where": {"tags": {"a": 1}}})
    assert (bad.status, bad.body) == (400, {"code": 107, "error": "You cannot use [object Object] as a query parameter."})


async def test_keys_with_a_dotted_path_trim_the_object(api):
    oid = (await api.post("/classes/Box", {"dims": {"w": 1, "h": 2, "inner": {"a": 1, "b": 2}}, "name": "b",
                                           "other": 3}, master=True)).body["objectId"]
    got = await api.get("/classes/Box", params={"keys": "dims.w"})
    row = got.body["results"][0]
    assert row == {"objectId": oid, "createdAt": row["createdAt"], "updatedAt": row["updatedAt"], "dims": {"w": 1}}
    two = (await api.get("/classes/Box", params={"keys": "dims.w,dims.inner.b,name"})).body["results"][0]
    assert two["dims"] == {"w": 1, "inner": {"b": 2}} and two["name"] == "b" and "other" not in two
    whole = (await api.get("/classes/Box", params={"keys": "dims.w,dims"})).body["results"][0]
    assert whole["dims"] == {"w": 1, "h": 2, "inner": {"a": 1, "b": 2}}
    missing = (await api.get("/classes/Box", params={"keys": "dims.nope"})).body["results"][0]
    assert missing["dims"] == {}
    single = await api.get(f"/classes/Box/{oid}", params={"keys": "dims.h"})
    assert single.body["dims"] == {"h": 2}


async def test_keys_with_dotted_path_still_include_pointers(api):
    owner = (await api.post("/classes/Owner", {"name": "o", "age": 3}, master=True)).body["objectId"]
    await api.post("/classes/Pet", {"owner": ptr("Owner", owner), "kind": "cat"}, master=True)
    row = (await api.get("/classes/Pet", params={"keys": "owner.name"})).body["results"][0]
    assert row["owner"]["name"] == "o" and "age" not in row["owner"] and row["owner"]["__type"] == "Object"


@pytest.mark.parametrize("name", ["1bad", "_SCHEMA", "bad-name", "_Unknown"])
async def test_create_in_an_invalid_class(api, name):
    master = await api.post(f"/classes/{name}", {"a": 1}, master=True)
    assert (master.status, master.body) == (400, {"code": 107, "error": "schema class name does not revalidate"})
    client = await api.post(f"/classes/{name}", {"a": 1})
    assert (client.status, client.body) == (400, {"code": 119, "error": DENIED})
    read = await api.get(f"/classes/{name}", master=True)
    assert (read.status, read.body) == (200, {"results": []})
    assert (await api.get(f"/classes/{name}")).body == {"code": 119, "error": DENIED}


async def test_order_by_created_at_and_updated_at_aliases(api):
    ids = [(await api.post("/classes/Seq", {"n": i}, master=True)).body["objectId"] for i in range(3)]
    await api.put(f"/classes/Seq/{ids[0]}", {"n": 9}, master=True)
    for alias, field in (("-_created_at", "-createdAt"), ("_created_at", "createdAt"),
                         ("-_updated_at", "-updatedAt"), ("_updated_at,n", "updatedAt,n")):
        via_alias = await api.get("/classes/Seq", params={"order": alias})
        direct = await api.get("/classes/Seq", params={"order": field})
        assert via_alias.status == 200, via_alias.body
        assert [r["objectId"] for r in via_alias.body["results"]] == [r["objectId"] for r in direct.body["results"]]
    newest = await api.get("/classes/Seq", params={"order": "-_created_at", "limit": 1})
    assert newest.body["results"][0]["objectId"] == ids[2]
    assert (await api.get("/classes/Seq", params={"order": "-_updated_at", "limit": 1})).body["results"][0][
        "objectId"] == ids[0]


async def test_text_score_is_mongodbs(api):
    for subject in ("coffee", "Coffee Shopping", "Baking coffee coffee", "tea time", "Coffee"):
        await api.post("/classes/Post", {"subject": subject}, master=True)
    where = {"subject": {"$text": {"$search": {"$term": "coffee"}}}}
    reply = await api.get("/classes/Post", params={"where": where, "order": "$score", "keys": "$score,subject"})
    assert reply.status == 200
    scored = [(r["subject"], r["score"]) for r in reply.body["results"]]
    assert scored[0] == ("Baking coffee coffee", 1.25)
    assert sorted(scored[1:3]) == [("Coffee", 1.0), ("coffee", 1.0)]
    assert scored[3] == ("Coffee Shopping", 0.75)


def test_text_score_unit():
    def score(term: str, text: str) -> float:
        return TextSearch(term, None, False, False).score([text])
    assert score("coffee", "coffee") == 1.0  # "coffee" stems to "coffe": no whole-field bonus
    assert score("run", "run") == pytest.approx(1.1)  # the whole field is the term
    assert score("run", "running fast") == 0.75
    assert score("coffee", "the coffee") == 1.0  # stop words are not tokens
    assert score("coffee tea", "coffee and tea") == 1.5
    assert score('"green tea"', "green tea here") == 1.5  # "here" is a stop word: two tokens
    assert score("coffee", "tea") == 0.0


async def test_within_geo_box_with_swapped_corners(api):
    await api.post("/classes/Location", {"name": "caltrain", "location": geo(37.776346, -122.394218)}, master=True)
    await api.post("/classes/Location", {"name": "santa clara", "location": geo(37.325635, -121.945753)},
                   master=True)
    sw, ne = geo(37.708813, -122.526398), geo(37.822802, -122.373962)
    swapped_lng = [geo(37.708813, -122.373962), geo(37.822802, -122.526398)]
    for box in ([sw, ne], [ne, sw], swapped_lng):
        reply = await api.get("/classes/Location", params={"where": {"location": {"$within": {"$box": box}}}})
        assert [r["name"] for r in reply.body["results"]] == ["caltrain"], box


async def test_polygon_equality_open_or_closed(api):
    open_ring = [[0, 0], [0, 1], [1, 1], [1, 0]]
    closed = [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]
    await api.post("/classes/Area", {"polygon": {"__type": "Polygon", "coordinates": open_ring}}, master=True)
    for coords in (open_ring, closed):
        reply = await api.get("/classes/Area", params={"where": {"polygon": {"__type": "Polygon",
                                                                              "coordinates": coords}}})
        assert reply.status == 200 and len(reply.body["results"]) == 1, coords
        assert reply.body["results"][0]["polygon"]["coordinates"] == closed
    other = await api.get("/classes/Area", params={"where": {"polygon": {"__type": "Polygon",
                                                                          "coordinates": [[0, 0], [0, 2], [2, 2]]}}})
    assert other.body["results"] == []
    contains = await api.get("/classes/Area", params={"where": {"polygon": {"$geoIntersects": {
        "$point": geo(0.5, 0.5)}}}})
    assert len(contains.body["results"]) == 1


async def test_relation_query_from_an_unfetched_parent(api):
    wheel = (await api.post("/classes/Wheel", {"size": 16}, master=True)).body["objectId"]
    car = (await api.post("/classes/Car", {"wheels": {"__op": "AddRelation", "objects": [ptr("Wheel", wheel)]}},
                          master=True)).body["objectId"]
    where = {"$relatedTo": {"object": ptr("Car", car), "key": "wheels"}}
    found = await query(api, "Car", where=where, redirectClassNameForKey="wheels")
    assert found.status == 200
    assert found.body["className"] == "Wheel" and [r["objectId"] for r in found.body["results"]] == [wheel]
    got = await query(api, "Car", where={**where, "objectId": wheel}, redirectClassNameForKey="wheels", limit=1)
    assert got.body["className"] == "Wheel" and got.body["results"][0]["size"] == 16


async def test_relation_query_from_an_unsaved_clone(api):
    await api.post("/classes/Thing", {"a": 1}, master=True)
    unsaved = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Thing"}, "key": "aRelation"}}
    reply = await query(api, "Thing", where=unsaved, redirectClassNameForKey="aRelation")
    assert (reply.status, reply.body["results"]) == (200, [])
    bad = await query(api, "Thing", where={"$relatedTo": {"object": {"__type": "Pointer"}, "key": "x"}})
    assert (bad.status, bad.body) == (400, {"code": 107, "error": "bad $relatedTo value"})


async def test_hint_and_comment_without_the_master_key(api):
    await api.post("/classes/Hinted", {"a": 1}, master=True)
    user = await api.signup("ann")
    for params in ({"hint": "_id_"}, {"comment": "from the app"}, {"hint": {"_id": 1}, "comment": "x"}):
        reply = await api.get("/classes/Hinted", params={"where": {"a": 1}, **params}, token=user["sessionToken"])
        assert reply.status == 200 and len(reply.body["results"]) == 1, params
    explain = await api.get("/classes/Hinted", params={"explain": True}, token=user["sessionToken"])
    assert explain.body == {"code": 102, "error": "Using the explain query parameter requires the master key"}


@pytest.mark.parametrize("constraint,message", [
    ({"$regex": "a", "$options": "z"}, "Bad $options value for query: z"),
    ({"$regex": "a", "$options": "ig"}, "Bad $options value for query: ig"),
    ({"$regex": 1}, "$regex value must be a string"),
    ({"$regex": {"a": 1}}, "$regex value must be a string"),
    ({"$regex": "a", "$options": 1}, "$options value must be a string"),
    ({"$regex": "(a"}, "Invalid regular expression."),
    ({"$regex": "a[", "$options": "i"}, "Invalid regular expression."),
])
async def test_regex_errors_answer_at_once(api, constraint, message):
    await api.post("/classes/Named", {"name": "abc"}, master=True)
    reply = await api.get("/classes/Named", params={"where": {"name": constraint}})
    assert (reply.status, reply.body) == (400, {"code": 102, "error": message})


async def test_regex_unicode_option_accepted(api):
    await api.post("/classes/Named", {"name": "Äbc"}, master=True)
    reply = await api.get("/classes/Named", params={"where": {"name": {"$regex": "^ä", "$options": "iu"}}})
    assert reply.status == 200 and len(reply.body["results"]) == 1


async def test_large_in_and_or_are_answered(api):
    await api.post("/classes/Num", {"n": 5}, master=True)
    big_in = await query(api, "Num", where={"n": {"$in": list(range(10_001))}})
    assert big_in.status == 200 and len(big_in.body["results"]) == 1
    big_or = await query(api, "Num", where={"$or": [{"n": i} for i in range(10_001)]})
    assert big_or.status == 200 and len(big_or.body["results"]) == 1
    too_big = await query(api, "Num", where={"n": {"$in": list(range(100_001))}})
    assert (too_big.status, too_big.body) == (400, {"code": 102, "error": (
        "$in has 100001 values, which exceeds the limit of 100000.")})


async def test_clp_values_parse_server_accepts(api):
    await api.post("/classes/Perm", {"a": 1}, master=True)
    put = await api.put("/schemas/Perm", {"fields": {"owner": {"type": "Pointer", "targetClass": "_User"},
                                                     "team": {"type": "Array"}}}, master=True)
    assert put.status == 200
    clp = {"get": {"pointerFields": ["owner", "team"], "1234567890": True, "12": True},
           "find": {"requiresAuthentication": True}, "count": {}, "create": {"*": True}, "update": {"role:Admin": True},
           "delete": {}, "addField": {}, "readUserFields": ["owner"], "writeUserFields": ["team"],
           "protectedFields": {"*": ["a"], "12345": []}}
    reply = await api.put("/schemas/Perm", {"classLevelPermissions": clp}, master=True)
    assert reply.status == 200, reply.body
    assert reply.body["classLevelPermissions"] == clp
    # a number (no keys to check) is stored and read back as every operation master-only
    empty = {op: {} for op in ("find", "count", "get", "create", "update", "delete", "addField")}
    empty["protectedFields"] = {}
    number = await api.put("/schemas/Perm", {"classLevelPermissions": 1234}, master=True)
    assert number.status == 200 and number.body["classLevelPermissions"] == empty
    assert (await api.get("/classes/Perm")).body == {"code": 119, "error": DENIED}
    cleared = await api.put("/schemas/Perm", {"classLevelPermissions": {}}, master=True)
    assert cleared.body["classLevelPermissions"] == empty
    reset = await api.put("/schemas/Perm", {"classLevelPermissions": None}, master=True)
    assert reset.body["classLevelPermissions"]["find"] == {"*": True}


@pytest.mark.parametrize("clp,message", [
    ("ab", "0 is not a valid operation for class level permissions"),
    ([{"find": {}}], "0 is not a valid operation for class level permissions"),
    ({"get": {"pointerFields": ["a"]}}, "'a' is not a valid column for class level pointer permissions [object Object]"),
    ({"get": {"bad key": True}}, "'bad key' is not a valid key for class level permissions"),
    ({"readUserFields": ["a"]}, "'a' is not a valid column for class level pointer permissions readUserFields"),
])
async def test_clp_values_parse_server_refuses(api, clp, message):
    await api.post("/classes/Perm", {"a": 1}, master=True)
    reply = await api.put("/schemas/Perm", {"classLevelPermissions": clp}, master=True)
    assert (reply.status, reply.body) == (400, {"code": 107, "error": message})


async def test_explicit_null_is_stored_and_returned(api):
    oid = (await api.post("/classes/Nullable", {"a": None, "b": 1, "n": {"x": None}}, master=True)).body["objectId"]
    await api.put(f"/classes/Nullable/{oid}", {"b": None}, master=True)
    got = await api.get(f"/classes/Nullable/{oid}")
    assert got.body["a"] is None and "a" in got.body
    assert got.body["b"] is None and "b" in got.body
    assert got.body["n"] == {"x": None}
    found = await api.get("/classes/Nullable", params={"where": {"a": None}, "keys": "a,b"})
    row = found.body["results"][0]
    assert row["a"] is None and row["b"] is None


async def test_keys_with_a_dotted_path_into_arrays(api):
    for n, value in ((1, []), (2, [{"subfield": 1, "other": 2}, 5]), (3, None)):
        await api.post("/classes/Arr", {"number": n, "arrayField": value}, master=True)
    reply = await api.get("/classes/Arr", params={"keys": "arrayField.subfield", "order": "number"})
    assert [r.get("arrayField", "missing") for r in reply.body["results"]] == [[], [{"subfield": 1}], None]
