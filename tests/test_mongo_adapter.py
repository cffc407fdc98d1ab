"""Unit tests of MongoDB-only paths of the adapter (no server needed)."""

from bapp.storage.mongo.adapter import _near_to_within

BERLIN = {"__type": "GeoPoint", "latitude": 52.52, "longitude": 13.405}


def test_count_turns_near_sphere_into_geo_within():
    where = {"loc": {"$nearSphere": BERLIN, "$maxDistanceInKilometers": 6371.0}, "n": 1}
    assert _near_to_within(where) == {"loc": {"$geoWithin": {"$centerSphere": [BERLIN, 1.0]}}, "n": 1}


def test_count_near_sphere_without_distance_counts_every_point():
    where = {"$and": [{"loc": {"$nearSphere": BERLIN}}, {"_rperm": {"$in": [None, "*"]}}]}
    assert _near_to_within(where) == {"$and": [{"loc": {"$exists": True}}, {"_rperm": {"$in": [None, "*"]}}]}


def test_regex_queries_carry_a_time_limit():
    from pymongo.errors import OperationFailure

    from bapp.storage.mongo.adapter import _has_regex, _operation_error

    assert _has_regex({"$and": [{"name": {"$regex": "^a"}}, {"_rperm": {"$in": ["*"]}}]})
    assert not _has_regex({"name": "^a"})
    assert _operation_error(OperationFailure("too slow", code=50)).code == 124
