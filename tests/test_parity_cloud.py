"""Parse Server 9 parity of cloud functions and jobs: None versus
cloud.UNDEFINED results, function names taken from a path, and the jobs
data route the SDK's ``Parse.Cloud.getJobsData`` reads."""

from __future__ import annotations

import asyncio
import textwrap

import orjson
import pytest
from conftest import APP_ID, MASTER_KEY, make_settings

from bapp import cloud
from bapp.cloud import runtime as cloud_runtime

CLOUD = '''
from bapp import cloud


@cloud.define("none")
def none(req):
    return None


@cloud.define("undefined")
def undefined(req):
    return cloud.UNDEFINED


@cloud.define("nested")
def nested(req):
    return {"kept": None, "dropped": cloud.UNDEFINED, "list": [1, cloud.UNDEFINED, None]}


@cloud.define("echo")
def echo(req):
    return req.params


@cloud.define("relay")
async def relay(req):
    inner = await cloud.run(req.params["name"])
    return {"inner": inner, "isNone": inner is None}


@cloud.job("cleanup")
async def cleanup(req):
    return "done"


@cloud.job("report")
async def report(req):
    return "done"
'''


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path))


async def test_none_is_a_null_result(api):
    reply = await api.post("/functions/none", {})
    assert (reply.status, reply.body) == (200, {"result": None})


async def test_undefined_is_no_result(api):
    reply = await api.post("/functions/undefined", {})
    assert (reply.status, reply.body) == (200, {})


async def test_undefined_inside_a_result_is_dropped_like_json_stringify(api):
    reply = await api.post("/functions/nested", {})
    assert (reply.status, reply.body) == (200, {"result": {"kept": None, "list": [1, None, None]}})


async def test_cloud_run_of_an_undefined_result_is_none(api):
    reply = await api.post("/functions/relay", {"name": "undefined"})
    assert reply.body == {"result": {"inner": None, "isNone": True}}


def test_undefined_is_one_falsy_value():
    assert cloud.UNDEFINED is cloud_runtime.UNDEFINED
    assert not cloud.UNDEFINED
    assert repr(cloud.UNDEFINED) == "cloud.UNDEFINED"
    assert cloud_runtime.function_response(cloud.UNDEFINED) == {}
    assert cloud_runtime.function_response(None) == {"result": None}


async def _raw_post(api, path: str) -> tuple[int, bytes]:
    """A request whose path is sent byte for byte (no client-side
    normalisation of ``..``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.server.port)
    writer.write((f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Parse-Application-Id: {APP_ID}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}").encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(("path", "name"), [
    ("/parse/functions/hello/../echo", "hello/../echo"),
    ("/parse/functions/a/b", "a/b"),
    ("/parse/functions/echo%2F..%2Fnone", "echo/../none"),
])
async def test_a_function_name_from_a_path_is_an_unknown_function(api, path, name):
    status, body = await _raw_post(api, path)
    assert status == 400
    assert orjson.loads(body) == {"code": 141, "error": f'Invalid function: "{name}"'}


async def test_a_trailing_slash_still_names_the_function(api):
    status, body = await _raw_post(api, "/parse/functions/echo/")
    assert (status, body) == (200, b'{"result":{}}')


async def test_jobs_data_lists_the_jobs(api):
    reply = await api.get("/cloud_code/jobs/data", master=True)
    assert (reply.status, reply.body) == (200, {"in_use": [], "jobs": ["cleanup", "report"]})


async def test_jobs_data_lists_scheduled_jobs_in_use(api):
    await api.engine.storage.create("_JobSchedule", api.engine.schemas.fields_of("_JobSchedule"),
                                    {"objectId": "sched00001", "jobName": "report", "description": "nightly"})
    reply = await api.get("/cloud_code/jobs/data", master=True)
    assert reply.body == {"in_use": ["report"], "jobs": ["cleanup", "report"]}


async def test_jobs_data_needs_the_master_key(api):
    reply = await api.get("/cloud_code/jobs/data")
    assert reply.status == 403
    assert reply.body["error"] in ("unauthorized: master key is required", "Permission denied")
    reply = await api.post("/cloud_code/jobs/data", {"_method": "GET", "_ApplicationId": APP_ID,
                                                     "_MasterKey": MASTER_KEY}, app_id=None)
    assert reply.body == {"in_use": [], "jobs": ["cleanup", "report"]}
