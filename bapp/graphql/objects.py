"""Class queries (``<class>(id:)``, ``<classes>(...)``, ``node``) and the
resolvers of the generated object types. Reads go through ``engine.find``
/ ``engine.get`` exactly as REST reads; relation fields of many parents
are read together, one query per class and level."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import GraphQLResolveInfo, SelectionSetNode
from graphql.execution.values import get_argument_values

from bapp import errors
from bapp.errors import ParseError
from bapp.graphql import selection
from bapp.graphql.context import Context, ctx_of
from bapp.graphql.names import cursor_to_offset, from_global_id, object_id_of, offset_to_cursor, to_global_id
from bapp.graphql.sdl import GraphQLClass
from bapp.graphql.where import to_parse
from bapp.model import types
from bapp.model.query import QueryOptions

CLASS_KEY = "__class"  # the Parse class of a result object (GraphQL names cannot start with "__")
DEFAULT_PAGE = 100  # Parse Server's GraphQL default page size


def tag(obj: dict, class_name: str) -> dict:
    obj[CLASS_KEY] = class_name
    return obj


def class_name_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        return obj.get(CLASS_KEY) or obj.get("className")
    return None


def _selection_sets(info: GraphQLResolveInfo, *path: str) -> list[SelectionSetNode]:
    return selection.sub_selection(list(info.field_nodes), list(path), info.fragments)


# ------------------------------------------------------------------ paging

def skip_and_limit(skip: Any, first: Any, after: Any, last: Any, before: Any,
                   max_limit: int) -> tuple[int | None, int | None, bool]:
    """(skip, limit, need_pre_count) for Relay arguments, as Parse Server
    computes them (``last`` without ``first`` needs the count first)."""
    limit = None
    pre_count = False
    if skip is not None:
        if skip < 0:
            raise ParseError(errors.INVALID_QUERY, "Skip should be a positive number")
    if after:
        offset = cursor_to_offset(after)
        if offset is None or offset < 0:
            raise ParseError(errors.INVALID_QUERY, "After is not a valid cursor")
        skip = (skip or 0) + offset + 1
    if first is not None:
        if first < 0:
            raise ParseError(errors.INVALID_QUERY, "First should be a positive number")
        limit = first
    if before:
        offset = cursor_to_offset(before)
        if offset is None or offset < 0:
            raise ParseError(errors.INVALID_QUERY, "Before is not a valid cursor")
        if (skip or 0) >= offset:
            limit = 0
        elif limit is None or (skip or 0) + limit > offset:
            limit = offset - (skip or 0)
    if last is not None:
        if last < 0:
            raise ParseError(errors.INVALID_QUERY, "Last should be a positive number")
        if max_limit and last > max_limit:
            last = max_limit
        if limit is not None:
            if last < limit:
                skip = (skip or 0) + (limit - last)
                limit = last
        elif last == 0:
            limit = 0
        else:
            limit = last
            pre_count = True
    return skip, limit, pre_count


def connection(rows: list[dict], skip: int | None, count: int | None) -> dict:
    start = skip or 0
    edges = [{"cursor": offset_to_cursor(start + i), "node": row} for i, row in enumerate(rows)]
    total = count or 0
    return {
        "edges": edges,
        "pageInfo": {
            "hasPreviousPage": bool(total > 0 and start > 0),
            "startCursor": offset_to_cursor(start),
            "endCursor": offset_to_cursor(start + (len(rows) or 1) - 1),
            "hasNextPage": total > start + len(rows),
        },
        "count": count,
    }


# ------------------------------------------------------------------ reads

def _order(order: list[str] | None) -> list[str]:
    return list(order or [])


async def find_connection(ctx: Context, c: GraphQLClass, args: dict, sets: list[SelectionSetNode],
                          fragments: dict, extra_where: dict | None = None) -> dict:
    """A ``<Class>Connection`` for find arguments and the connection's selection."""
    where = to_parse(args.get("where") or {}, c, ctx.classes)
    if extra_where:
        where = {**extra_where, **where} if not where else {"$and": [extra_where, where]}
    max_limit = ctx.engine.settings.limits.max_limit
    skip, limit, pre_count = skip_and_limit(args.get("skip"), args.get("first"), args.get("after"),
                                            args.get("last"), args.get("before"), max_limit)
    total = None
    if pre_count:
        total = (await ctx.engine.find(c.class_name, QueryOptions(where=where, limit=0, count=True), ctx.auth))["count"]
        if (skip or 0) + limit < total:
            skip = total - limit
    node_sets = selection.sub_selection_of(sets, ["edges", "node"], fragments)
    wants_rows = selection.wants(sets, fragments, "edges", "pageInfo")
    wants_count = selection.wants(sets, fragments, "count", "pageInfo.hasPreviousPage", "pageInfo.hasNextPage")
    opts = QueryOptions(where=where, order=_order(args.get("order")), count=wants_count and not pre_count)
    if wants_rows:
        opts.limit = DEFAULT_PAGE if limit is None else limit
        if max_limit and opts.limit > max_limit:
            opts.limit = max_limit
        opts.skip = skip or 0
        opts.keys, opts.include = selection.plan_for(c, node_sets, ctx.classes, fragments)
    else:
        opts.limit = 0
    found = await ctx.engine.find(c.class_name, opts, ctx.auth)
    rows = [tag(r, c.class_name) for r in found["results"]]
    await prefetch(ctx, c, rows, node_sets, fragments)
    return connection(rows, skip, total if pre_count else found.get("count"))


