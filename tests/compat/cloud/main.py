"""Cloud code for the JS SDK compatibility tests (tests/compat/cloud.test.mjs).

Trigger class names are fixed (``CompatCloud*``); the tests filter on unique
values so runs can share a server."""

from bapp import cloud


@cloud.define("hello")
def hello(req):
    return f"Hello {req.params.get('name', 'world')}!"


@cloud.define("whoami")
def whoami(req):
    return {
        "user": req.user["username"] if req.user else None,
        "master": req.master,
        "context": req.context,
        "params": req.params,
    }


@cloud.define("failWith")
def fail_with(req):
    raise cloud.Error(req.params["code"], req.params["message"])


@cloud.define("crash")
def crash(req):
    raise ValueError("it crashed")


@cloud.define("nothing")
def nothing(req):
    return cloud.UNDEFINED


@cloud.define("nullResult")
def null_result(req):
    return None


@cloud.define("needsUser", validator={"require_user": True})
def needs_user(req):
    return "ok"


@cloud.define("makeItem")
async def make_item(req):
    return await cloud.create("CompatCloudItem", {"name": req.params["name"], "quantity": 1}, master=True)


@cloud.before_save("CompatCloudItem")
def item_before_save(req):
    if req.object.get("quantity", 0) < 0:
        raise cloud.Error(142, "quantity must not be negative")
    name = req.object.get("name", "").strip()
    req.object["name"] = name
    req.object["slug"] = name.lower().replace(" ", "-")


@cloud.after_save("CompatCloudItem")
async def item_after_save(req):
    await cloud.create("CompatCloudAudit", {"item": cloud.pointer(req.object), "name": req.object["name"]},
                       master=True)


@cloud.job("compatJob")
async def compat_job(req):
    await req.message("working")
    return f"done {req.params.get('n')}"


# The JS SDK's own idempotency spec (integration/test/IdempotencyTest.js)
# calls these; tests/compat/parse-config.json covers their paths.
@cloud.define("CloudFunctionIdempotency")
async def cloud_function_idempotency(req):
    await cloud.create("IdempotencyItem", {"tag": req.params.get("tag")}, master=True)
    return "ok"


@cloud.job("CloudJob1")
async def cloud_job1(req):
    return {"startedBy": req.params.get("startedBy")}
