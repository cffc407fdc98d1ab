"""The write pipeline: create, update and delete of one object.

REST, batch and cloud code all come through here, so hooks, permissions,
schema checks and LiveQuery events cannot be skipped. One object is one
atomic database write; operations (Increment, Add, ...) run in the database,
never as read-modify-write in Python."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.core import installations, users
from bapp.core import permissions as perms
from bapp.core.auth import Auth
from bapp.core.read import class_schema, clean_object, resolve_subqueries
from bapp.core.schema import ClassSchema, builtin_fields, geopoint_conflict, mismatch
from bapp.core.triggers import call_hook
from bapp.errors import ParseError
from bapp.model import ops, types
from bapp.model.query import WhereValidator
from bapp.storage.base import DuplicateValue, FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine

def check_body(engine: Engine, class_name: str, data: Any, *, creating: bool) -> dict:
    """Shape and key checks on a write body; returns a copy with ops validated."""
    if not isinstance(data, dict):
        raise ParseError(errors.INVALID_JSON, "This is not a valid object.")
    types.check_keys(data, max_depth=engine.settings.limits.value_depth)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("objectId", "id") and creating and not engine.settings.allow_custom_object_id \
                and users.js_truthy(value):
            raise ParseError(errors.INVALID_KEY_NAME, f"{key} is an invalid field name.")
        if key in ("createdAt", "updatedAt", "objectId"):
            continue
        root = key.split(".", 1)[0]
        if not types.is_valid_field_name(root) or ("." in key and not all(p.isidentifier() or p.isdigit() for p in key.split(".")[1:])):
            raise ParseError(errors.INVALID_KEY_NAME, f"Invalid field name: {key}.")
        if "." in key and creating:
            raise ParseError(errors.INVALID_KEY_NAME, f"Invalid field name: {key}.")
        if key == "ACL":
            out[key] = check_acl(value)
            continue
        out[key] = ops.validate_op(key, value) if ops.is_op(value) else value
    return out


def check_acl(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ParseError(errors.INVALID_ACL, "Invalid ACL.")
    for who, entry in value.items():
        if not isinstance(who, str) or not isinstance(entry, dict) or who.startswith("*unresolved"):
            raise ParseError(errors.INVALID_ACL, "Invalid ACL.")
        for perm, flag in entry.items():
            if perm not in ("read", "write") or not isinstance(flag, bool):
                raise ParseError(errors.INVALID_ACL, "Invalid ACL.")
    return value


# ------------------------------------------------------------------ schema

async def enforce_schema(engine: Engine, class_name: str, schema: ClassSchema | None, data: dict,
                         auth: Auth, group: list[str], *, creating: bool,
                         constraints: list[dict] | None = None) -> ClassSchema:
    """Schema on write, in Parse Server's order: the addField CLP for keys the
    class lacks, the one-GeoPoint rule, type checks, then the new fields are
    added. Returns the class schema the write uses; on update, a pointer-field
    addField rule is appended to ``constraints`` for the write's query."""
    fields = schema.fields if schema else builtin_fields(class_name)
    if schema is not None and not auth.master and _adds_fields(fields, data):
        extra = add_field_permission(schema, auth, group, creating=creating)
        if extra is not None and constraints is not None:
            constraints.append(extra)
    if sum(1 for v in data.values() if isinstance(v, dict) and v.get("__type") == "GeoPoint") > 1:
        raise ParseError(errors.INCORRECT_TYPE, "there can only be one geopoint field in a class")
    new_fields: dict[str, dict] = {}
    for key, value in data.items():
        root = key.split(".", 1)[0]
        if key == "ACL" or key.startswith("_") or (root == "authData" and class_name == "_User"):
            continue
        got = types.type_of(value)
        if got is None:
            continue
        if "." in key:
            # Parse Server: "a.0" implies an Array, any other "a.b" an Object.
            sub = key.split(".")[1]
            listed = all(c.isdigit() for c in sub) and root not in ("sentPerUTCOffset", "failedPerUTCOffset")
            key, got = root, {"type": "Array" if listed else "Object"}
        expected = fields.get(key) or new_fields.get(key)
        if expected is None:
            if got["type"] == "GeoPoint" and geopoint_conflict(fields, key):
                raise ParseError(errors.INCORRECT_TYPE, "MongoDB only supports one GeoPoint field in a class.")
            new_fields[key] = got
        elif not types.same_type(expected, got):
            raise mismatch(class_name, key, expected, got)
    if schema is None:
        if not (auth.master or engine.settings.allow_client_class_creation):
            raise errors.denied(errors.OPERATION_FORBIDDEN, f"This user is not allowed to access non-existent class: {class_name}")
        types.check_class_name(class_name)
    if new_fields:
        return await engine.schemas.add_fields(class_name, new_fields)
    if schema is None or class_name not in engine.schemas.classes:
        # First write to a class (built-in ones such as _Session included):
        # it gets its _SCHEMA entry, as Parse Server records it.
        return await engine.schemas.ensure_class(class_name)
    return schema


