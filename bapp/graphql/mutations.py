"""``create<Class>``, ``update<Class>``, ``delete<Class>``: the engine's
write pipeline (hooks, ACLs, CLPs, LiveQuery events), then a read of what
the payload selects with the caller's rights."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from bapp.graphql import inputs, objects, selection
from bapp.graphql.context import Context, ctx_of
from bapp.graphql.names import object_id_of
from bapp.graphql.sdl import GraphQLClass

_NATIVE = {"id", "objectId", "createdAt", "updatedAt", "__typename"}


def _object_sets(info: GraphQLResolveInfo, c: GraphQLClass) -> list:
    return selection.sub_selection(list(info.field_nodes), [c.query_name], info.fragments)


def _needs_read(sets: list, info: GraphQLResolveInfo, native: set[str]) -> bool:
    names = set(selection.merge(sets, info.fragments).by_name())
    return bool(names - native)


async def _read_back(ctx: Context, c: GraphQLClass, object_id: str, sets: list, info: GraphQLResolveInfo) -> dict:
    return await objects.get_object(ctx, c, object_id, sets, info.fragments)


def create_resolver(c: GraphQLClass):
    async def resolve(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
        ctx = ctx_of(info)
        body = await inputs.to_parse(ctx, c, input.get("fields"))
        created = await ctx.engine.create(c.class_name, body, ctx.auth)
        sets = _object_sets(info, c)
        if _needs_read(sets, info, _NATIVE):
            obj = await _read_back(ctx, c, created["objectId"], sets, info)
        else:
            obj = objects.tag({**created, "updatedAt": created.get("createdAt")}, c.class_name)
        return {c.query_name: obj, "clientMutationId": input.get("clientMutationId")}
    return resolve


def update_resolver(c: GraphQLClass):
    async def resolve(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
        ctx = ctx_of(info)
        object_id = object_id_of(input["id"], c.class_name)
        body = await inputs.to_parse(ctx, c, input.get("fields"))
        updated = await ctx.engine.update(c.class_name, object_id, body, ctx.auth)
        sets = _object_sets(info, c)
        if _needs_read(sets, info, _NATIVE - {"createdAt"}):
            obj = await _read_back(ctx, c, object_id, sets, info)
        else:
            obj = objects.tag({"objectId": object_id, **updated}, c.class_name)
        return {c.query_name: obj, "clientMutationId": input.get("clientMutationId")}
    return resolve


def delete_resolver(c: GraphQLClass):
    async def resolve(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
        ctx = ctx_of(info)
        object_id = object_id_of(input["id"], c.class_name)
        sets = _object_sets(info, c)
        obj = {"objectId": object_id}
        if _needs_read(sets, info, {"id", "objectId", "__typename"}):
            obj = await _read_back(ctx, c, object_id, sets, info)
        await ctx.engine.delete(c.class_name, object_id, ctx.auth)
        return {c.query_name: objects.tag(obj, c.class_name), "clientMutationId": input.get("clientMutationId")}
    return resolve
