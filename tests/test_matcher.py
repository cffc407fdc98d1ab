"""The in-memory ``where`` matcher and the geo helpers behind it."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bapp.errors import INVALID_JSON, INVALID_KEY_NAME, INVALID_QUERY, ParseError
from bapp.model import geo
from bapp.model.matcher import compile_regex, compile_where, matches, validate_live_where

SF = {"__type": "GeoPoint", "latitude": 37.7749, "longitude": -122.4194}
BERLIN = {"__type": "GeoPoint", "latitude": 52.52, "longitude": 13.405}
SAN_JOSE = {"__type": "GeoPoint", "latitude": 37.3382, "longitude": -121.8863}


def gp(lat: float, lng: float) -> dict:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


def ptr(cls: str, oid: str) -> dict:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def date(iso: str) -> dict:
    return {"__type": "Date", "iso": iso}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


OBJ: dict[str, Any] = {
    "objectId": "o1",
    "createdAt": "2024-01-01T00:00:00.000Z",
    "updatedAt": "2024-06-01T12:00:00.000Z",
    "title": "The quick brown foxes jumped over the lazy dog",
    "count": 3,
    "ratio": 2.5,
    "flag": True,
    "nothing": None,
    "due": date("2024-03-01T00:00:00.000Z"),
    "owner": ptr("_User", "u1"),
    "author": {"__type": "Object", "className": "_User", "objectId": "u2", "name": "Ann"},
    "tags": ["red", "green", "blue"],
    "numbers": [1, 2, 3],
    "members": [ptr("_User", "u1"), ptr("_User", "u3")],
    "meta": {"a": {"b": 1}, "list": [{"k": "x"}, {"k": "y"}], "name": "meta"},
    "pic": {"__type": "File", "name": "abc_pic.png", "url": "http://files/abc_pic.png"},
    "raw": {"__type": "Bytes", "base64": "aGVsbG8="},
    "loc": SF,
    "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]]},
    "ACL": {"*": {"read": True}},
}


def m(where: dict, obj: dict | None = None) -> bool:
    return matches(OBJ if obj is None else obj, where)


def raises(where: dict, code: int, message: str | None = None, obj: dict | None = None) -> ParseError:
    with pytest.raises(ParseError) as info:
        matches(OBJ if obj is None else obj, where)
    assert info.value.code == code, info.value
    if message is not None:
        assert info.value.message == message
    return info.value


# ------------------------------------------------------------------ equality


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"title": "The quick brown foxes jumped over the lazy dog"}, True),
        ({"title": "the quick"}, False),
        ({"count": 3}, True),
        ({"count": 3.0}, True),
        ({"count": "3"}, False),
        ({"flag": True}, True),
        ({"flag": 1}, False),  # booleans are not numbers
        ({"count": True}, False),
        ({"objectId": "o1"}, True),
        ({"objectId": "o2"}, False),
        ({}, True),
    ],
)
def test_scalar_equality(where: dict, expected: bool) -> None:
    assert m(where) is expected


def test_scalar_against_array_field_means_contains() -> None:
    assert m({"tags": "green"})
    assert not m({"tags": "pink"})
    assert m({"numbers": 2})


def test_array_value_means_exact_array_equality() -> None:
    assert m({"tags": ["red", "green", "blue"]})
    assert not m({"tags": ["green", "red", "blue"]})
    assert not m({"tags": ["red", "green"]})


def test_pointer_equality_by_class_and_id() -> None:
    assert m({"owner": ptr("_User", "u1")})
    assert not m({"owner": ptr("_User", "u2")})
    assert not m({"owner": ptr("Team", "u1")})


def test_pointer_matches_included_object_and_arrays_of_pointers() -> None:
    assert m({"author": ptr("_User", "u2")})
    assert not m({"author": ptr("_User", "u1")})
    assert m({"members": ptr("_User", "u3")})
    assert not m({"members": ptr("_User", "u9")})


def test_bare_object_id_matches_pointer_field() -> None:
    assert m({"owner": {"$in": ["u1", "u7"]}})
    assert m({"owner": {"$eq": "u1"}})
    assert m({"owner": {"$ne": "u2"}})


def test_typed_values_equality() -> None:
    assert m({"pic": {"__type": "File", "name": "abc_pic.png"}})
    assert not m({"pic": {"__type": "File", "name": "other.png"}})
    assert m({"loc": gp(37.7749, -122.4194)})
    assert not m({"loc": gp(37.7749, -122.0)})
    assert m({"raw": {"__type": "Bytes", "base64": "aGVsbG8="}})


def test_plain_object_equality_ignores_key_order() -> None:
    assert m({"meta.a": {"b": 1}})
    assert not m({"meta.a": {"b": 2}})


def test_date_equality_by_instant() -> None:
    assert m({"due": date("2024-03-01T00:00:00.000Z")})
    assert m({"due": date("2024-03-01T01:00:00+01:00")})
    assert not m({"due": date("2024-03-02T00:00:00.000Z")})


def test_created_at_plain_iso_string_and_date_object() -> None:
    assert m({"createdAt": "2024-01-01T00:00:00.000Z"})
    assert m({"createdAt": date("2024-01-01T00:00:00.000Z")})
    assert m({"updatedAt": "2024-06-01T12:00:00Z"})
    assert not m({"createdAt": "2024-01-02T00:00:00.000Z"})


def test_null_equality_matches_missing_or_null() -> None:
    assert m({"nothing": None})
    assert m({"absent": None})
    assert not m({"title": None})
    assert m({"nothing": {"$eq": None}})
    assert m({"title": {"$ne": None}})
    assert not m({"absent": {"$ne": None}})


def test_bad_date_in_where_is_refused() -> None:
    raises({"due": date("not a date")}, INVALID_JSON)


# ------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"count": {"$lt": 4}}, True),
        ({"count": {"$lt": 3}}, False),
        ({"count": {"$lte": 3}}, True),
        ({"count": {"$gt": 2.5}}, True),
        ({"count": {"$gte": 4}}, False),
        ({"count": {"$gt": 1, "$lt": 5}}, True),
        ({"count": {"$gt": "1"}}, False),  # no comparison across types
        ({"title": {"$gt": "Ta"}}, True),
        ({"title": {"$lt": "Ta"}}, False),
        ({"numbers": {"$gt": 2}}, True),  # any element
        ({"numbers": {"$gt": 3}}, False),
        ({"absent": {"$gt": 0}}, False),
        ({"count": {"$eq": 3}}, True),
        ({"count": {"$ne": 3}}, False),
        ({"absent": {"$ne": 3}}, True),
        ({"tags": {"$ne": "red"}}, False),
        ({"tags": {"$eq": "red"}}, True),
    ],
)
def test_comparison_operators(where: dict, expected: bool) -> None:
    assert m(where) is expected


def test_date_comparisons() -> None:
    assert m({"due": {"$gt": date("2024-02-01T00:00:00.000Z")}})
    assert not m({"due": {"$lt": date("2024-02-01T00:00:00.000Z")}})
    assert m({"createdAt": {"$lte": date("2024-01-01T00:00:00.000Z")}})
    assert m({"createdAt": {"$lt": date("2024-01-01T00:00:00.001Z")}})
    assert not m({"createdAt": {"$gt": date("2024-01-01T00:00:00.000Z")}})
    # A date is never compared with a string (MongoDB type bracketing).
    assert not m({"due": {"$gt": "2000-01-01T00:00:00.000Z"}})


def test_relative_time() -> None:
    now = datetime.now(UTC)
    obj = {"when": date(iso(now - timedelta(days=2))), "later": date(iso(now + timedelta(hours=3)))}
    assert matches(obj, {"when": {"$gt": {"$relativeTime": "3 days ago"}}})
    assert not matches(obj, {"when": {"$gt": {"$relativeTime": "1 day ago"}}})
    assert matches(obj, {"later": {"$gt": {"$relativeTime": "in 2 hours"}}})
    assert not matches(obj, {"later": {"$gt": {"$relativeTime": "in 1 day 1 hr"}}})
    assert matches(obj, {"when": {"$lt": {"$relativeTime": "now"}}})
    assert matches(obj, {"later": {"$gte": {"$relativeTime": "NOW"}}})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3 days", "bad $relativeTime ($gt) value. Time should either start with 'in' or end with 'ago'"),
        ("in 3 days ago", "bad $relativeTime ($gt) value. Time cannot have both 'in' and 'ago'"),
        ("in 3", "bad $relativeTime ($gt) value. Invalid time string. Dangling unit or number."),
        ("in 1.5 days", "bad $relativeTime ($gt) value. '1.5' is not an integer."),
        ("in 2 fortnights", "bad $relativeTime ($gt) value. Invalid interval: 'fortnights'"),
    ],
)
def test_relative_time_errors(value: str, message: str) -> None:
    raises({"due": {"$gt": {"$relativeTime": value}}}, INVALID_JSON, message)


def test_relative_time_only_with_range_operators() -> None:
    msg = "$relativeTime can only be used with the $lt, $lte, $gt, and $gte operators"
    raises({"due": {"$eq": {"$relativeTime": "now"}}}, INVALID_JSON, msg)
    raises({"due": {"$ne": {"$relativeTime": "now"}}}, INVALID_JSON, msg)
    raises({"due": {"$exists": {"$relativeTime": "now"}}}, INVALID_JSON, msg)


def test_range_with_plain_object_is_bad_atom() -> None:
    raises({"count": {"$gt": {"a": 1}}}, INVALID_JSON, 'bad atom: {"a":1}')
    raises({"count": {"$lt": [1]}}, INVALID_JSON, "bad atom: [1]")


# ------------------------------------------------------------- $in / $nin


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"count": {"$in": [1, 2, 3]}}, True),
        ({"count": {"$in": [4, 5]}}, False),
        ({"count": {"$in": []}}, False),
        ({"tags": {"$in": ["pink", "blue"]}}, True),  # any element
        ({"tags": {"$in": ["pink"]}}, False),
        ({"count": {"$in": [[1, 3], 9]}}, True),  # nested arrays are flattened
        ({"absent": {"$in": [None]}}, True),
        ({"owner": {"$in": [ptr("_User", "u1")]}}, True),
        ({"members": {"$in": [ptr("_User", "u3")]}}, True),
        ({"owner": {"$in": [ptr("Team", "u1")]}}, False),
        ({"due": {"$in": [date("2024-03-01T00:00:00.000Z")]}}, True),
        ({"count": {"$nin": [1, 2]}}, True),
        ({"count": {"$nin": [3]}}, False),
        ({"tags": {"$nin": ["red"]}}, False),
        ({"absent": {"$nin": [1]}}, True),
    ],
)
def test_in_and_nin(where: dict, expected: bool) -> None:
    assert m(where) is expected


def test_in_with_many_values_is_fast() -> None:
    values = [f"id{i}" for i in range(10_000)]
    obj = {"tags": [f"x{i}" for i in range(200)] + ["id9999"], "owner": ptr("_User", "id5000")}
    start = time.monotonic()
    assert matches(obj, {"tags": {"$in": values}})
    assert matches(obj, {"owner": {"$in": values}})  # bare ids against a pointer
    assert not matches(obj, {"tags": {"$nin": values}})
    assert time.monotonic() - start < 0.5


def test_in_keeps_booleans_apart_from_numbers() -> None:
    assert not m({"flag": {"$in": [1]}})
    assert not m({"count": {"$in": [True]}})
    assert m({"flag": {"$in": [True]}})


def test_in_requires_array() -> None:
    raises({"count": {"$in": 3}}, INVALID_JSON, "bad $in value")
    raises({"count": {"$nin": "x"}}, INVALID_JSON, "bad $nin value")


# ------------------------------------------------------------------- $exists


def test_exists() -> None:
    assert m({"title": {"$exists": True}})
    assert not m({"title": {"$exists": False}})
    assert m({"absent": {"$exists": False}})
    assert not m({"absent": {"$exists": True}})
    assert m({"nothing": {"$exists": True}})  # null is a value
    assert m({"meta.a.b": {"$exists": True}})
    assert m({"meta.a.c": {"$exists": False}})


# ---------------------------------------------------------------------- $all


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"tags": {"$all": ["red", "blue"]}}, True),
        ({"tags": {"$all": ["red", "pink"]}}, False),
        ({"tags": {"$all": []}}, False),
        ({"title": {"$all": ["The quick brown foxes jumped over the lazy dog"]}}, True),
        ({"members": {"$all": [ptr("_User", "u1"), ptr("_User", "u3")]}}, True),
        ({"absent": {"$all": ["x"]}}, False),
        ({"tags": {"$all": [{}]}}, False),
    ],
)
def test_all(where: dict, expected: bool) -> None:
    assert m(where) is expected


def test_all_with_starts_with_regexes() -> None:
    objs = [
        {"strings": ["the", "brown", "lazy", "fox", "jumps"]},
        {"strings": ["the", "brown", "fox", "jumps"]},
        {"strings": ["over", "the", "lazy", "dog"]},
    ]

    def count(values: list[str]) -> int:
        where = {"strings": {"$all": [{"$regex": f"^\\Q{v}\\E"} for v in values]}}
        return sum(matches(o, where) for o in objs)

    assert count(["the", "fox", "lazy"]) == 1
    assert count(["the", "lazy"]) == 2
    assert count(["he", "lazy"]) == 0
    assert count(["lazy"]) == 2


def test_all_refuses_mixed_or_non_starts_with_regexes() -> None:
    raises({"tags": {"$all": [{"$regex": "^\\Qre\\E"}, "blue"]}}, INVALID_JSON)
    err = raises({"tags": {"$all": [{"$regex": "re"}]}}, INVALID_JSON)
    assert err.message.startswith("All $all values must be of regex type or none: ")
    raises({"tags": {"$all": "red"}}, INVALID_JSON, "bad $all value")


# ------------------------------------------------------------- $containedBy


def test_contained_by() -> None:
    allowed = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert not matches({"numbers": [0, 1, 2]}, {"numbers": {"$containedBy": allowed}})
    assert not matches({"numbers": [2, 0]}, {"numbers": {"$containedBy": allowed}})
    assert matches({"numbers": [1, 2, 3, 4]}, {"numbers": {"$containedBy": allowed}})
    assert matches({"numbers": []}, {"numbers": {"$containedBy": []}})
    assert not matches({"numbers": [1]}, {"numbers": {"$containedBy": []}})
    # MongoDB's $nor/$elemMatch form lets missing and non-array fields through.
    assert matches({}, {"numbers": {"$containedBy": [1]}})
    pointers = [ptr("_User", "u1"), ptr("_User", "u3"), ptr("_User", "u4")]
    assert m({"members": {"$containedBy": pointers}})
    assert not m({"members": {"$containedBy": pointers[1:]}})


def test_contained_by_requires_array() -> None:
    raises({"numbers": {"$containedBy": 1234}}, INVALID_JSON, "bad $containedBy: should be an array")


# -------------------------------------------------------------------- $regex


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"title": {"$regex": "quick"}}, True),
        ({"title": {"$regex": "^quick"}}, False),
        ({"title": {"$regex": "^the"}}, False),
        ({"title": {"$regex": "^the", "$options": "i"}}, True),
        ({"title": {"$regex": "^\\QThe q\\E"}}, True),  # startsWith from the SDKs
        ({"title": {"$regex": "\\Q.*\\E"}}, False),  # quoted text is literal
        ({"title": {"$regex": "\\Qlazy dog"}}, True),  # \Q without \E runs to the end
        ({"title": {"$regex": "q u i c k", "$options": "x"}}, True),
        ({"title": {"$regex": "dog$"}}, True),
        ({"tags": {"$regex": "^gr"}}, True),  # any element
        ({"count": {"$regex": "3"}}, False),  # only strings
        ({"absent": {"$regex": "."}}, False),
    ],
)
def test_regex(where: dict, expected: bool) -> None:
    assert m(where) is expected


def test_regex_multiline_and_dotall() -> None:
    obj = {"text": "first\nsecond"}
    assert not matches(obj, {"text": {"$regex": "^second"}})
    assert matches(obj, {"text": {"$regex": "^second", "$options": "m"}})
    assert not matches(obj, {"text": {"$regex": "first.second"}})
    assert matches(obj, {"text": {"$regex": "first.second", "$options": "si"}})


@pytest.mark.parametrize("options", ["g", "iy", ""])
def test_regex_bad_options(options: Any) -> None:
    err = raises({"title": {"$regex": "a", "$options": options}}, INVALID_QUERY)
    assert err.message == f"Bad $options value for query: {options}"


def test_regex_options_must_be_a_string() -> None:
    raises({"title": {"$regex": "a", "$options": 5}}, INVALID_QUERY, "$options value must be a string")


def test_regex_bad_options_message() -> None:
    raises({"title": {"$regex": "a", "$options": "ig"}}, INVALID_QUERY, "Bad $options value for query: ig")


def test_regex_must_be_string() -> None:
    raises({"title": {"$regex": 5}}, INVALID_QUERY, "$regex value must be a string")


@pytest.mark.parametrize("pattern", ["[", "(", "a{2,1}", "a)", "*", "[z-a]", "\\"])
def test_invalid_regex_is_a_query_error(pattern: str) -> None:
    err = raises({"title": {"$regex": pattern}}, INVALID_QUERY)
    assert err.message.startswith("Invalid regular expression")


def test_catastrophic_regex_returns_within_the_timeout() -> None:
    obj = {"s": "a" * 30 + "b"}
    start = time.monotonic()
    try:
        result = matches(obj, {"s": {"$regex": "(a+)+$"}}, regex_timeout=0.1)
    except ParseError as err:
        assert err.code == INVALID_QUERY
        assert err.message.startswith("Regex timeout")
    else:
        assert result is False
    assert time.monotonic() - start < 1.0


def test_runaway_regex_raises_timeout() -> None:
    obj = {"s": "a" * 40 + "b"}
    start = time.monotonic()
    with pytest.raises(ParseError) as info:
        matches(obj, {"s": {"$regex": "(a|aa)+$"}}, regex_timeout=0.1)
    elapsed = time.monotonic() - start
    assert info.value.code == INVALID_QUERY
    assert info.value.message.startswith("Regex timeout")
    assert elapsed < 1.0


def test_regex_timeout_can_be_lifted() -> None:
    assert matches({"s": "a" * 18 + "b"}, {"s": {"$regex": "(a|aa)+$"}}, regex_timeout=None) is False
    assert matches({"s": "aab"}, {"s": {"$regex": "b$"}}, regex_timeout=0)


def test_regex_timeout_is_a_budget_for_the_whole_evaluation() -> None:
    obj = {"a": "a" * 40 + "b", "b": "a" * 40 + "b"}
    where = {"$or": [{"a": {"$regex": "(a|aa)+$"}}, {"b": {"$regex": "(a|aa)+$"}}]}
    start = time.monotonic()
    with pytest.raises(ParseError):
        matches(obj, where, regex_timeout=0.1)
    assert time.monotonic() - start < 1.0


def test_compile_regex_is_cached_and_validated() -> None:
    assert compile_regex("^ab", "i") is compile_regex("^ab", "i")
    assert compile_regex("x", None).search("x")
    with pytest.raises(ParseError) as info:
        compile_regex("[")
    assert info.value.code == INVALID_QUERY
    with pytest.raises(ParseError) as info:
        compile_regex({"a": 1})
    assert info.value.code == INVALID_QUERY


# --------------------------------------------------------------------- $text


def text(term: str, **extra: Any) -> dict:
    return {"title": {"$text": {"$search": {"$term": term, **extra}}}}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (text("fox"), True),  # stemmed: "foxes" ~ "fox"
        (text("FOXES"), True),  # case-insensitive by default
        (text("cat dog"), True),  # any term
        (text("cat mouse"), False),
        (text("jump"), True),  # "jumped" ~ "jump"
        (text("qui"), False),  # whole words only
        (text('"lazy dog"'), True),
        (text('"dog lazy"'), False),
        (text('"quick brown" cat'), True),  # phrase present: terms are optional
        (text('"quick brown" "lazy cat"'), False),  # every phrase is required
        (text("fox -lazy"), False),
        (text("fox -cat"), True),
        (text('fox -"lazy dog"'), False),
        (text("-cat"), False),  # only negations never match
        (text("the"), False),  # stop words are ignored
        (text("Quick", **{"$caseSensitive": True}), False),
        (text("quick", **{"$caseSensitive": True}), True),
    ],
)
def test_text_search(where: dict, expected: bool) -> None:
    assert m(where) is expected


def test_text_search_diacritics() -> None:
    obj = {"title": "Un café au lait"}
    assert matches(obj, text("cafe"))
    assert matches(obj, text("CAFÉ"))
    assert not matches(obj, text("cafe", **{"$diacriticSensitive": True}))
    assert matches(obj, text("café", **{"$diacriticSensitive": True}))


def test_text_search_language_none_disables_stemming() -> None:
    assert not m(text("fox", **{"$language": "none"}))
    assert m(text("foxes", **{"$language": "none"}))


def test_text_search_on_array_and_missing_field() -> None:
    assert matches({"title": ["alpha beta", "gamma"]}, text("gamma"))
    assert not matches({}, text("gamma"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x", "bad $text: $search, should be object"),
        ({"$search": "x"}, "bad $text: $search, should be object"),
        ({"$search": {}}, "bad $text: $term, should be string"),
        ({"$search": {"$term": 5}}, "bad $text: $term, should be string"),
        ({"$search": {"$term": "a", "$language": 5}}, "bad $text: $language, should be string"),
        ({"$search": {"$term": "a", "$caseSensitive": "yes"}}, "bad $text: $caseSensitive, should be boolean"),
        (
            {"$search": {"$term": "a", "$diacriticSensitive": 1}},
            "bad $text: $diacriticSensitive, should be boolean",
        ),
    ],
)
def test_text_search_errors(value: Any, message: str) -> None:
    raises({"title": {"$text": value}}, INVALID_JSON, message)


# ---------------------------------------------------------------------- geo


def test_haversine_san_francisco_to_berlin() -> None:
    radians = geo.haversine_radians(37.7749, -122.4194, 52.52, 13.405)
    assert radians * geo.RADIANS_TO_KM == pytest.approx(9105.2, abs=1.0)
    assert geo.radians_to_miles(radians) == pytest.approx(5657.8, abs=1.0)
    assert geo.radians_to_km(radians) == pytest.approx(9105.2, abs=1.0)
    assert geo.haversine_radians(10, 20, 10, 20) == 0.0
    assert geo.haversine_radians(0, 0, 0, 180) == pytest.approx(math.pi)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({}, True),
        ({"$maxDistanceInKilometers": 9200}, True),
        ({"$maxDistanceInKilometers": 9000}, False),
        ({"$maxDistanceInMiles": 5700}, True),
        ({"$maxDistanceInMiles": 5600}, False),
        ({"$maxDistanceInRadians": 1.43}, True),
        ({"$maxDistanceInRadians": 1.42}, False),
        ({"$maxDistance": 1.43}, True),
        ({"$maxDistance": 1.42}, False),
        # Parse lets $maxDistance win over the unit variants.
        ({"$maxDistance": 1.43, "$maxDistanceInKilometers": 1}, True),
        ({"$maxDistanceInKilometers": 9200, "$maxDistanceInMiles": 1}, True),
    ],
)
def test_near_sphere_with_max_distance(limits: dict, expected: bool) -> None:
    assert matches({"loc": SF}, {"loc": {"$nearSphere": BERLIN, **limits}}) is expected


def test_near_sphere_bay_area() -> None:
    where = {"loc": {"$nearSphere": SF, "$maxDistanceInKilometers": 100}}
    assert matches({"loc": SAN_JOSE}, where)
    assert not matches({"loc": BERLIN}, where)
    assert not matches({}, where)
    assert not matches({"loc": "not a point"}, where)
    assert matches({"loc": [BERLIN, SAN_JOSE]}, where)  # any point of an array


def test_near_sphere_errors() -> None:
    raises({"loc": {"$nearSphere": {"latitude": 1, "longitude": 2}}}, INVALID_JSON)
    raises({"loc": {"$nearSphere": gp(91, 0)}}, INVALID_JSON, "GeoPoint latitude out of bounds: 91 > 90.0.")
    raises({"loc": {"$nearSphere": SF, "$maxDistance": "far"}}, INVALID_JSON, "bad $maxDistance value")
    raises({"loc": {"$nearSphere": SF, "$maxDistanceInMiles": -1}}, INVALID_JSON, "bad $maxDistanceInMiles value")


def test_within_box_includes_edges() -> None:
    where = {"loc": {"$within": {"$box": [gp(0, 0), gp(10, 10)]}}}
    assert matches({"loc": gp(1.5, 1.5)}, where)
    assert matches({"loc": gp(10, 10)}, where)
    assert not matches({"loc": gp(20, 20)}, where)
    # A south-west corner east of the north-east one matches nothing.
    assert not matches({"loc": gp(5, 175)}, {"loc": {"$within": {"$box": [gp(0, 170), gp(10, -170)]}}})


def test_within_box_errors() -> None:
    raises({"loc": {"$within": {"$box": [gp(0, 0)]}}}, INVALID_JSON, "malformatted $within arg")
    raises({"loc": {"$within": {}}}, INVALID_JSON, "malformatted $within arg")


SQUARE = [gp(0, 0), gp(0, 10), gp(10, 10), gp(10, 0)]


@pytest.mark.parametrize(
    "polygon",
    [
        SQUARE,
        [*SQUARE, gp(0, 0)],  # closed ring
        [[0, 0], [10, 0], [10, 10], [0, 10]],  # bare [lng, lat] pairs
        {"__type": "Polygon", "coordinates": [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]},
    ],
)
def test_geo_within_polygon(polygon: Any) -> None:
    where = {"loc": {"$geoWithin": {"$polygon": polygon}}}
    assert matches({"loc": gp(1.5, 1.5)}, where)
    assert matches({"loc": gp(10, 10)}, where)  # on the boundary
    assert not matches({"loc": gp(20, 20)}, where)


def test_geo_within_polygon_object_pairs_are_lng_lat() -> None:
    # A thin rectangle spanning longitude 0..40 and latitude 0..5.
    polygon = {"__type": "Polygon", "coordinates": [[0, 0], [40, 0], [40, 5], [0, 5]]}
    where = {"loc": {"$geoWithin": {"$polygon": polygon}}}
    assert matches({"loc": gp(2, 30)}, where)
    assert not matches({"loc": gp(30, 2)}, where)


@pytest.mark.parametrize(
    ("polygon", "message"),
    [
        (1234, "bad $geoWithin value; $polygon should be Polygon object or Array of Parse.GeoPoint's"),
        ([], "bad $geoWithin value; $polygon should contain at least 3 GeoPoints"),
        ([{}, {}, {}], "bad $geoWithin value"),
        (
            {"__type": "Polygon", "coordinates": [[0, 0], [10, 0]]},
            "bad $geoWithin value; Polygon.coordinates should contain at least 3 lon/lat pairs",
        ),
        ([gp(0, 0), gp(181, 0), gp(0, 0)], "GeoPoint latitude out of bounds: 181 > 90.0."),
        ([gp(0, 0), gp(0, 181), gp(0, 0)], "GeoPoint longitude out of bounds: 181 > 180.0."),
        ({"__type": "Polygon", "coordinates": [[0, 0], [181, 0], [0, 10]]}, None),
    ],
)
def test_geo_within_polygon_errors(polygon: Any, message: str | None) -> None:
    raises({"loc": {"$geoWithin": {"$polygon": polygon}}}, INVALID_JSON, message)


def test_geo_within_center_sphere() -> None:
    radius = 100 / geo.EARTH_RADIUS_KM
    for center in (SF, [-122.4194, 37.7749]):
        where = {"loc": {"$geoWithin": {"$centerSphere": [center, radius]}}}
        assert matches({"loc": SAN_JOSE}, where)
        assert not matches({"loc": BERLIN}, where)


@pytest.mark.parametrize(
    ("sphere", "message"),
    [
        ("x", "bad $geoWithin value; $centerSphere should be an array of Parse.GeoPoint and distance"),
        ([SF], "bad $geoWithin value; $centerSphere should be an array of Parse.GeoPoint and distance"),
        ([{"lat": 1}, 1], "bad $geoWithin value; $centerSphere geo point invalid"),
        ([SF, -1], "bad $geoWithin value; $centerSphere distance invalid"),
        ([SF, "far"], "bad $geoWithin value; $centerSphere distance invalid"),
        ([[200, 0], 1], "GeoPoint longitude out of bounds: 200 > 180.0."),
    ],
)
def test_geo_within_center_sphere_errors(sphere: Any, message: str) -> None:
    raises({"loc": {"$geoWithin": {"$centerSphere": sphere}}}, INVALID_JSON, message)


def test_geo_intersects_point_on_polygon_field() -> None:
    assert m({"area": {"$geoIntersects": {"$point": gp(5, 5)}}})
    assert m({"area": {"$geoIntersects": {"$point": gp(0, 5)}}})  # boundary
    assert not m({"area": {"$geoIntersects": {"$point": gp(15, 5)}}})
    assert not m({"loc": {"$geoIntersects": {"$point": gp(5, 5)}}})  # not a polygon
    raises(
        {"area": {"$geoIntersects": {"$point": [5, 5]}}},
        INVALID_JSON,
        "bad $geoIntersect value; $point should be GeoPoint",
    )


def test_geo_helpers() -> None:
    ring = [(0, 0), (0, 10), (10, 10), (10, 0)]
    assert geo.point_in_polygon(5, 5, ring)
    assert geo.point_in_polygon(0, 5, ring)
    assert not geo.point_in_polygon(11, 5, ring)
    assert not geo.point_in_polygon(5, 5, ring[:2])
    triangle = [(0, 0), (10, 0), (0, 10)]  # (lat, lng)
    assert geo.point_in_polygon(2, 2, triangle)
    assert not geo.point_in_polygon(8, 8, triangle)
    assert geo.point_in_box(5, 5, (0, 0), (10, 10))
    assert not geo.point_in_box(5, 11, (0, 0), (10, 10))
    assert geo.within_center_sphere(0, 1, 0, 0, math.radians(1.0001))
    assert not geo.within_center_sphere(0, 1, 0, 0, math.radians(0.9999))
    assert geo.polygon_contains_point([[0, 0], [0, 10], [10, 10], [10, 0]], (5, 5))
    assert geo.miles_to_radians(3959) == 1.0
    assert geo.km_to_radians(6371) == 1.0


def test_parse_geopoint() -> None:
    assert geo.parse_geopoint(SF) == (37.7749, -122.4194)
    assert geo.parse_lng_lat_pair([13.405, 52.52]) == (52.52, 13.405)
    for bad in (None, {}, {"latitude": 1, "longitude": 1}, gp(-91, 0), gp(0, -181), gp("1", 2), gp(True, 2)):
        with pytest.raises(ParseError) as info:
            geo.parse_geopoint(bad)
        assert info.value.code == INVALID_JSON
    with pytest.raises(ParseError) as info:
        geo.parse_geopoint(gp(0, -181))
    assert info.value.message == "GeoPoint longitude out of bounds: -181 < -180.0."


def test_distance_key_sorts_near_results() -> None:
    rows = [{"loc": BERLIN}, {}, {"loc": SAN_JOSE}, {"loc": SF}]
    ordered = sorted(rows, key=lambda row: geo.distance_key(row.get("loc"), SF))
    assert ordered == [{"loc": SF}, {"loc": SAN_JOSE}, {"loc": BERLIN}, {}]
    assert geo.distance_key(None, SF) == math.inf
    assert geo.distance_key((0, 0), (0, 180)) == pytest.approx(math.pi)


# -------------------------------------------------------------- logic + paths


def test_or_and_nor() -> None:
    assert m({"$or": [{"count": 1}, {"count": 3}]})
    assert not m({"$or": [{"count": 1}, {"count": 2}]})
    assert m({"$and": [{"count": 3}, {"tags": "red"}]})
    assert not m({"$and": [{"count": 3}, {"tags": "pink"}]})
    assert m({"$nor": [{"count": 1}, {"tags": "pink"}]})
    assert not m({"$nor": [{"count": 3}]})


def test_nested_logic() -> None:
    where = {
        "title": {"$exists": True},
        "$or": [
            {"$and": [{"count": {"$gt": 5}}, {"tags": "red"}]},
            {"$nor": [{"$or": [{"flag": False}, {"owner": ptr("_User", "zz")}]}]},
        ],
    }
    assert m(where)
    assert not matches({**OBJ, "flag": False}, where)
    assert matches({**OBJ, "flag": False, "count": 9}, where)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"$or": {"a": 1}}, "Bad $or format - use an array value."),
        ({"$and": "x"}, "Bad $and format - use an array value."),
        ({"$nor": []}, "Bad $nor format - use an array of at least 1 value."),
        ({"$or": [1]}, "Bad $or format - use an array value."),
    ],
)
def test_malformed_logic(where: dict, message: str) -> None:
    raises(where, INVALID_QUERY, message)


def test_dot_notation() -> None:
    assert m({"meta.a.b": 1})
    assert not m({"meta.a.b": 2})
    assert m({"meta.a.b": {"$gte": 1}})
    assert m({"meta.list.k": "y"})  # any element of an array of objects
    assert not m({"meta.list.k": "z"})
    assert m({"meta.list.1.k": "y"})  # array index
    assert not m({"meta.list.0.k": "y"})
    assert m({"author.name": "Ann"})  # into an included pointer
    assert m({"meta.missing.deeper": None})
    assert not m({"owner.name": "Ann"})  # plain pointers have no fields


def test_acl_cannot_be_queried() -> None:
    raises({"ACL": {"*": {"read": True}}}, INVALID_QUERY, "Cannot query on ACL.")


def test_unknown_constraint_is_bad_constraint() -> None:
    raises({"title": {"$foo": 1}}, INVALID_JSON, "bad constraint: $foo")
    raises({"title": {"$where": "1"}}, INVALID_JSON, "bad constraint: $where")
    raises({"title": {"$not": {"$eq": 1}}}, INVALID_JSON, "bad constraint: $not")


def test_mixed_constraint_object_is_a_literal() -> None:
    assert not m({"count": {"$gt": 1, "plain": 2}})
    assert matches({"doc": {"$gt": 1, "plain": 2}}, {"doc": {"$gt": 1, "plain": 2}})


def test_options_and_max_distance_alone_are_inert() -> None:
    assert m({"title": {"$options": "i"}})
    assert m({"loc": {"$maxDistance": 0.1}})


def test_matches_refuses_undecidable_operators() -> None:
    raises({"owner": {"$inQuery": {"className": "_User", "where": {}}}}, INVALID_QUERY)
    raises({"$relatedTo": {"object": ptr("Post", "p"), "key": "likes"}}, INVALID_QUERY)


def test_non_dict_object_never_matches() -> None:
    assert matches(None, {}) is False  # type: ignore[arg-type]


def test_deeply_nested_values_do_not_crash() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = {"a": deep}
    with pytest.raises(ParseError) as info:
        matches({"doc": deep}, {"doc": deep})
    assert info.value.code == INVALID_QUERY


def test_compiled_where_is_reusable() -> None:
    query = compile_where({"count": {"$gt": 2}, "tags": "red"})
    assert query.matches(OBJ)
    assert not query.matches({**OBJ, "count": 1})


# ------------------------------------------------------- validate_live_where


def nest(levels: int) -> dict:
    where: dict = {"count": 3}
    for _ in range(levels):
        where = {"$or": [where]}
    return where


@pytest.mark.parametrize(
    ("where", "code", "message"),
    [
        ({"owner": {"$inQuery": {"className": "_User", "where": {}}}}, INVALID_QUERY, None),
        ({"owner": {"$notInQuery": {"className": "_User", "where": {}}}}, INVALID_QUERY, None),
        ({"city": {"$select": {"query": {"className": "C"}, "key": "k"}}}, INVALID_QUERY, None),
        ({"city": {"$dontSelect": {"query": {"className": "C"}, "key": "k"}}}, INVALID_QUERY, None),
        ({"$relatedTo": {"object": ptr("Post", "p"), "key": "likes"}}, INVALID_QUERY, None),
        ({"$or": [{"a": 1}, {"b": {"$inQuery": {}}}]}, INVALID_QUERY, None),
        ({"$and": [{"$nor": [{"$relatedTo": {}}]}]}, INVALID_QUERY, None),
        ({"title": {"$foo": 1}}, INVALID_JSON, "bad constraint: $foo"),
        ({"$where": "sleep(1000)"}, INVALID_KEY_NAME, "Invalid key name: $where"),
        ({"$expr": {"$function": {}}}, INVALID_KEY_NAME, "Invalid key name: $expr"),
        ({"$function": {}}, INVALID_KEY_NAME, "Invalid key name: $function"),
        ({"title": {"$function": {}}}, INVALID_JSON, "bad constraint: $function"),
        ({"$or": "x"}, INVALID_QUERY, "Bad $or format - use an array value."),
        ({"$nor": {}}, INVALID_QUERY, "Bad $nor format - use an array of at least 1 value."),
        ({"title": {"$regex": "("}}, INVALID_QUERY, None),
        ({"title": {"$regex": "a", "$options": "z"}}, INVALID_QUERY, "Bad $options value for query: z"),
        ({"count": {"$in": 1}}, INVALID_JSON, "bad $in value"),
        ({"ACL": {}}, INVALID_QUERY, "Cannot query on ACL."),
        (nest(21), INVALID_QUERY, "Query condition nesting depth exceeds the maximum of 20"),
        ("not an object", INVALID_QUERY, None),
    ],
)
def test_validate_live_where_rejections(where: Any, code: int, message: str | None) -> None:
    with pytest.raises(ParseError) as info:
        validate_live_where(where)
    assert info.value.code == code
    if message is not None:
        assert info.value.message == message


def test_undecidable_messages_name_the_operator() -> None:
    for op in ("$inQuery", "$notInQuery", "$select", "$dontSelect"):
        with pytest.raises(ParseError) as info:
            validate_live_where({"f": {op: {}}})
        assert op in info.value.message
    with pytest.raises(ParseError) as info:
        validate_live_where({"$relatedTo": {}})
    assert "$relatedTo" in info.value.message


def test_validate_live_where_accepts_supported_queries() -> None:
    validate_live_where(nest(20))
    validate_live_where(
        {
            "title": {"$regex": "^a", "$options": "i"},
            "loc": {"$nearSphere": SF, "$maxDistanceInKilometers": 5},
            "tags": {"$all": ["a"]},
            "$or": [{"count": {"$gt": 1}}, {"due": {"$lt": {"$relativeTime": "2 days ago"}}}],
        }
    )
    with pytest.raises(ParseError):
        validate_live_where(nest(3), max_depth=2)


def test_matches_caps_nesting_for_every_caller() -> None:
    assert matches(OBJ, nest(100))
    with pytest.raises(ParseError) as info:
        matches(OBJ, nest(1000))
    assert info.value.code == INVALID_QUERY
