"""The read pipeline: find, get and count.

Order of work (as Parse Server's RestQuery): class access and CLP, the
beforeFind hook, where validation, sub-queries, the ACL constraint, the
database query, includes (batched per class and level), key selection,
protected fields, cleaning of internal keys, the afterFind hook."""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.core import permissions as perms
from bapp.core.auth import Auth
from bapp.core.schema import ClassSchema, builtin_fields
from bapp.core.triggers import call_hook
from bapp.errors import ParseError
from bapp.model import types
from bapp.model.query import QueryOptions, WhereValidator, walk_keys
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

ALWAYS_KEYS = ("objectId", "createdAt", "updatedAt", "ACL")
# Keys a _User result never shows to anyone but master.
_USER_SECRET = ("password", "_hashed_password", "sessionToken")


async def class_schema(engine: Engine, class_name: str, auth: Auth) -> ClassSchema | None:
    """The class's schema, or None when it does not exist and the caller may
    see that (master, or client class creation allowed); 119 otherwise."""
    if not types.is_valid_class_name(class_name):
        # Parse Server reads a class with an invalid name as one that does
        # not exist (no objects for the master key, 119 for a client).
        if auth.master or engine.settings.allow_client_class_creation:
            return None
        raise errors.denied(errors.OPERATION_FORBIDDEN,
                            f"This user is not allowed to access non-existent class: {class_name}")
    schema = await engine.schemas.get(class_name)
    if schema is not None:
        return schema
    if class_name in types.CLASS_DEFAULT_FIELDS:
        return ClassSchema(class_name, builtin_fields(class_name))
    if auth.master or engine.settings.allow_client_class_creation:
        return None
    raise errors.denied(errors.OPERATION_FORBIDDEN, f"This user is not allowed to access non-existent class: {class_name}")


async def find(engine: Engine, class_name: str, opts: QueryOptions, auth: Auth, *, op: str = "find",
               depth: int = 0) -> dict:
    """``{"results": [...], "count"?: N}`` for a query."""
    if opts.redirect_key:
        target = await _redirect_class(engine, class_name, opts.redirect_key, auth)
        opts.redirect_key = None
        found = await find(engine, target, opts, auth, op=op, depth=depth)
        # The SDKs read the class of the results from here.
        return {**found, "className": target}
    perms.check_class_access(class_name, auth, op if op != "count" else "find")
    schema = await class_schema(engine, class_name, auth)
    if schema is None:
        out: dict[str, Any] = {"results": []}
        if opts.count:
            out["count"] = 0
        return out
    group = await engine.auth.acl_group(auth)
    clp_op = perms.read_operation(op, opts.where, opts.count, opts.limit)
    extra = perms.clp_constraint(schema, clp_op, auth, group)
    if opts.count and clp_op != "count":
        perms.clp_constraint(schema, "count", auth, group)  # results and a count: both permissions

    hook = engine.triggers.trigger("beforeFind", class_name)
    if hook:
        opts = await _before_find(engine, hook, class_name, opts, auth, op)
        if isinstance(opts, dict):
            return opts

    validator = WhereValidator(schema.fields, auth.master, engine.settings.limits)
    where = validator.validate(opts.where)
    check_protected_query(engine, schema, auth, group, where, opts)
    where = await resolve_subqueries(engine, class_name, schema, where, auth, depth)
    where = perms.and_where(where, extra)
    if not auth.master:
        where = perms.and_where(where, perms.read_acl_constraint(group))
        if class_name == "_Session":
            if not auth.user:
                raise errors.denied(errors.INVALID_SESSION_TOKEN, "Invalid session token")
            where = perms.and_where(where, {"user": auth.user_pointer})

    if opts.explain:
        return {"results": await _explain(engine, class_name, schema, where, opts, auth)}
    result: dict[str, Any] = {}
    if opts.count:
        result["count"] = await engine.storage.count(class_name, schema.fields, where)
    limit = engine.settings.default_limit if opts.limit is None else opts.limit
    if engine.settings.limits.max_limit:
        limit = min(limit, engine.settings.limits.max_limit)
    rows: list[dict] = []
    if limit != 0 and op != "count":
        order = [k for k in opts.order if _sortable(k, schema)]
        keys = _projection_keys(opts, class_name)
        rows = await engine.storage.find(
            class_name, schema.fields, where,
            FindOptions(order=order, limit=limit if limit > 0 else None, skip=opts.skip, keys=keys,
                        hint=opts.hint, comment=opts.comment))
        rows = await finish_rows(engine, class_name, schema, rows, opts, auth, group)
        after = engine.triggers.trigger("afterFind", class_name)
        if after:
            rows = await _after_find(engine, after, class_name, rows, auth, _hook_query(opts, op))
    result["results"] = rows
    return {"results": result["results"], **({"count": result["count"]} if "count" in result else {})}