def _adds_fields(fields: dict[str, dict], data: dict) -> bool:
    """Whether the write names a field the class lacks (a null counts, an
    unset does not): that needs the addField permission."""
    for key, value in data.items():
        if key.startswith("_") or _is_unset(value):
            continue
        if key.split(".", 1)[0] not in fields:
            return True
    return False


def add_field_permission(schema: ClassSchema, auth: Auth, group: list[str], *, creating: bool) -> dict | None:
    """The addField CLP as Parse Server applies it: writeUserFields allow it,
    pointerFields only on update, where they (and writeUserFields) become a
    constraint on the updated object, returned here."""
    clp = schema.permissions
    allowed = clp.get("addField") or {}
    if any(allowed.get(who) is True for who in group):
        return None
    write_fields = list(clp.get("writeUserFields") or [])
    pointer_fields = list(allowed.get("pointerFields") or [])
    if allowed.get("requiresAuthentication") is True:
        if not auth.user:
            raise errors.denied(errors.OBJECT_NOT_FOUND, "Permission denied, user needs to be authenticated.")
    elif not write_fields and (creating or not pointer_fields):
        raise errors.denied(errors.OPERATION_FORBIDDEN,
                            f"Permission denied for action addField on class {schema.class_name}.")
    names = list(dict.fromkeys(pointer_fields + write_fields))
    if creating or not names:
        return None
    if not auth.user:
        return dict(perms.NOTHING)
    ptr = auth.user_pointer
    ors = [{n: {"$all": [ptr]}} if schema.fields.get(n, {}).get("type") == "Array" else {n: ptr} for n in names]
    return ors[0] if len(ors) == 1 else {"$or": ors}


def _is_unset(value: Any) -> bool:
    return ops.is_op(value) and value["__op"] == "Delete"


def apply_defaults_and_required(schema: ClassSchema, data: dict, *, creating: bool,
                                changed: set[str]) -> None:
    """Parse Server's setRequiredFieldsIfNeeded: on create a missing or unset
    field takes its defaultValue (an explicit null or "" does not), then a
    required field still null, "" or unset is 142; on update only the keys
    sent are checked and no default is applied."""
    if not creating:
        for name, value in data.items():
            spec = schema.fields.get(name)
            if spec and spec.get("required") is True and (value is None or value == "" or _is_unset(value)):
                raise ParseError(errors.VALIDATION_ERROR, f"{name} is required")
        return
    for name, spec in schema.fields.items():
        value = data.get(name)
        if not (value is None or value == "" or _is_unset(value)):
            continue
        if spec.get("defaultValue") is not None and (name not in data or _is_unset(value)):
            data[name] = copy.deepcopy(spec["defaultValue"])
            changed.add(name)
        elif spec.get("required") is True:
            raise ParseError(errors.VALIDATION_ERROR, f"{name} is required")