async def get_object(ctx: Context, c: GraphQLClass, object_id: str, sets: list[SelectionSetNode],
                     fragments: dict) -> dict:
    keys, include = selection.plan_for(c, sets, ctx.classes, fragments)
    obj = await ctx.engine.get(c.class_name, object_id, QueryOptions(keys=keys, include=include), ctx.auth)
    if c.class_name == "_User":
        obj.pop("sessionToken", None)
    tag(obj, c.class_name)
    await prefetch(ctx, c, [obj], sets, fragments)
    return obj


def get_resolver(c: GraphQLClass):
    async def resolve(_root: Any, info: GraphQLResolveInfo, id: str, options: Any = None) -> dict:
        ctx = ctx_of(info)
        return await get_object(ctx, c, object_id_of(id, c.class_name), _selection_sets(info), info.fragments)
    return resolve


def find_resolver(c: GraphQLClass):
    async def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict:
        return await find_connection(ctx_of(info), c, args, _selection_sets(info), info.fragments)
    return resolve


async def resolve_node(_root: Any, info: GraphQLResolveInfo, id: str) -> dict | None:
    ctx = ctx_of(info)
    found = from_global_id(id)
    c = ctx.classes.get(found[0]) if found else None
    if c is None:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")
    return await get_object(ctx, c, found[1], _selection_sets(info), info.fragments)


# ------------------------------------------------------------------ relations

def _rel_key(response_name: str) -> str:
    return f"__rel_{response_name}"


async def prefetch(ctx: Context, c: GraphQLClass, rows: list[dict], sets: list[SelectionSetNode],
                   fragments: dict) -> None:
    """Reads the relation fields this selection asks of ``rows`` (and of the
    objects included under them) before they are resolved: one read per
    relation field and level, whatever the number of parents."""
    if not rows or not sets:
        return
    merged = selection.merge(sets, fragments)
    for response_name, nodes in merged.fields.items():
        name = nodes[0].name.value
        spec = c.fields.get(name) or {}
        target = ctx.classes.get(spec.get("targetClass") or "")
        if target is None:
            continue
        sub_sets = [n.selection_set for n in nodes if n.selection_set]
        if spec.get("type") == "Relation":
            args = _relation_args(ctx, c, name, nodes[0])
            await _load_relation(ctx, c, name, target, rows, args, response_name, sub_sets, fragments)
        elif spec.get("type") == "Pointer":
            children = [tag(r[name], target.class_name) for r in rows
                        if isinstance(r.get(name), dict) and r[name].get("__type") == "Object"]
            await prefetch(ctx, target, children, sub_sets, fragments)


def _relation_args(ctx: Context, c: GraphQLClass, name: str, node: Any) -> dict:
    field_def = ctx.schema.get_type(c.name).fields[name]
    return get_argument_values(field_def, node, ctx.variables)