async def get(engine: Engine, class_name: str, object_id: Any, opts: QueryOptions, auth: Auth) -> dict:
    if not isinstance(object_id, str) or not object_id:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")
    opts.where = {"objectId": object_id}
    opts.limit = 1
    found = await find(engine, class_name, opts, auth, op="get")
    if not found["results"]:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")
    return found["results"][0]


def self_session_token(class_name: str, row: dict, auth: Auth) -> dict:
    """Parse Server's ClassesRouter quirk, copied: a get of the caller's own
    ``_User`` carries the caller's session token (whatever ``keys`` says);
    finds never do."""
    if class_name == "_User" and auth.session_token and auth.user_id and row.get("objectId") == auth.user_id:
        row["sessionToken"] = auth.session_token
    return row


async def _redirect_class(engine: Engine, class_name: str, key: str, auth: Auth) -> str:
    """``redirectClassNameForKey``: query the target class of relation
    ``key`` instead (the SDKs use it for a relation of unknown class)."""
    schema = await class_schema(engine, class_name, auth)
    spec = schema.fields.get(key) if schema else None
    if spec and spec.get("type") == "Relation" and spec.get("targetClass"):
        return spec["targetClass"]
    return class_name


async def _explain(engine: Engine, class_name: str, schema: ClassSchema, where: dict, opts: QueryOptions,
                   auth: Auth) -> Any:
    # Parse Server 9 (allowPublicExplain false): a query plan discloses
    # index names and server details, so only the master key may ask.
    if not auth.master:
        raise ParseError(errors.INVALID_QUERY, "Using the explain query parameter requires the master key")
    limit = engine.settings.default_limit if opts.limit is None else opts.limit
    return await engine.storage.explain(
        class_name, schema.fields, where,
        FindOptions(order=[k for k in opts.order if _sortable(k, schema)], limit=limit if limit > 0 else None,
                    skip=opts.skip, hint=opts.hint))


def _sortable(key: str, schema: ClassSchema) -> bool:
    name = key[1:] if key.startswith("-") else key
    if name in ("$score",):
        return True
    if not types.FIELD_NAME_RE.match(name.split(".", 1)[0]):
        raise ParseError(errors.INVALID_KEY_NAME, f"Invalid field name: {name}.")
    # Sort keys on fields the class does not have are dropped, as Parse does.
    return name.split(".", 1)[0] in schema.fields or name in ("_created_at", "_updated_at")


def _projection_keys(opts: QueryOptions, class_name: str) -> list[str] | None:
    """The stored fields a ``keys`` query reads. Internal columns
    (``_hashed_password``, ``_rperm``, ``_auth_data_*``, ...) are never
    selectable: names that are no field name are dropped, as they would be
    from the answer."""
    if opts.keys is None:
        return None
    roots = {k.split(".", 1)[0] for k in opts.keys}
    roots |= {i.split(".", 1)[0] for i in opts.include}
    roots = {r for r in roots if r == "$score" or types.is_valid_field_name(r)}
    if class_name == "_User" and "authData" in roots:
        return None  # authData is stored as one _auth_data_<provider> column per provider
    return sorted(roots)