def check_create_class_name(engine: Engine, class_name: str, auth: Auth) -> None:
    """A create in a class whose name is invalid: 119 for a client that may
    not create classes; otherwise Parse Server's answer when the class it
    tries to add fails its checks (107, a quirk copied as it is)."""
    if types.is_valid_class_name(class_name):
        return
    if not (auth.master or engine.settings.allow_client_class_creation):
        raise errors.denied(errors.OPERATION_FORBIDDEN, f"This user is not allowed to access non-existent class: {class_name}")
    raise ParseError(errors.INVALID_JSON, "schema class name does not revalidate")


def apply_clp_acl(schema: ClassSchema, data: dict, auth: Auth) -> bool:
    """Parse Server 9's CLP ``ACL``: a new object without an ACL gets the
    class's default ACL (``currentUser`` standing for the creating user);
    the public default ``{"*": {read, write}}`` stores none, as before."""
    default = schema.permissions.get("ACL")
    if not default or data.get("ACL") is not None or default == PUBLIC_ACL:
        return False
    acl: dict[str, dict] = {}
    for who, rights in default.items():
        if who == "currentUser":
            if not auth.user_id:
                continue
            who = auth.user_id
        granted = {k: True for k in ("read", "write") if isinstance(rights, dict) and rights.get(k) is True}
        if granted:
            acl[who] = granted
    data["ACL"] = acl
    return True


PUBLIC_ACL = {"*": {"read": True, "write": True}}


# ------------------------------------------------------------------ hooks

async def run_before_save(engine: Engine, class_name: str, data: dict, original: dict | None,
                          auth: Auth, conditions: list[dict] | None = None) -> tuple[dict, set[str]]:
    """Runs beforeSave; returns the (possibly changed) body and the keys the
    hook changed (echoed in the response, as Parse Server does). A
    ``req.condition`` the hook set on an update is appended to ``conditions``."""
    hook = engine.triggers.trigger("beforeSave", class_name)
    if not hook:
        return data, set()
    view = ops.apply_all(original or {}, data)
    view.setdefault("className", class_name)
    before = copy.deepcopy(view)
    req = engine.hook_request("beforeSave", auth, object=view,
                              original=copy.deepcopy(original) if original else None)
    await call_hook(hook, req, engine.hook_runner)
    if conditions is not None and req.condition is not None:
        conditions.append(req.condition)
    after = req.object if isinstance(req.object, dict) else view
    changed: set[str] = set()
    out = dict(data)
    for key in set(before) | set(after):
        if key in ("className", "objectId", "createdAt", "updatedAt"):
            continue
        if key not in after:
            if key in before:
                out[key] = {"__op": "Delete"}
                changed.add(key)
        elif key not in before or after[key] != before[key]:
            out[key] = after[key]
            changed.add(key)
    return check_body(engine, class_name, out, creating=original is None), changed


async def run_after(engine: Engine, trigger: str, class_name: str, obj: dict, original: dict | None,
                    auth: Auth) -> None:
    hook = engine.triggers.trigger(trigger, class_name)
    if not hook:
        return
    req = engine.hook_request(trigger, auth, object=copy.deepcopy(obj),
                              original=copy.deepcopy(original) if original else None)
    try:
        await call_hook(hook, req, engine.hook_runner)
    except ParseError as exc:
        if trigger != "afterSave":
            # Parse Server answers with an afterDelete failure although the
            # object is already gone (rest.js del); afterSave failures are
            # only logged and the save stands.
            raise
        engine.log.warning("%s for %s failed: %s", trigger, class_name, exc.message)


# ------------------------------------------------------------------ create