async def _load_relation(ctx: Context, c: GraphQLClass, name: str, target: GraphQLClass, rows: list[dict],
                         args: dict, response_name: str, sets: list[SelectionSetNode], fragments: dict) -> None:
    parents = [r for r in rows if isinstance(r.get("objectId"), str)]
    if len(parents) == 1:
        # One parent: the database pages it (Parse Server's $relatedTo query).
        related_to = {"$relatedTo": {"object": types.pointer(c.class_name, parents[0]["objectId"]), "key": name}}
        parents[0][_rel_key(response_name)] = await find_connection(ctx, target, args, sets, fragments, related_to)
        return
    pairs = await _relation_pairs(ctx, c, name, [p["objectId"] for p in parents])
    wanted = sorted({related for _, related in pairs})
    unpaged = {k: v for k, v in args.items() if k not in ("skip", "first", "after", "last", "before")}
    unpaged["first"] = len(wanted)
    whole = await find_connection(ctx, target, unpaged, sets, fragments, {"objectId": {"$in": wanted}})
    ordered = [e["node"] for e in whole["edges"]]
    by_parent: dict[str, set[str]] = {}
    for owner, related in pairs:
        by_parent.setdefault(owner, set()).add(related)
    max_limit = ctx.engine.settings.limits.max_limit
    for parent in parents:
        mine = [row for row in ordered if row["objectId"] in by_parent.get(parent["objectId"], set())]
        skip, limit, pre_count = skip_and_limit(args.get("skip"), args.get("first"), args.get("after"),
                                                args.get("last"), args.get("before"), max_limit)
        if pre_count and (skip or 0) + limit < len(mine):
            skip = len(mine) - limit
        start = skip or 0
        page = mine[start:start + (DEFAULT_PAGE if limit is None else limit)]
        parent[_rel_key(response_name)] = connection(page, skip, len(mine))


async def _relation_pairs(ctx: Context, c: GraphQLClass, name: str, owners: list[str]) -> list[tuple[str, str]]:
    storage = ctx.engine.storage
    if hasattr(storage, "relation_pairs"):
        return await storage.relation_pairs(name, c.class_name, owners)
    # A store without the batched lookup: one join-table read per parent.
    found = await asyncio.gather(*[storage.related_ids(name, c.class_name, [o]) for o in owners])
    return [(owner, related) for owner, ids in zip(owners, found, strict=True) for related in ids]


def relation_resolver(c: GraphQLClass, name: str):
    async def resolve(obj: dict, info: GraphQLResolveInfo, **args: Any) -> dict:
        ready = obj.get(_rel_key(info.path.key))
        if ready is not None:
            return ready
        ctx = ctx_of(info)
        target = ctx.classes[c.fields[name]["targetClass"]]
        related_to = {"$relatedTo": {"object": types.pointer(c.class_name, obj["objectId"]), "key": name}}
        return await find_connection(ctx, target, args, _selection_sets(info), info.fragments, related_to)
    return resolve


# ------------------------------------------------------------------ output fields

def global_id_resolver(c: GraphQLClass):
    def resolve(obj: dict, _info: Any) -> str:
        return to_global_id(class_name_of(obj) or c.class_name, obj["objectId"])
    return resolve


def resolve_acl(obj: dict, _info: Any) -> dict:
    return obj.get("ACL") or {"*": {"read": True, "write": True}}


def resolve_acl_users(acl: dict, _info: Any) -> list | None:
    users = [{"userId": to_global_id("_User", k), "read": bool(v.get("read")), "write": bool(v.get("write"))}
             for k, v in acl.items() if k != "*" and not k.startswith("role:")]
    return users or None


def resolve_acl_roles(acl: dict, _info: Any) -> list | None:
    roles = [{"roleName": k[5:], "read": bool(v.get("read")), "write": bool(v.get("write"))}
             for k, v in acl.items() if k.startswith("role:")]
    return roles or None


def resolve_acl_public(acl: dict, _info: Any) -> dict | None:
    rule = acl.get("*")
    return {"read": bool(rule.get("read")), "write": bool(rule.get("write"))} if rule else None


def polygon_resolver(name: str):
    def resolve(obj: dict, _info: Any) -> list | None:
        value = obj.get(name)
        if isinstance(value, dict) and value.get("coordinates"):
            return [{"latitude": p[0], "longitude": p[1]} for p in value["coordinates"]]
        return None
    return resolve


def array_resolver(name: str):
    def resolve(obj: dict, _info: Any) -> list | None:
        value = obj.get(name)
        if not isinstance(value, list):
            return None
        return [v if isinstance(v, dict) and v.get("__type") == "Object" and v.get("className") and v.get("objectId")
                else {"value": v} for v in value]
    return resolve
