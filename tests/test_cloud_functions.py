"""Cloud functions: ``POST /functions/:name``, params, results, errors,
validators and server-side data access."""

from __future__ import annotations

import textwrap

import orjson
import pytest
from conftest import APP_ID, make_settings

from bapp import cloud
from bapp.cloud import runtime as cloud_runtime
from bapp.core.auth import Auth
from bapp.core.triggers import Registry, call_hook
from bapp.errors import ParseError

CLOUD = '''
import asyncio
from datetime import datetime, timezone

from bapp import cloud


@cloud.define("hello")
async def hello(req):
    return "Hello " + req.params.get("name", "world")


@cloud.define("echo")
def echo(req):
    return {"params": req.params, "master": req.master, "function": req.function_name,
            "user": req.user["username"] if req.user else None,
            "token": bool(req.user and req.user.get("sessionToken")),
            "installation": req.installation_id, "context": req.context}


@cloud.define("fail")
def fail(req):
    kind = req.params.get("kind")
    if kind == "plain":
        raise KeyError("missing")
    if kind == "empty":
        raise ValueError()
    if kind == "internal":
        raise cloud.Error(1, "internal")
    raise cloud.Error(req.params.get("code", 999), "chosen")


@cloud.define("exit")
def exit_(req):
    raise SystemExit("bye")


@cloud.define("nothing")
def nothing(req):
    pass


@cloud.define("shapes")
async def shapes(req):
    obj = await cloud.create("Thing", {"n": 1}, master=True)
    found = await cloud.find("Thing", {}, master=True)
    return {"saved": obj, "found": found, "when": datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
            "ptr": cloud.pointer(obj), "nums": (1, 2), "bytes": b"hi"}


@cloud.define("strange")
def strange(req):
    return object()


@cloud.define("caller")
async def caller(req):
    inner = await cloud.run("echo", {"x": 1}, user=req.user)
    return {"inner": inner["user"], "params": inner["params"]}


@cloud.define("private")
async def private(req):
    who = req.params["as"]
    kwargs = {"master": True} if who == "master" else {"user": req.user} if who == "user" else {}
    if who == "token":
        kwargs = {"session_token": req.params["token"]}
    rows = await cloud.find("Diary", {}, **kwargs)
    return [r["text"] for r in rows]


@cloud.define("counter")
async def counter(req):
    await cloud.create("Tick", {"n": 1}, master=True)
    await cloud.create("Tick", {"n": 2}, master=True)
    n = await cloud.count("Tick", {"n": {"$gt": 1}}, master=True)
    first = await cloud.first("Tick", {}, order="-n", master=True)
    got = await cloud.get("Tick", first["objectId"], master=True)
    updated = await cloud.update("Tick", got["objectId"], {"n": {"__op": "Increment", "amount": 5}}, master=True)
    await cloud.delete("Tick", got["objectId"], master=True)
    left = await cloud.count("Tick", master=True)
    missing = None
    try:
        await cloud.get("Tick", got["objectId"], master=True)
    except cloud.Error as exc:
        missing = exc.code
    return {"count": n, "first": first["n"], "class": got["className"], "updated": updated["n"],
            "left": left, "missing": missing}


@cloud.define("needsUser", validator={"require_user": True})
def needs_user(req):
    return "ok"


@cloud.define("needsMaster", validator={"requireMaster": True})
def needs_master(req):
    return "ok"


@cloud.define("typed", validator={"fields": {
    "count": {"type": int, "required": True},
    "mode": {"default": "fast", "options": ["fast", "slow"]},
    "tag": {"options": lambda v: v.startswith("t"), "error": "tags start with t"},
}})
def typed(req):
    return req.params


@cloud.define("listed", validator={"fields": ["a", "b"]})
def listed(req):
    return "ok"


@cloud.define("roles", validator={"require_any_user_roles": ["admin"]})
def roles(req):
    return "ok"


@cloud.define("keys", validator={"require_user_keys": ["nickname"]})
def keys(req):
    return "ok"


def check(req):
    if req.params.get("bad"):
        raise Exception("custom validator says no")


@cloud.define("custom", validator=check)
def custom(req):
    return "ok"


@cloud.define("master-checked", validator={"require_user": True, "validate_master_key": True})
def master_checked(req):
    return "ok"


@cloud.define("a.b")
def dotted(req):
    return "dotted"


@cloud.define("slow")
async def slow(req):
    await asyncio.sleep(0)
    return 1
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path), allow_client_class_creation=True)


async def call(api, name, params=None, **kw):
    return await api.post(f"/functions/{name}", params or {}, **kw)


async def test_hello(api):
    assert tuple(await call(api, "hello", {"name": "Ann"})) == (200, {"result": "Hello Ann"})
    assert tuple(await call(api, "hello")) == (200, {"result": "Hello world"})


async def test_dotted_names(api):
    assert tuple(await call(api, "a.b")) == (200, {"result": "dotted"})


@pytest.mark.parametrize("name", ["nope", "constructor", "__class__", "__init__", "toString",
                                  "hasOwnProperty", "__proto__", "registry"])
async def test_unknown_function(api, name):
    status, body = await call(api, name)
    assert (status, body) == (400, {"code": 141, "error": f'Invalid function: "{name}"'})


async def test_function_routes_are_post_only(api):
    status, _ = await api.get("/functions/hello")
    assert status == 404


async def test_params_merge_body_and_query_strings(api):
    status, body = await api.request("POST", "/functions/echo", {"a": 1, "b": "body"},
                                     params={"b": "query", "c": "3"})
    assert status == 200
    # The URL query wins and stays a string, as in Parse Server.
    assert body["result"]["params"] == {"a": 1, "b": "query", "c": "3"}


async def test_js_sdk_envelope(api):
    user = await api.signup("jsuser")
    raw = orjson.dumps({"x": 2, "_ApplicationId": APP_ID, "_ClientVersion": "js5.3.0", "_InstallationId": "inst-9",
                        "_SessionToken": user["sessionToken"], "_context": {"k": "v"}})
    status, body = await api.post("/functions/echo", raw=raw, app_id=None, headers={"Content-Type": "text/plain"})
    assert status == 200
    assert body["result"] == {"params": {"x": 2}, "master": False, "function": "echo", "user": "jsuser",
                              "token": True, "installation": "inst-9", "context": {"k": "v"}}


async def test_user_and_master(api):
    user = await api.signup("carl")
    _, body = await call(api, "echo", token=user["sessionToken"])
    assert (body["result"]["user"], body["result"]["master"], body["result"]["token"]) == ("carl", False, True)
    # The master key wins over a session token: no user.
    _, body = await call(api, "echo", master=True, token=user["sessionToken"])
    assert (body["result"]["user"], body["result"]["master"]) == (None, True)
    status, body = await call(api, "echo", token="r:not-a-session")
    assert (status, body) == (400, {"code": 209, "error": "Invalid session token"})


async def test_context_header(api):
    _, body = await call(api, "echo", headers={"X-Parse-Cloud-Context": '{"a": [1]}'})
    assert body["result"]["context"] == {"a": [1]}


@pytest.mark.parametrize(("kind", "extra", "http", "expected"), [
    ("plain", {}, 400, {"code": 141, "error": "'missing'"}),
    ("empty", {}, 400, {"code": 141, "error": "Script failed."}),
    ("parse", {"code": 137}, 400, {"code": 137, "error": "chosen"}),
    ("parse", {"code": 101}, 404, {"code": 101, "error": "chosen"}),
    ("internal", {}, 500, {"code": 1, "error": "internal"}),
])
async def test_error_mapping(api, kind, extra, http, expected):
    status, body = await call(api, "fail", {"kind": kind, **extra})
    assert (status, body) == (http, expected)


async def test_sys_exit_in_a_function_is_only_a_failure(api):
    assert tuple(await call(api, "exit")) == (400, {"code": 141, "error": "bye"})
    assert tuple(await call(api, "hello")) == (200, {"result": "Hello world"})


async def test_login_hooks_run_through_the_cloud_layer(api):
    # The users routes call these registry entries; this checks the pieces
    # they use: class keys, req.object with className, validators, errors.
    seen = []

    def refuse(req):
        seen.append((req.trigger_name, req.object["className"], req.object["username"], req.user))
        if req.object.get("banned"):
            raise cloud.Error(101, "banned")

    api.engine.triggers.add_trigger("beforeLogin", "User", refuse, {"fields": {"username": {"type": str}}})
    hook = api.engine.triggers.trigger("beforeLogin", "_User")
    req = api.engine.hook_request("beforeLogin", Auth(), object={"objectId": "u1", "username": "ivy"})
    assert await call_hook(hook, req, api.engine.hook_runner) is None
    assert seen == [("beforeLogin", "_User", "ivy", None)]
    req = api.engine.hook_request("beforeLogin", Auth(), object={"objectId": "u1", "username": 5})
    with pytest.raises(ParseError) as info:
        await call_hook(hook, req, api.engine.hook_runner)
    assert (info.value.code, info.value.message) == (142, "Validation failed. Invalid type for username. Expected: string")
    req = api.engine.hook_request("beforeLogin", Auth(), object={"username": "x", "banned": True})
    with pytest.raises(ParseError) as info:
        await call_hook(hook, req, api.engine.hook_runner)
    assert (info.value.code, info.value.message) == (101, "banned")


async def test_none_result_answers_null(api):
    # A Python None is JavaScript's null: {"result": null}. cloud.UNDEFINED
    # gives {} (tests/test_parity_cloud.py).
    assert tuple(await call(api, "nothing")) == (200, {"result": None})


async def test_objects_are_encoded_as_parse_objects(api):
    status, body = await call(api, "shapes")
    assert status == 200
    result = body["result"]
    saved = result["saved"]
    assert saved["__type"] == "Object"
    assert saved["className"] == "Thing"
    assert saved["n"] == 1
    assert set(saved) == {"__type", "className", "objectId", "createdAt", "n"}
    assert [(o["__type"], o["className"], o["objectId"]) for o in result["found"]] == [
        ("Object", "Thing", saved["objectId"])]
    assert result["when"] == {"__type": "Date", "iso": "2024-05-01T12:00:00.000Z"}
    assert result["ptr"] == {"__type": "Pointer", "className": "Thing", "objectId": saved["objectId"]}
    assert result["nums"] == [1, 2]
    assert result["bytes"] == {"__type": "Bytes", "base64": "aGk="}


async def test_unencodable_result_is_141(api):
    status, body = await call(api, "strange")
    assert (status, body) == (400, {"code": 141, "error": "A function cannot return a object."})


async def test_cloud_run_calls_another_function(api):
    user = await api.signup("dora")
    status, body = await call(api, "caller", token=user["sessionToken"])
    assert (status, body) == (200, {"result": {"inner": "dora", "params": {"x": 1}}})


async def test_data_access_is_anonymous_unless_told(api):
    user = await api.signup("erin")
    acl = {user["objectId"]: {"read": True, "write": True}}
    await api.post("/classes/Diary", {"text": "mine", "ACL": acl}, master=True)
    await api.post("/classes/Diary", {"text": "public"}, master=True)
    token = user["sessionToken"]
    assert (await call(api, "private", {"as": "nobody"}, token=token)).body == {"result": ["public"]}
    assert sorted((await call(api, "private", {"as": "user"}, token=token)).body["result"]) == ["mine", "public"]
    assert sorted((await call(api, "private", {"as": "master"})).body["result"]) == ["mine", "public"]
    assert sorted((await call(api, "private", {"as": "token", "token": token})).body["result"]) == ["mine", "public"]
    status, body = await call(api, "private", {"as": "token", "token": "r:bogus"})
    assert (status, body) == (400, {"code": 209, "error": "Invalid session token"})


async def test_data_access_helpers(api):
    status, body = await call(api, "counter")
    assert (status, body) == (200, {"result": {"count": 1, "first": 2, "class": "Tick", "updated": 7,
                                               "left": 1, "missing": 101}})


# ------------------------------------------------------------------ validators

async def test_require_user(api):
    assert tuple(await call(api, "needsUser")) == (
        400, {"code": 142, "error": "Validation failed. Please login to continue."})
    user = await api.signup("fay")
    assert tuple(await call(api, "needsUser", token=user["sessionToken"])) == (200, {"result": "ok"})
    # Object validators are skipped for the master key (validateMasterKey false).
    assert tuple(await call(api, "needsUser", master=True)) == (200, {"result": "ok"})


async def test_validate_master_key_runs_validator_for_master(api):
    assert tuple(await call(api, "master-checked", master=True)) == (
        400, {"code": 142, "error": "Validation failed. Please login to continue."})


async def test_require_master(api):
    assert tuple(await call(api, "needsMaster")) == (
        400, {"code": 142, "error": "Validation failed. Master key is required to complete this request."})
    assert tuple(await call(api, "needsMaster", master=True)) == (200, {"result": "ok"})


@pytest.mark.parametrize(("params", "expected"), [
    ({}, "Validation failed. Please specify data for count."),
    ({"count": "3"}, "Validation failed. Invalid type for count. Expected: number"),
    ({"count": True}, "Validation failed. Invalid type for count. Expected: number"),
    ({"count": 1, "mode": "medium"}, "Validation failed. Invalid option for mode. Expected: fast, slow"),
    ({"count": 1, "tag": "x"}, "tags start with t"),
])
async def test_field_validation_failures(api, params, expected):
    status, body = await call(api, "typed", params)
    assert (status, body) == (400, {"code": 142, "error": expected})


async def test_field_defaults_reach_the_handler(api):
    status, body = await call(api, "typed", {"count": 2, "tag": "tx"})
    assert (status, body) == (200, {"result": {"count": 2, "tag": "tx", "mode": "fast"}})


async def test_fields_as_list(api):
    assert tuple(await call(api, "listed", {"a": 1})) == (
        400, {"code": 142, "error": "Validation failed. Please specify data for b."})
    assert tuple(await call(api, "listed", {"a": 1, "b": 0})) == (200, {"result": "ok"})


async def test_required_roles(api):
    user = await api.signup("gil")
    token = user["sessionToken"]
    assert tuple(await call(api, "roles", token=token)) == (
        400, {"code": 142, "error": "Validation failed. User does not match the required roles."})
    await api.post("/roles", {"name": "admin", "ACL": {"*": {"read": True}},
                              "users": {"__op": "AddRelation", "objects": [
                                  {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}]}},
                   master=True)
    api.engine.auth.forget_roles()
    assert tuple(await call(api, "roles", token=token)) == (200, {"result": "ok"})


async def test_required_user_keys(api):
    user = await api.signup("hal")
    token = user["sessionToken"]
    assert tuple(await call(api, "keys", token=token)) == (
        400, {"code": 142, "error": "Validation failed. Please set data for nickname on your account."})
    await api.put(f"/users/{user['objectId']}", {"nickname": "h"}, token=token)
    assert tuple(await call(api, "keys", token=token)) == (200, {"result": "ok"})


async def test_function_validator(api):
    assert tuple(await call(api, "custom", {"bad": True})) == (
        400, {"code": 142, "error": "custom validator says no"})
    assert tuple(await call(api, "custom")) == (200, {"result": "ok"})


# ------------------------------------------------------------------ unit

def test_decorators_register_into_the_registry_being_loaded():
    target = Registry()
    with cloud.registering(target):
        @cloud.define("f")
        def f(req):
            return 1

        @cloud.before_save("User")
        def g(req):
            return None

        @cloud.before_login
        def h(req):
            return None

        @cloud.after_logout()
        def i(req):
            return None

    assert target.function("f").fn is f
    assert target.trigger("beforeSave", "_User").fn is g
    assert target.trigger("beforeLogin", "_User").fn is h
    assert target.trigger("afterLogout", "_Session").fn is i
    assert cloud.registry() is not target


@pytest.mark.parametrize(("register", "message"), [
    (lambda: cloud.define("x", validator={"requireUsr": True}), "invalid validator option: 'requireUsr'"),
    (lambda: cloud.define("x", validator={"fields": {"a": {"typ": str}}}), "invalid option 'typ' for field a"),
    (lambda: cloud.define("x", validator={"fields": {"a": {"type": set}}}), "invalid type"),
    (lambda: cloud.before_save("_Session"), None),
    (lambda: cloud.before_save("_PushStatus"), None),
])
def test_registration_errors(register, message):
    with cloud.registering(Registry()), pytest.raises(ValueError) as info:
        register()(lambda req: None)
    if message:
        assert message in str(info.value)


def test_cloud_error_is_a_parse_error():
    err = cloud.Error(cloud.Error.VALIDATION_ERROR, "x")
    assert (err.code, err.message, err.status) == (142, "x", 400)


async def test_data_access_outside_a_server_is_refused():
    with pytest.raises(RuntimeError):
        await cloud.find("Thing")


def test_pointer():
    assert cloud.pointer({"className": "A", "objectId": "1", "x": 2}) == {
        "__type": "Pointer", "className": "A", "objectId": "1"}
    assert cloud.pointer("User", "u1") == {"__type": "Pointer", "className": "_User", "objectId": "u1"}
    with pytest.raises(ValueError):
        cloud.pointer({"className": "A"})


def test_encode_result_rule():
    assert cloud_runtime.encode_result({"className": "A", "objectId": "1"}) == {
        "__type": "Object", "className": "A", "objectId": "1"}
    # A pointer stays a pointer; a dict without objectId stays a dict.
    ptr = {"__type": "Pointer", "className": "A", "objectId": "1"}
    assert cloud_runtime.encode_result(ptr) == ptr
    assert cloud_runtime.encode_result({"className": "A"}) == {"className": "A"}