async def create(engine: Engine, class_name: str, data: Any, auth: Auth) -> dict:
    """Creates one object; returns the response body (plus ``objectId``)."""
    perms.check_class_access(class_name, auth, "create")
    check_create_class_name(engine, class_name, auth)
    if class_name == "_User":
        users.check_signup_credentials(data)
    body = check_body(engine, class_name, data, creating=True)
    if class_name == "_Installation":
        existing = await installations.prepare(engine, body, auth, None)
        if existing:
            # Parse Server turns the save of a known installation into an
            # update (answered 200, without objectId).
            return await update(engine, class_name, existing, body, auth)
    schema = await class_schema(engine, class_name, auth)
    group = await engine.auth.acl_group(auth)
    if schema is not None:
        perms.clp_constraint(schema, "create", auth, group)
    body, changed = await run_before_save(engine, class_name, body, None, auth)
    generated = False
    if class_name == "_User":
        body, generated = await users.prepare_signup(engine, body, auth, changed)
    elif class_name == "_Role":
        users.check_role(body, creating=True)
    elif class_name == "_Session" and not auth.master:
        # A client asks for a new session of its own; the server fills it in.
        return await users.create_client_session(engine, body, auth)
    schema = await enforce_schema(engine, class_name, schema, body, auth, group, creating=True)
    apply_defaults_and_required(schema, body, creating=True, changed=changed)
    if apply_clp_acl(schema, body, auth):
        changed.add("ACL")

    object_id = body.pop("objectId", None) if engine.settings.allow_custom_object_id else None
    if engine.settings.allow_custom_object_id and not object_id:
        raise ParseError(errors.MISSING_OBJECT_ID, "objectId must not be empty, null or undefined")
    object_id = object_id or types.new_object_id(engine.settings.object_id_size)
    moment = types.now()
    values = ops.apply_all({}, body)
    if class_name == "_User":
        values = users.finish_signup_values(engine, values, object_id)
    stored = {**values, "objectId": object_id, "createdAt": moment, "updatedAt": moment}
    try:
        async with users.identity_guard(engine, class_name, stored, None):
            await engine.storage.create(class_name, schema.fields, stored)
    except DuplicateValue as exc:
        raise users.duplicate_error(class_name, exc) from None
    await _apply_relations(engine, class_name, object_id, body)

    current = engine.decode_for_event(class_name, schema, stored)
    response: dict[str, Any] = {"objectId": object_id, "createdAt": types.iso(moment)}
    for key, value in body.items():
        if ops.is_op(value) and value["__op"] in ("Increment", "Add", "AddUnique", "Remove"):
            response[key] = current.get(key)
    for key in changed:
        if key in current:
            response[key] = current[key]
        elif key in stored and stored[key] is None:  # a null a SQL store reads back as absent
            response[key] = None
    if class_name == "_User":
        session_token = await users.signup_session(engine, object_id, body, auth)
        if session_token:
            response["sessionToken"] = session_token
        if "username" in changed or generated:
            response["username"] = current.get("username")
    await engine.after_write(class_name, None, current)
    await run_after(engine, "afterSave", class_name, current, None, auth)
    if class_name == "_User":
        await users.after_signup(engine, object_id, stored)
    return response


async def _apply_relations(engine: Engine, class_name: str, object_id: str, body: dict) -> None:
    for key, value in body.items():
        if not ops.is_op(value):
            continue
        for op in ops.relation_ops(value):
            for ptr in op["objects"]:
                if op["__op"] == "AddRelation":
                    await engine.storage.add_relation(key, class_name, object_id, ptr["objectId"])
                else:
                    await engine.storage.remove_relation(key, class_name, object_id, ptr["objectId"])


# ------------------------------------------------------------------ update

async def load_original(engine: Engine, class_name: str, schema: ClassSchema, object_id: Any) -> dict | None:
    if not isinstance(object_id, str) or not object_id:
        return None
    rows = await engine.storage.find(class_name, schema.fields, {"objectId": object_id}, FindOptions(limit=1))
    return rows[0] if rows else None


