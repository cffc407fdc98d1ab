"""Background jobs: ``POST /jobs/:name`` and ``POST /jobs``, ``_JobStatus``."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from conftest import Client, make_settings, start_server

from bapp.cloud import runtime as cloud_runtime

CLOUD = '''
import asyncio

from bapp import cloud


@cloud.job("ok")
async def ok(req):
    await req.message("halfway")
    await asyncio.sleep(0.3)
    await cloud.create("JobOutput", {"params": req.params, "jobId": req.job_id, "jobName": req.job_name,
                                     "hasUser": req.user is not None, "master": req.master}, master=True)
    return "all done"


@cloud.job("broken")
def broken(req):
    raise ValueError("job exploded")


@cloud.job("parse-error")
async def parse_error(req):
    raise cloud.Error(137, "duplicate thing")


@cloud.job("quiet")
async def quiet(req):
    req.message("not awaited")
    return None


@cloud.job("number")
async def number(req):
    return 42


@cloud.job("forever")
async def forever(req):
    await asyncio.sleep(3600)
'''

RO_KEY = "read-only-key"


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "cloud.py"
    path.write_text(textwrap.dedent(CLOUD))
    return make_settings(cloud_path=str(path), read_only_master_key=RO_KEY)


async def wait_finished(api, job_id: str, timeout: float = 5.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status, body = await api.get(f"/classes/_JobStatus/{job_id}", master=True)
        assert status == 200, body
        if body["status"] != "running":
            return body
        assert loop.time() < deadline, body
        await asyncio.sleep(0.02)


async def test_jobs_need_the_master_key(api):
    status, body = await api.post("/jobs/ok", {})
    assert (status, body) == (403, {"error": "Permission denied"})
    status, body = await api.post("/jobs", {"jobName": "ok"})
    assert (status, body) == (403, {"error": "Permission denied"})


async def test_read_only_master_key_cannot_start_jobs(api):
    status, body = await api.post("/jobs/ok", {}, headers={"X-Parse-Master-Key": RO_KEY})
    assert (status, body) == (400, {"code": 119, "error": "Permission denied"})


@pytest.mark.parametrize("name", ["nope", "constructor", "__class__", "__init__"])
async def test_unknown_job(api, name):
    status, body = await api.post(f"/jobs/{name}", {}, master=True)
    assert (status, body) == (400, {"code": 141, "error": "Invalid job."})


async def test_job_without_name(api):
    status, body = await api.post("/jobs", {}, master=True)
    assert (status, body) == (400, {"code": 141, "error": "Invalid job."})


async def test_job_runs_in_the_background_and_records_its_status(api):
    reply = await api.request("POST", "/jobs/ok", {"a": 1}, master=True, params={"q": "x"})
    assert (reply.status, reply.body) == (200, {})
    job_id = reply.headers["X-Parse-Job-Status-Id"]
    assert "X-Parse-Job-Status-Id" in reply.headers["Access-Control-Expose-Headers"]
    # Answered before the job finished.
    status, running = await api.get(f"/classes/_JobStatus/{job_id}", master=True)
    assert status == 200
    assert (running["status"], running["jobName"], running["source"]) == ("running", "ok", "api")
    assert running["params"] == {"a": 1, "q": "x"}
    assert running["ACL"] == {}
    assert "finishedAt" not in running

    done = await wait_finished(api, job_id)
    assert (done["status"], done["message"]) == ("succeeded", "all done")
    assert done["finishedAt"]["__type"] == "Date"
    _, outputs = await api.get("/classes/JobOutput", master=True)
    assert [(o["jobId"], o["jobName"], o["params"], o["hasUser"], o["master"]) for o in outputs["results"]] == [
        (job_id, "ok", {"a": 1, "q": "x"}, False, False)]


async def test_job_status_is_master_only(api):
    reply = await api.post("/jobs/number", {}, master=True)
    job_id = reply.headers["X-Parse-Job-Status-Id"]
    status, body = await api.get(f"/classes/_JobStatus/{job_id}")
    assert (status, body) == (400, {"code": 119, "error":
                                    "Permission denied"})


async def test_post_jobs_with_job_name(api):
    reply = await api.post("/jobs", {"jobName": "number", "x": 2}, master=True)
    assert (reply.status, reply.body) == (200, {})
    done = await wait_finished(api, reply.headers["X-Parse-Job-Status-Id"])
    assert done["status"] == "succeeded"
    assert "message" not in done  # only a string result becomes the message
    assert done["params"] == {"jobName": "number", "x": 2}


@pytest.mark.parametrize(("name", "message"), [
    ("broken", "job exploded"),
    ("parse-error", "duplicate thing"),
])
async def test_failed_jobs_record_the_error(api, name, message):
    reply = await api.post(f"/jobs/{name}", {}, master=True)
    assert reply.status == 200
    done = await wait_finished(api, reply.headers["X-Parse-Job-Status-Id"])
    assert (done["status"], done["message"]) == ("failed", message)


async def test_progress_message_need_not_be_awaited(api):
    reply = await api.post("/jobs/quiet", {}, master=True)
    done = await wait_finished(api, reply.headers["X-Parse-Job-Status-Id"])
    assert (done["status"], done["message"]) == ("succeeded", "not awaited")


async def test_server_shutdown_cancels_running_jobs():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cloud.py"
        path.write_text(textwrap.dedent(CLOUD))
        settings = make_settings(cloud_path=str(path))
        server, session = await start_server(settings)
        api = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
        engine = api.engine
        try:
            reply = await api.post("/jobs/forever", {}, master=True)
            assert reply.status == 200
            assert len(cloud_runtime.state(engine).jobs) == 1
        finally:
            await session.close()
            await server.close()
        assert cloud_runtime.state(engine).jobs == set()
