"""Aggregation on the embedded store.

SQLite has no document pipeline, so the class's objects are put in MongoDB's
layout and run through the same pipeline engine the in-memory store uses
(mongomock's), off the event loop. The results are therefore the in-memory
store's, stage for stage; the cost is a scan of the class, which suits an
embedded store's data sizes (and /aggregate is master-key only)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bapp import errors
from bapp.errors import ParseError
from bapp.model import types
from bapp.storage.base import Fields
from bapp.storage.mongo import transform
from bapp.storage.mongo.pipeline import decode_results, encode_pipeline


def _mongo_doc(fields: Fields, row: dict) -> dict:
    obj = {}
    for key, value in row.items():
        if fields.get(key, {}).get("type") == "Relation":
            continue
        if key in ("createdAt", "updatedAt") and isinstance(value, str):
            value = types.parse_iso(value)
        obj[key] = value
    return transform.encode_object(fields, obj)


def _run(fields: Fields, rows: list[dict], pipeline: list[dict], file_url: Callable[[str], str]) -> list[dict]:
    from mongomock.aggregate import process_pipeline

    docs = [_mongo_doc(fields, row) for row in rows]
    try:
        result = list(process_pipeline(docs, None, encode_pipeline(pipeline, fields), None))
    except ParseError:
        raise
    except Exception:  # an unsupported stage or operator, a bad expression
        raise ParseError(errors.INVALID_QUERY, "Invalid aggregate pipeline.") from None
    return decode_results(result, file_url)


async def run(fields: Fields, rows: list[dict], pipeline: list[dict], file_url: Callable[[str], str]) -> list[Any]:
    return await asyncio.to_thread(_run, fields, rows, pipeline, file_url)