def _not_found(class_name: str, auth: Auth, deleting: bool = False, object_id: Any = None) -> ParseError:
    if class_name == "_User" and not auth.master:
        # Parse Server reports a foreign or missing user as an auth problem,
        # the same whether the user exists or not.
        if not auth.user:
            if deleting:
                return ParseError(errors.SESSION_MISSING, "Insufficient auth to delete user")
            return errors.denied(errors.SESSION_MISSING, f"Cannot modify user {object_id}.")
        return errors.denied(errors.SESSION_MISSING, "Insufficient auth.")
    return ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")


async def update(engine: Engine, class_name: str, object_id: Any, data: Any, auth: Auth,
                 condition: dict | None = None) -> dict:
    """Updates one object. ``condition`` (server-side callers only) is a
    where the object must still match when the write happens: it is ANDed
    into the filter of the one atomic database update, so a guard such as
    ``{"stock": {"$gte": 3}}`` next to an Increment of -3 can never oversell.
    A miss answers 101, as an update the caller may not make does."""
    perms.check_class_access(class_name, auth, "update")
    check_update_target(class_name, object_id, data, auth)
    if class_name == "_User" and isinstance(data, dict) and isinstance(data.get("authData"), dict):
        # Parse Server validates authData before it looks at the rest of the body.
        users.check_auth_data(engine, data["authData"])
    body = check_body(engine, class_name, data, creating=False)
    schema = await class_schema(engine, class_name, auth)
    if schema is None:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")
    group = await engine.auth.acl_group(auth)
    extra = perms.clp_constraint(schema, "update", auth, group)
    guard = await update_condition(engine, class_name, schema, condition, auth)
    original = await load_original(engine, class_name, schema, object_id)
    if class_name == "_Session" and not auth.master:
        users.check_session_update(body, original or {}, auth)
    if original is None or (not auth.master and not perms.can_write(original, group)):
        raise _not_found(class_name, auth, object_id=object_id)
    if class_name == "_Installation":
        await installations.prepare(engine, body, auth, object_id)
    hook_conditions: list[dict] = []
    body, changed = await run_before_save(engine, class_name, body, clean_copy(original), auth, hook_conditions)
    for hook_condition in hook_conditions:
        # Cloud code is trusted: its condition is validated with master rights.
        guard = perms.and_where(guard, await update_condition(engine, class_name, schema, hook_condition,
                                                              Auth.as_master()))
    if class_name == "_User":
        body = await users.prepare_user_update(engine, body, original, auth, changed)
    elif class_name == "_Role":
        users.check_role(body, creating=False)
    added_rules: list[dict] = []
    schema = await enforce_schema(engine, class_name, schema, body, auth, group, creating=False,
                                  constraints=added_rules)
    apply_defaults_and_required(schema, body, creating=False, changed=changed)

    moment = types.now()
    db_update = {k: v for k, v in body.items()
                 if not (ops.is_op(v) and v["__op"] in ("AddRelation", "RemoveRelation", "Batch"))}
    db_update["updatedAt"] = moment
    where: dict[str, Any] = {"objectId": object_id}
    if not auth.master:
        where = perms.and_where(where, perms.write_acl_constraint(group))
    where = perms.and_where(where, extra)
    where = perms.and_where(where, guard)
    for rule in added_rules:
        where = perms.and_where(where, rule)
    try:
        async with users.identity_guard(engine, class_name, db_update, object_id):
            current_raw = await engine.storage.update(class_name, schema.fields, where, db_update)
    except DuplicateValue as exc:
        raise users.duplicate_error(class_name, exc) from None
    if current_raw is None:
        if guard is not None:
            raise ParseError(errors.OBJECT_NOT_FOUND, CONDITION_FAILED)
        raise _not_found(class_name, auth, object_id=object_id)
    await _apply_relations(engine, class_name, object_id, body)

    response: dict[str, Any] = {"updatedAt": types.iso(moment)}
    for key, value in body.items():
        if ops.is_op(value) and value["__op"] in ("Increment", "Add", "AddUnique", "Remove"):
            _echo(response, key, current_raw)
    for key in changed:
        _echo(response, key, current_raw)
    if class_name == "_User":
        token = await users.after_user_update(engine, object_id, body, auth)
        if token:
            response["sessionToken"] = token
    current = clean_copy(current_raw)
    await engine.after_write(class_name, clean_copy(original), current)
    await run_after(engine, "afterSave", class_name, current, clean_copy(original), auth)
    return response


