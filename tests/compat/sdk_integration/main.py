"""Cloud code for running the Parse JS SDK's own integration specs
(Parse-SDK-JS ``integration/test``) against bapp: the Python counterpart of
the functions and jobs their ``integration/test/cloud/main.js`` defines.
How to run them is described in ``README.md`` next to this file."""

import asyncio

from bapp import cloud


@cloud.define("bar")
def bar(req):
    if req.params.get("key2") == "value1":
        return "Foo"
    raise Exception("bad stuff happened")


@cloud.define("TestFetchFromLocalDatastore")
async def fetch_from_local_datastore(req):
    object_id = req.params["id"]
    await cloud.update("Item", object_id, {"foo": "changed"})
    return await cloud.get("Item", object_id)


@cloud.define("UpdateUser")
async def update_user(req):
    await cloud.update("_User", req.params["id"], {"foo": "changed"}, master=True)
    return await cloud.get("_User", req.params["id"], master=True)


@cloud.define("CloudFunctionIdempotency")
async def idempotency(req):
    return await cloud.create("IdempotencyItem", {}, master=True)


@cloud.define("CloudFunctionUndefined")
def function_undefined(req):
    return cloud.UNDEFINED


@cloud.job("CloudJob1")
def job1(req):
    return {"status": "cloud job completed"}


@cloud.job("CloudJob2")
async def job2(req):
    await asyncio.sleep(1)
    return {"status": "cloud job completed"}


@cloud.job("CloudJobFailing")
def job_failing(req):
    raise Exception("cloud job failed")