def check_protected_query(engine: Engine, schema: ClassSchema, auth: Auth, group: list[str],
                           where: dict, opts: QueryOptions) -> None:
    if auth.master:
        return
    merged, applicable = perms.protected_sets(schema, engine.settings.protected_fields, auth, group)
    hidden = perms.hidden_fields(merged, applicable, None, None)
    if schema.class_name == "_User":
        hidden |= {"password", "authData", "sessionToken"}
    if not hidden:
        return
    for key in walk_keys(where):
        if key.split(".", 1)[0] in hidden:
            raise errors.denied(errors.OPERATION_FORBIDDEN, f"This user is not allowed to query {key} on class {schema.class_name}")
    for key in opts.order:
        key = key[1:] if key.startswith("-") else key
        if key.split(".", 1)[0] in hidden:
            raise errors.denied(errors.OPERATION_FORBIDDEN,
                                f"This user is not allowed to sort by {key} on class {schema.class_name}")


# ------------------------------------------------------------------ sub-queries

async def resolve_subqueries(engine: Engine, class_name: str, schema: ClassSchema, where: dict,
                             auth: Auth, depth: int) -> dict:
    """Replaces $inQuery, $select, $relatedTo and relation-field equality by
    plain constraints, running the sub-queries with the caller's rights."""
    out: dict[str, Any] = {}
    limit = engine.settings.limits.subquery_depth
    for key, value in where.items():
        if key in ("$or", "$and", "$nor"):
            out[key] = [await resolve_subqueries(engine, class_name, schema, sub, auth, depth) for sub in value]
        elif key == "$relatedTo":
            ids = await _related_to(engine, value, auth)
            out = perms.and_where(out, {"objectId": {"$in": ids}}) if "objectId" in out else {**out, "objectId": {"$in": ids}}
        elif isinstance(value, dict) and any(op in value for op in ("$inQuery", "$notInQuery", "$select", "$dontSelect")):
            if depth >= limit:
                raise ParseError(errors.INVALID_QUERY, f"Subqueries are nested too deeply (limit {limit}).")
            resolved = await _field_subqueries(engine, value, auth, depth)
            if schema.fields.get(key, {}).get("type") == "Relation":
                # A sub-query on a relation field selects the owners of the matches.
                out = await _relation_equality(engine, class_name, key, resolved, out)
            else:
                out[key] = resolved
        elif schema.fields.get(key, {}).get("type") == "Relation":
            out = await _relation_equality(engine, class_name, key, value, out)
        else:
            out[key] = value
    return out


async def _field_subqueries(engine: Engine, value: dict, auth: Auth, depth: int) -> dict:
    rest = {k: v for k, v in value.items() if k not in ("$inQuery", "$notInQuery", "$select", "$dontSelect")}
    for op in ("$inQuery", "$notInQuery"):
        if op in value:
            sub = value[op]
            rows = await _run_sub(engine, sub["className"], sub.get("where", {}), auth, depth, None)
            ptrs = [types.pointer(sub["className"], r["objectId"]) for r in rows]
            rest["$in" if op == "$inQuery" else "$nin"] = rest.get("$in" if op == "$inQuery" else "$nin", []) + ptrs
    for op in ("$select", "$dontSelect"):
        if op in value:
            sub = value[op]
            query = sub["query"]
            rows = await _run_sub(engine, query["className"], query.get("where", {}), auth, depth, None)
            values = [_dig(r, sub["key"]) for r in rows]
            values = [v for v in values if v is not _MISSING]
            rest["$in" if op == "$select" else "$nin"] = rest.get("$in" if op == "$select" else "$nin", []) + values
    return rest


_MISSING = object()