CONDITION_FAILED = "Object not found or it does not match the update condition."


def check_update_target(class_name: str, object_id: Any, data: Any, auth: Auth) -> None:
    """An ``objectId`` in an update body may only repeat the target's id.
    A user retargeting their update gets Parse Server 9's 101; anywhere
    else it is refused like one on create (105). Deliberate: Parse Server
    on MongoDB fails such an update in the database instead."""
    if not isinstance(data, dict) or "objectId" not in data or data["objectId"] == object_id:
        return
    if class_name == "_User" and not auth.master:
        if not auth.user:
            return  # refused below as any anonymous user update (206)
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")
    raise ParseError(errors.INVALID_KEY_NAME, "objectId is an invalid field name.")


async def update_condition(engine: Engine, class_name: str, schema: ClassSchema, condition: Any,
                           auth: Auth) -> dict | None:
    """The validated ``condition`` of a conditional update (None without
    one). Subqueries in it are resolved first with the caller's rights; only
    plain field constraints are decided atomically with the write."""
    if condition is None:
        return None
    if not isinstance(condition, dict) or not condition:
        raise ParseError(errors.INVALID_QUERY, "An update condition must be a non-empty where object.")
    validated = WhereValidator(schema.fields, auth.master, engine.settings.limits).validate(condition)
    return await resolve_subqueries(engine, class_name, schema, validated, auth, 0)


def _echo(response: dict, key: str, current: dict) -> None:
    parts = key.split(".")
    value: Any = current
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return
        value = value[part]
    holder = response
    for part in parts[:-1]:
        holder = holder.setdefault(part, {})
    holder[parts[-1]] = value


def clean_copy(obj: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


# ------------------------------------------------------------------ delete

async def delete(engine: Engine, class_name: str, object_id: Any, auth: Auth) -> dict:
    perms.check_class_access(class_name, auth, "delete")
    schema = await class_schema(engine, class_name, auth)
    if schema is None:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found.")
    group = await engine.auth.acl_group(auth)
    extra = perms.clp_constraint(schema, "delete", auth, group)
    original = await load_original(engine, class_name, schema, object_id)
    if class_name == "_Session":
        users.check_session_delete(original or {}, auth)
    if original is None or (not auth.master and not perms.can_write(original, group)):
        raise _not_found(class_name, auth, deleting=True)
    visible = clean_copy(original)
    hook = engine.triggers.trigger("beforeDelete", class_name)
    if hook:
        req = engine.hook_request("beforeDelete", auth, object=copy.deepcopy(visible))
        await call_hook(hook, req, engine.hook_runner)
    where: dict[str, Any] = {"objectId": object_id}
    if not auth.master:
        where = perms.and_where(where, perms.write_acl_constraint(group))
    where = perms.and_where(where, extra)
    if not await engine.storage.delete(class_name, schema.fields, where):
        raise _not_found(class_name, auth, deleting=True)
    if class_name == "_User":
        await users.after_user_delete(engine, object_id)
    elif class_name == "_Session":
        engine.auth.forget_session(original.get("sessionToken"))
    await engine.after_delete(class_name, visible)
    await run_after(engine, "afterDelete", class_name, visible, None, auth)
    return {}


def response_object(engine: Engine, class_name: str, obj: dict, auth: Auth) -> dict:
    return clean_object(engine, class_name, dict(obj), auth)
