"""The in-memory store's compiled filters decide exactly as mongomock does."""

import random
from datetime import datetime

import pytest
from mongomock.filtering import filter_applies

from bapp.storage.mongo.memory_filter import compile_filter

random.seed(7)
# Booleans are compared separately below: mongomock treats true as 1,
# MongoDB (and the compiled filters) do not.
VALUES = [None, 0, 1, 2.5, -3, "a", "b", "abc", "B", datetime(2024, 1, 1), datetime(2025, 6, 1),
          [], [1, 2], ["a", "b"], [None], {"x": 1}, [{"x": 1}, {"x": 2}]]


def make_doc(i: int) -> dict:
    doc = {"_id": str(i)}
    for key in ("a", "b", "c"):
        if random.random() < 0.8:
            doc[key] = random.choice(VALUES)
    if random.random() < 0.5:
        doc["o"] = {"x": random.choice(VALUES), "y": {"z": random.choice(VALUES)}}
    if random.random() < 0.7:
        doc["_rperm"] = random.choice([["*"], ["u1"], ["u1", "role:admin"], []])
    return doc


DOCS = [make_doc(i) for i in range(400)]

FILTERS = [
    {"a": 1}, {"a": None}, {"a": "a"}, {"a": 0}, {"a": datetime(2024, 1, 1)},
    {"a": {"$gt": 1}}, {"a": {"$gte": 1}}, {"a": {"$lt": 2}}, {"a": {"$lte": "b"}}, {"a": {"$gt": "a"}},
    {"a": {"$gt": datetime(2024, 6, 1)}}, {"a": {"$ne": 1}}, {"a": {"$ne": None}}, {"a": {"$eq": "a"}},
    {"a": {"$in": [1, "a", None]}}, {"a": {"$nin": [1, "a"]}}, {"a": {"$nin": [None]}}, {"a": {"$in": []}},
    {"a": {"$exists": True}}, {"a": {"$exists": False}}, {"a": {"$all": [1, 2]}}, {"a": {"$all": ["a"]}},
    {"a": {"$gt": 0, "$lt": 3}},
    {"o.x": 1}, {"o.y.z": {"$exists": True}}, {"o.y.z": "a"}, {"o.x": {"$in": [1, 2]}},
    {"$or": [{"a": 1}, {"b": "a"}]}, {"$and": [{"a": {"$exists": True}}, {"b": {"$ne": 1}}]},
    {"$nor": [{"a": 1}, {"c": None}]},
    {"$and": [{"a": {"$gte": 0}}, {"_rperm": {"$in": [None, "*", "u1"]}}]},
    {"_rperm": {"$in": [None, "*"]}}, {"a": 1, "b": {"$exists": False}},
    {"a": {"x": 1}}, {"a": [1, 2]},  # embedded documents and arrays: left to mongomock
]


@pytest.mark.parametrize("filt", FILTERS, ids=[str(f) for f in FILTERS])
def test_compiled_filter_agrees_with_mongomock(filt):
    predicate = compile_filter(filt)
    if predicate is None:
        assert filt in ({"a": {"x": 1}}, {"a": [1, 2]})
        return
    for doc in DOCS:
        assert predicate(doc) == filter_applies(filt, doc), doc


def test_unknown_operators_are_left_to_mongomock():
    assert compile_filter({"a": {"$elemMatch": {"$gt": 1}}}) is None
    assert compile_filter({"$text": {"$search": "x"}}) is None
    assert compile_filter({"a": {"$regex": "^a"}}) is None  # the matcher runs regexes, with a time budget


def test_booleans_are_not_numbers():
    # BSON types: {"a": 1} does not match true (mongomock says it does).
    assert compile_filter({"a": 1})({"a": True}) is False
    assert compile_filter({"a": True})({"a": True}) is True
    assert compile_filter({"a": {"$in": [1]}})({"a": [True]}) is False
    assert compile_filter({"a": {"$gt": 0}})({"a": True}) is False