def _dig(obj: dict, path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


async def _run_sub(engine: Engine, class_name: str, where: dict, auth: Auth, depth: int,
                   keys: list[str] | None) -> list[dict]:
    opts = QueryOptions(where=where, limit=-1, keys=keys)
    found = await find(engine, class_name, opts, auth, depth=depth + 1)
    return found["results"]


async def _related_to(engine: Engine, value: dict, auth: Auth) -> list[str]:
    """The ids in relation ``key`` of the owner object. The relation is a
    field of the owner, so the owner's protected fields and the caller's
    right to read the owner apply (Parse Server 9's authorizeRelatedToQuery)."""
    owner = value["object"]
    if not owner.get("objectId"):
        return []  # an unsaved owner (the SDKs' clone()) has no related objects
    if not auth.master:
        owner_schema = await engine.schemas.get(owner["className"])
        if owner_schema is not None:
            group = await engine.auth.acl_group(auth)
            merged, applicable = perms.protected_sets(owner_schema, engine.settings.protected_fields, auth, group)
            if value["key"].split(".", 1)[0] in perms.hidden_fields(merged, applicable, None, None):
                raise errors.denied(errors.OPERATION_FORBIDDEN,
                                    f"This user is not allowed to query {value['key']} on class {owner['className']}")
    try:
        owner_rows = await _run_sub(engine, owner["className"], {"objectId": owner["objectId"]}, auth, 0,
                                    ["objectId"])
    except ParseError as exc:
        # An owner the caller may not read discloses nothing (and answers
        # like an empty relation, so it is no membership oracle).
        if exc.code in (errors.OPERATION_FORBIDDEN, errors.OBJECT_NOT_FOUND):
            return []
        raise
    if not owner_rows:
        return []
    return await engine.storage.related_ids(value["key"], owner["className"], [owner["objectId"]])


async def _relation_equality(engine: Engine, class_name: str, key: str, value: Any, out: dict) -> dict:
    if types.is_pointer(value):
        targets, negate = [value["objectId"]], False
    elif isinstance(value, dict) and ("$in" in value or "$nin" in value or "$ne" in value or "$eq" in value):
        op = next(k for k in ("$in", "$nin", "$ne", "$eq") if k in value)
        items = value[op] if isinstance(value[op], list) else [value[op]]
        targets = [v["objectId"] for v in items if types.is_pointer(v)]
        negate = op in ("$nin", "$ne")
    else:
        raise ParseError(errors.INVALID_JSON, f"bad constraint on relation field {key}")
    owners = await engine.storage.owning_ids(key, class_name, targets)
    constraint = {"objectId": {"$nin" if negate else "$in": owners}}
    return perms.and_where(out, constraint) if "objectId" in out else {**out, **constraint}


# ------------------------------------------------------------------ results

async def finish_rows(engine: Engine, class_name: str, schema: ClassSchema, rows: list[dict],
                      opts: QueryOptions, auth: Auth, group: list[str], include_depth: int = 0) -> list[dict]:
    includes = _include_paths(opts, schema)
    if includes:
        limits = engine.settings.limits
        if len(includes) > limits.include_count:
            raise ParseError(errors.INVALID_QUERY, f"Too many includes (limit {limits.include_count}).")
        if max(p.count(".") + 1 for p in includes) > limits.include_depth:
            raise ParseError(errors.INVALID_QUERY, f"Include is nested too deeply (limit {limits.include_depth}).")
        await _include(engine, rows, includes, auth, _sub_keys(opts))
    merged, applicable = perms.protected_sets(schema, engine.settings.protected_fields, auth, group)
    out = []
    for row in rows:
        clean_object(engine, class_name, row, auth, merged, applicable)
        out.append(_select_keys(row, opts))
    return out


def _include_paths(opts: QueryOptions, schema: ClassSchema) -> list[str]:
    paths = list(opts.include)
    if opts.keys:
        paths += [k.rsplit(".", 1)[0] for k in opts.keys if "." in k]
    if opts.include_all:
        paths += [n for n, s in schema.fields.items() if s.get("type") in ("Pointer", "Array")]
    full: list[str] = []
    for path in paths:
        parts = path.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix not in full:
                full.append(prefix)
    return sorted(full, key=lambda p: p.count("."))


def _sub_keys(opts: QueryOptions) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in opts.keys or []:
        if "." in key:
            path, leaf = key.rsplit(".", 1)
            out.setdefault(path, []).append(leaf)
    return out


async def _include(engine: Engine, rows: list[dict], paths: list[str], auth: Auth,
                   sub_keys: dict[str, list[str]]) -> None:
    """Replaces pointers along each path by the objects, one query per class
    and level, the classes of a level fetched concurrently."""
    levels: dict[int, list[str]] = {}
    for path in paths:
        levels.setdefault(path.count("."), []).append(path)
    for level in sorted(levels):
        wanted: dict[str, set[str]] = {}
        sites: list[tuple[str, list]] = []
        for path in levels[level]:
            for holder, key in _walk(rows, path.split(".")):
                value = holder.get(key) if isinstance(holder, dict) else None
                for ptr in (value if isinstance(value, list) else [value]):
                    if types.is_pointer(ptr):
                        wanted.setdefault(ptr["className"], set()).add(ptr["objectId"])
                sites.append((path, [holder, key]))
        if not wanted:
            continue
        classes = sorted(wanted)
        fetched = await asyncio.gather(*[_fetch_many(engine, c, sorted(wanted[c]), auth) for c in classes])
        by_key = {(c, o["objectId"]): o for c, objs in zip(classes, fetched, strict=True) for o in objs}
        for path, (holder, key) in sites:
            _replace(holder, key, by_key, sub_keys.get(path))


def _walk(rows: list, parts: list[str]):
    """(holder dict, key) pairs for a dotted include path."""
    holders: list = list(rows)
    for part in parts[:-1]:
        nxt = []
        for holder in holders:
            value = holder.get(part) if isinstance(holder, dict) else None
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, dict):
                    nxt.append(item)
        holders = nxt
    for holder in holders:
        if isinstance(holder, dict) and parts[-1] in holder:
            yield holder, parts[-1]


