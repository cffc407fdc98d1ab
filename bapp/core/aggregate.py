"""``/aggregate``: validation of pipelines and distinct queries (master key).

Stages come from an allow-list and no operator that runs server-side code
or writes (``$out``, ``$merge``, ``$function``, ``$where``, ``$accumulator``)
is accepted at any depth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.errors import ParseError
from bapp.model.query import WhereValidator, parse_where

if TYPE_CHECKING:
    from bapp.core.engine import Engine

STAGES = frozenset({
    "$match", "$group", "$project", "$sort", "$limit", "$skip", "$unwind", "$lookup", "$sample",
    "$count", "$addFields", "$set", "$unset", "$bucket", "$bucketAuto", "$facet", "$geoNear",
    "$replaceRoot", "$replaceWith", "$sortByCount", "$redact",
})
FORBIDDEN = frozenset({"$out", "$merge", "$function", "$where", "$accumulator", "$currentOp",
                       "$listSessions", "$planCacheStats", "$collStats", "$indexStats"})
OPTIONS = frozenset({"pipeline", "distinct", "where", "hint", "explain", "readPreference", "comment"})


def _scan(value: Any, depth: int = 0) -> None:
    if depth > 40:
        raise ParseError(errors.INVALID_QUERY, "Aggregate pipeline is nested too deeply.")
    if isinstance(value, dict):
        for key, sub in value.items():
            if key in FORBIDDEN or key.startswith("__"):
                raise ParseError(errors.INVALID_QUERY, f"Invalid aggregate operator: {key}")
            _scan(sub, depth + 1)
    elif isinstance(value, list):
        for sub in value:
            _scan(sub, depth + 1)


def parse_pipeline(options: dict) -> list[dict]:
    raw = options.get("pipeline")
    if raw is None:
        raw = [{k: v} for k, v in options.items() if k not in OPTIONS]
    if isinstance(raw, dict):
        raw = [{k: v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise ParseError(errors.INVALID_QUERY, "Invalid aggregate pipeline.")
    stages = []
    for stage in raw:
        if not isinstance(stage, dict) or len(stage) != 1:
            raise ParseError(errors.INVALID_QUERY, "Pipeline stages must have exactly one key.")
        name = next(iter(stage))
        if name not in STAGES:
            raise ParseError(errors.INVALID_QUERY, f"Invalid aggregate stage '{name}'.")
        if name == "$group":
            group = stage[name]
            if not isinstance(group, dict) or ("_id" not in group and "objectId" not in group):
                raise ParseError(errors.INVALID_QUERY, "Invalid parameter for query: group. Please provide an _id field.")
        _scan(stage[name])
        stages.append(stage)
    return stages


async def run(engine: Engine, class_name: str, options: dict) -> list:
    schema = await engine.schemas.get(class_name)
    fields = schema.fields if schema else {}
    distinct = options.get("distinct")
    if distinct is not None:
        if not isinstance(distinct, str) or not distinct:
            raise ParseError(errors.INVALID_QUERY, "Invalid parameter for query: distinct")
        where = parse_where(options.get("where"))
        where = WhereValidator(fields, True, engine.settings.limits).validate(where)
        if schema is None:
            return []
        return await engine.storage.distinct(class_name, fields, where, distinct)
    pipeline = parse_pipeline(options)
    if schema is None:
        return []
    return await engine.storage.aggregate(class_name, fields, pipeline)
