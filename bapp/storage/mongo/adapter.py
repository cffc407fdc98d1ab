"""MongoDB storage in Parse Server's layout, through PyMongo's async API.

The same class serves the in-memory store (mongomock-motor), so tests run
the production code path; ``MemoryAdapter`` only adds what mongomock lacks."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from bapp import errors
from bapp.errors import ParseError
from bapp.storage.base import DuplicateValue, Fields, FindOptions
from bapp.storage.mongo import transform
from bapp.storage.mongo.pipeline import decode_results, encode_pipeline

SCHEMA_COLLECTION = "_SCHEMA"
# MongoDB runs regexes without a time limit; a catastrophic pattern is cut
# off here rather than left to occupy the database.
REGEX_TIME_LIMIT_MS = 2000


def _join_name(field_name: str, owner_class: str) -> str:
    return f"_Join:{field_name}:{owner_class}"


async def _resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class MongoAdapter:
    """Storage on a MongoDB database (or anything speaking its driver API)."""

    def __init__(self, client: Any, db_name: str, file_url: Callable[[str], str] | None = None,
                 collection_prefix: str = "") -> None:
        self.client = client
        self.db = client[db_name]
        self.prefix = collection_prefix
        self.file_url = file_url or (lambda name: name)

    def _col(self, class_name: str):
        return self.db[self.prefix + class_name]

    async def connect(self) -> None:
        await self._col(SCHEMA_COLLECTION).find_one({})

    async def close(self) -> None:
        result = self.client.close()
        await _resolve(result)

    # ---------------------------------------------------------- schema docs
    async def load_schemas(self) -> list[dict]:
        return await self._col(SCHEMA_COLLECTION).find({}).to_list(None)

    async def save_schema(self, class_name: str, doc: dict) -> None:
        body = {k: v for k, v in doc.items() if k != "_id"}
        await self._col(SCHEMA_COLLECTION).replace_one({"_id": class_name}, {"_id": class_name, **body}, upsert=True)

    async def delete_schema(self, class_name: str) -> None:
        await self._col(SCHEMA_COLLECTION).delete_one({"_id": class_name})

    async def drop_class(self, class_name: str, relation_fields: list[str]) -> None:
        await self._col(class_name).drop()
        for name in relation_fields:
            await self._col(_join_name(name, class_name)).drop()
        await self.delete_schema(class_name)

    async def delete_field(self, class_name: str, fields: Fields, name: str) -> None:
        spec = fields.get(name, {})
        if spec.get("type") == "Relation":
            await self._col(_join_name(name, class_name)).drop()
            return
        key = "_p_" + name if spec.get("type") == "Pointer" else name
        await self._col(class_name).update_many({}, {"$unset": {key: ""}})

    # ---------------------------------------------------------- objects
    def as_read(self, fields: Fields, obj: dict) -> dict:
        return transform.decode_object(fields, transform.encode_object(fields, obj), self.file_url)

    async def create(self, class_name: str, fields: Fields, obj: dict) -> None:
        doc = transform.encode_object(fields, obj)
        try:
            await self._col(class_name).insert_one(doc)
        except DuplicateKeyError as exc:
            raise DuplicateValue(_duplicate_fields(exc)) from None

    async def update(self, class_name: str, fields: Fields, where: dict, update: dict) -> dict | None:
        filt = transform.encode_where(fields, where)
        mongo_update = transform.encode_update(fields, update)
        try:
            doc = await self._col(class_name).find_one_and_update(
                filt, mongo_update, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as exc:
            raise DuplicateValue(_duplicate_fields(exc)) from None
        except OperationFailure as exc:
            raise _operation_error(exc) from None
        return transform.decode_object(fields, doc, self.file_url) if doc else None

    async def update_many(self, class_name: str, fields: Fields, where: dict, update: dict) -> int:
        filt = transform.encode_where(fields, where)
        result = await self._col(class_name).update_many(filt, transform.encode_update(fields, update))
        return result.modified_count

    async def delete(self, class_name: str, fields: Fields, where: dict) -> bool:
        result = await self._col(class_name).delete_one(transform.encode_where(fields, where))
        return result.deleted_count == 1

    async def delete_many(self, class_name: str, fields: Fields, where: dict) -> int:
        result = await self._col(class_name).delete_many(transform.encode_where(fields, where))
        return result.deleted_count

    async def find(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> list[dict]:
        try:
            docs = await self._cursor(class_name, fields, where, options).to_list(None)
        except OperationFailure as exc:
            # As Parse Server: a $text or $nearSphere query on a field with no
            # suitable index builds the index once and runs again.
            if not await self._index_for(class_name, fields, where, exc):
                raise _operation_error(exc) from None
            try:
                docs = await self._cursor(class_name, fields, where, options).to_list(None)
            except OperationFailure as again:
                raise _operation_error(again) from None
        return [transform.decode_object(fields, d, self.file_url) for d in docs]

    async def _index_for(self, class_name: str, fields: Fields, where: dict, exc: OperationFailure) -> bool:
        if exc.code not in (27, 291, 2):
            return False
        for key, value in where.items():
            if key == "$and":
                for sub in value:
                    if await self._index_for(class_name, fields, sub, exc):
                        return True
            elif isinstance(value, dict) and "$text" in value:
                await self._col(class_name).create_index([(key, "text")], name=f"{key}_text")
                return True
            elif isinstance(value, dict) and "$nearSphere" in value:
                await self._col(class_name).create_index([(key, "2d")], name=f"{key}_2d")
                return True
        return False

    def _cursor(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> Any:
        projection = transform.encode_projection(fields, options.keys) if options.keys is not None else None
        cursor = self._col(class_name).find(transform.encode_where(fields, where), projection)
        if _has_regex(where):
            cursor = cursor.max_time_ms(REGEX_TIME_LIMIT_MS)
        sort = transform.encode_sort(fields, options.order)
        if sort:
            cursor = cursor.sort(sort)
        if options.skip:
            cursor = cursor.skip(options.skip)
        if options.limit is not None:
            cursor = cursor.limit(options.limit)
        if options.hint:
            cursor = cursor.hint(options.hint)
        return cursor

    async def explain(self, class_name: str, fields: Fields, where: dict, options: FindOptions) -> dict:
        try:
            return await self._cursor(class_name, fields, where, options).explain()
        except OperationFailure as exc:
            raise _operation_error(exc) from None

    async def count(self, class_name: str, fields: Fields, where: dict) -> int:
        col = self._col(class_name)
        if not where:
            # An empty filter need not scan the collection.
            return await col.estimated_document_count()
        limit = {"maxTimeMS": REGEX_TIME_LIMIT_MS} if _has_regex(where) else {}
        try:
            return await col.count_documents(transform.encode_where(fields, _near_to_within(where)), **limit)
        except OperationFailure as exc:
            raise _operation_error(exc) from None

    async def distinct(self, class_name: str, fields: Fields, where: dict, key: str) -> list:
        spec = fields.get(key.split(".", 1)[0], {})
        mongo_key = "_p_" + key if spec.get("type") == "Pointer" and "." not in key else key
        mongo_key = {"objectId": "_id", "createdAt": "_created_at", "updatedAt": "_updated_at"}.get(key, mongo_key)
        values = await self._col(class_name).distinct(mongo_key, transform.encode_where(fields, where))
        if mongo_key.startswith("_p_"):
            out = []
            for value in values:
                if isinstance(value, str) and "$" in value:
                    cls, _, oid = value.partition("$")
                    out.append({"__type": "Pointer", "className": cls, "objectId": oid})
            return out
        return [transform.decode_interior(v, self.file_url) for v in values]

    async def aggregate(self, class_name: str, fields: Fields, pipeline: list[dict]) -> list[dict]:
        try:
            mongo_pipeline = encode_pipeline(pipeline, fields)
            cursor = await _resolve(self._col(class_name).aggregate(mongo_pipeline))
            return decode_results(await cursor.to_list(None), self.file_url)
        except OperationFailure as exc:
            raise _operation_error(exc) from None

    async def ensure_index(self, class_name: str, fields: Fields, spec: dict, name: str | None = None,
                           unique: bool = False, case_insensitive: bool = False) -> None:
        keys = []
        for key, direction in spec.items():
            if fields.get(key, {}).get("type") == "Pointer":
                key = "_p_" + key
            keys.append((key, direction))
        kwargs: dict[str, Any] = {"background": True}
        if name:
            kwargs["name"] = name
        if unique:
            kwargs["unique"] = True
            kwargs["sparse"] = True
        if case_insensitive:
            kwargs["collation"] = {"locale": "en_US", "strength": 2}
        try:
            await self._col(class_name).create_index(keys, **kwargs)
        except OperationFailure as exc:
            raise ParseError(errors.INVALID_QUERY, f"Cannot create index: {exc.details.get('errmsg') if exc.details else exc}") from None

    async def drop_index(self, class_name: str, name: str) -> None:
        await self._col(class_name).drop_index(name)

    async def indexes(self, class_name: str) -> dict[str, dict]:
        info = await self._col(class_name).index_information()
        return {name: dict(spec["key"]) for name, spec in info.items()}

    # ---------------------------------------------------------- relations
    async def add_relation(self, field_name: str, owner_class: str, owning_id: str, related_id: str) -> None:
        doc = {"owningId": owning_id, "relatedId": related_id}
        await self._col(_join_name(field_name, owner_class)).update_one(doc, {"$set": doc}, upsert=True)

    async def remove_relation(self, field_name: str, owner_class: str, owning_id: str, related_id: str) -> None:
        await self._col(_join_name(field_name, owner_class)).delete_many(
            {"owningId": owning_id, "relatedId": related_id})

    async def related_ids(self, field_name: str, owner_class: str, owning_ids: list[str]) -> list[str]:
        docs = await self._col(_join_name(field_name, owner_class)).find(
            {"owningId": {"$in": owning_ids}}, {"relatedId": 1}).to_list(None)
        return list(dict.fromkeys(d["relatedId"] for d in docs))

    async def relation_pairs(self, field_name: str, owner_class: str, owning_ids: list[str]) -> list[tuple[str, str]]:
        """(owningId, relatedId) of many owners at once (GraphQL reads the
        relation fields of a whole page of objects with one lookup)."""
        docs = await self._col(_join_name(field_name, owner_class)).find(
            {"owningId": {"$in": owning_ids}}, {"owningId": 1, "relatedId": 1}).to_list(None)
        return list(dict.fromkeys((d["owningId"], d["relatedId"]) for d in docs))

    async def owning_ids(self, field_name: str, owner_class: str, related_ids: list[str]) -> list[str]:
        docs = await self._col(_join_name(field_name, owner_class)).find(
            {"relatedId": {"$in": related_ids}}, {"owningId": 1}).to_list(None)
        return list(dict.fromkeys(d["owningId"] for d in docs))

    # ---------------------------------------------------------- config
    async def get_config(self) -> dict:
        doc = await self._col("_GlobalConfig").find_one({"_id": 1})
        return doc or {}

    async def update_config(self, params: dict, master_key_only: dict) -> None:
        update: dict[str, Any] = {}
        for key, value in params.items():
            if isinstance(value, dict) and value.get("__op") == "Delete":
                update.setdefault("$unset", {})[f"params.{key}"] = ""
                update.setdefault("$unset", {})[f"masterKeyOnly.{key}"] = ""
            else:
                update.setdefault("$set", {})[f"params.{key}"] = value
        for key, value in master_key_only.items():
            update.setdefault("$set", {})[f"masterKeyOnly.{key}"] = bool(value)
        if update:
            await self._col("_GlobalConfig").update_one({"_id": 1}, update, upsert=True)


def _has_regex(value: Any) -> bool:
    if isinstance(value, dict):
        return "$regex" in value or any(_has_regex(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_regex(v) for v in value)
    return False


def _near_to_within(where: dict) -> dict:
    """Counting cannot use $nearSphere (it sorts); as Parse Server does, a
    count asks for the points within the same distance instead."""
    out: dict[str, Any] = {}
    for key, value in where.items():
        if key in ("$and", "$or", "$nor"):
            out[key] = [_near_to_within(sub) for sub in value]
        elif isinstance(value, dict) and "$nearSphere" in value:
            rest = {k: v for k, v in value.items() if k != "$nearSphere" and not k.startswith("$maxDistance")}
            radius = _max_distance(value)
            rest["$geoWithin" if radius is not None else "$exists"] = (
                {"$centerSphere": [value["$nearSphere"], radius]} if radius is not None else True)
            out[key] = rest
        else:
            out[key] = value
    return out


def _max_distance(value: dict) -> float | None:
    if "$maxDistance" in value or "$maxDistanceInRadians" in value:
        return value.get("$maxDistance", value.get("$maxDistanceInRadians"))
    if "$maxDistanceInMiles" in value:
        return value["$maxDistanceInMiles"] / 3958.8
    if "$maxDistanceInKilometers" in value:
        return value["$maxDistanceInKilometers"] / 6371.0
    return None


def _duplicate_fields(exc: DuplicateKeyError) -> list[str]:
    details = exc.details or {}
    pattern = details.get("keyPattern") or details.get("keyValue") or {}
    if pattern:
        return list(pattern)
    message = str(exc)
    for name in ("username", "email", "name"):
        if name in message:
            return [name]
    return []


def _operation_error(exc: OperationFailure) -> ParseError:
    # Never echo database internals to the client.
    code = exc.code or 0
    if code in (2, 17287):  # BadValue
        return ParseError(errors.INVALID_QUERY, "Invalid query.")
    if code == 27:  # IndexNotFound, e.g. $text without a text index
        return ParseError(errors.INVALID_QUERY, "text index required for $text query")
    if code == 50:  # MaxTimeMSExpired
        return ParseError(errors.TIMEOUT, "The query took too long (a costly regular expression?).")
    if code == 291:
        return ParseError(errors.INVALID_QUERY, "unable to find index for $geoNear query")
    return ParseError(errors.INVALID_QUERY, "Invalid query.")