def _replace(holder: dict, key: str, by_key: dict, keys: list[str] | None) -> None:
    value = holder.get(key)

    def resolve(ptr: Any) -> Any:
        if not types.is_pointer(ptr) or ptr.get("__type") == "Object":
            return ptr
        found = by_key.get((ptr["className"], ptr["objectId"]))
        if found is None:
            return None
        obj = copy.copy(found)
        if keys:
            obj = {k: v for k, v in obj.items() if k in keys or k in ALWAYS_KEYS}
        obj["__type"] = "Object"
        obj["className"] = ptr["className"]
        return obj

    if isinstance(value, list):
        holder[key] = [r for r in (resolve(v) if types.is_pointer(v) else v for v in value) if r is not None]
    elif types.is_pointer(value):
        resolved = resolve(value)
        if resolved is None:
            del holder[key]
        else:
            holder[key] = resolved


async def _fetch_many(engine: Engine, class_name: str, ids: list[str], auth: Auth) -> list[dict]:
    try:
        found = await find(engine, class_name, QueryOptions(where={"objectId": {"$in": ids}}, limit=-1), auth)
    except ParseError as exc:
        if exc.code in (errors.OPERATION_FORBIDDEN, errors.OBJECT_NOT_FOUND):
            return []  # an unreadable target is left out, like a missing one
        raise
    rows = found["results"]
    if class_name == "_User":
        # An included user never carries a session token (not even the
        # caller's own), nor, for clients, its authData: as Parse Server.
        for row in rows:
            row.pop("sessionToken", None)
            if not auth.master:
                row.pop("authData", None)
    return rows


def clean_object(engine: Engine, class_name: str, row: dict, auth: Auth, merged: dict | None = None,
                 applicable: list[str] | None = None) -> dict:
    """Drops internal keys, secrets and (for non-master callers) protected fields."""
    for key in [k for k in row if k.startswith("_")]:
        del row[key]
    if class_name == "_User":
        # A user object never carries a session token; only a get of the
        # caller's own user adds the caller's (see self_session_token).
        row.pop("password", None)
        row.pop("sessionToken", None)
        is_self = auth.user_id is not None and row.get("objectId") == auth.user_id
        if not auth.master and not is_self:
            row.pop("authData", None)
        if "authData" in row and isinstance(row["authData"], dict):
            row["authData"] = {k: v for k, v in row["authData"].items() if v is not None} or None
            if row["authData"] is None:
                del row["authData"]
        if not auth.master and is_self:
            return row
    if auth.master or merged is None:
        return row
    hidden = perms.hidden_fields(merged, applicable or ["*"], row, auth.user_id)
    for key in hidden:
        row.pop(key, None)
    return row


def _select_keys(row: dict, opts: QueryOptions) -> dict:
    if opts.keys is not None:
        keep = {k.split(".", 1)[0] for k in opts.keys} | set(ALWAYS_KEYS)
        if "$score" in keep:
            keep.add("score")  # a $text query's relevance, as Parse returns it
        row = {k: v for k, v in row.items() if k in keep or (isinstance(v, dict) and v.get("__type") == "Relation")}
        _trim_sub_keys(row, opts.keys)
    for key in opts.exclude_keys:
        if key not in ALWAYS_KEYS and "." not in key:
            row.pop(key, None)
    return row


def _trim_sub_keys(row: dict, keys: list[str]) -> None:
    """``keys=dims.w`` keeps only ``w`` of the Object field ``dims`` (as a
    MongoDB projection does); a key naming the whole field keeps it whole.
    Included objects are trimmed by the include itself."""
    paths: dict[str, list[list[str]] | None] = {}
    for key in keys:
        root, _, rest = key.partition(".")
        if not rest:
            paths[root] = None
        elif paths.get(root, []) is not None:
            paths.setdefault(root, []).append(rest.split("."))
    for root, subs in paths.items():
        value = row.get(root)
        if subs and isinstance(value, dict) and "__type" not in value:
            row[root] = _project(value, subs)
        elif subs and isinstance(value, list):
            # As MongoDB projects into an array: its objects are trimmed, its
            # other values dropped (Parse objects and pointers are kept).
            row[root] = [_project(v, subs) if "__type" not in v else v for v in value if isinstance(v, dict)]


def _project(value: dict, subs: list[list[str]]) -> dict:
    out: dict[str, Any] = {}
    for parts in subs:
        _copy_path(value, out, parts)
    return out


def _copy_path(src: dict, dst: dict, parts: list[str]) -> None:
    head = parts[0]
    if head not in src or dst.get(head) is src[head]:
        return  # missing, or already kept whole
    if len(parts) == 1 or not isinstance(src[head], dict):
        dst[head] = src[head]
        return
    if not isinstance(dst.get(head), dict):
        dst[head] = {}
    _copy_path(src[head], dst[head], parts[1:])


# ------------------------------------------------------------------ hooks

def _hook_query(opts: QueryOptions, op: str) -> dict:
    """``req.query`` of beforeFind (which may change it) and afterFind (as
    Parse Server's afterFind request carries the query it answered)."""
    return {"where": copy.deepcopy(opts.where), "limit": opts.limit, "skip": opts.skip,
            "keys": opts.keys, "include": list(opts.include), "order": list(opts.order),
            "count": op == "count" or opts.count, "get": op == "get"}


async def _before_find(engine: Engine, hook: Any, class_name: str, opts: QueryOptions, auth: Auth, op: str):
    req = engine.hook_request("beforeFind", auth, query=_hook_query(opts, op))
    result = await call_hook(hook, req, engine.hook_runner)
    if isinstance(result, list):
        # Returning objects answers the query without the database.
        return {"results": result}
    q = req.query
    opts.where = q.get("where") if isinstance(q.get("where"), dict) else opts.where
    opts.limit = q.get("limit", opts.limit)
    opts.skip = q.get("skip", opts.skip) or 0
    opts.keys = q.get("keys", opts.keys)
    opts.include = list(q.get("include") or [])
    opts.order = list(q.get("order") or [])
    return opts


async def _after_find(engine: Engine, hook: Any, class_name: str, rows: list[dict], auth: Auth,
                      query: dict | None = None) -> list[dict]:
    req = engine.hook_request("afterFind", auth, objects=rows, query=query)
    result = await call_hook(hook, req, engine.hook_runner)
    if isinstance(result, list):
        return result
    return req.objects if req.objects is not None else rows
