"""File hooks (beforeSaveFile / afterSaveFile / beforeDeleteFile /
afterDeleteFile), registered on the engine's trigger registry under Parse
7+'s ``@File`` class, with either the legacy or the modern trigger name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bapp.core.files import FileInfo
from bapp.errors import ParseError
from tests.conftest import APP_ID, Client, make_settings, start_server
from tests.test_files import NAME, fetch, stored_files, upload


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def settings(files_dir: Path):
    return make_settings(files_path=str(files_dir))


@pytest.fixture
async def token(api) -> str:
    return (await api.signup("hooked"))["sessionToken"]


def on(api, trigger: str, fn) -> None:
    api.engine.triggers.add_trigger(trigger, "@File", fn)


async def test_before_and_after_save_see_the_file(api, token):
    seen = []

    def before(req):
        seen.append(("before", req.trigger_name, req.file.name, req.file.url, req.file.size,
                     req.file.content_type, req.user["username"], req.master))

    async def after(req):
        seen.append(("after", req.trigger_name, req.file.name, req.file.url, req.file.size))

    on(api, "beforeSaveFile", before)
    on(api, "afterSaveFile", after)
    reply = await upload(api, "a.txt", b"12345", token=token)
    assert reply.status == 201
    name, url = reply.body["name"], reply.body["url"]
    assert seen == [
        ("before", "beforeSaveFile", "a.txt", None, 5, "text/plain", "hooked", False),
        ("after", "afterSaveFile", name, url, 5),
    ]


async def test_modern_trigger_names_on_the_file_class(api, token):
    seen = []
    on(api, "beforeSave", lambda req: seen.append(req.trigger_name))
    on(api, "afterSave", lambda req: seen.append(req.trigger_name))
    assert (await upload(api, "a.txt", b"x", token=token)).status == 201
    assert seen == ["beforeSave", "afterSave"]


async def test_before_save_can_rename_and_set_metadata(api, token):
    def before(req):
        req.file.name = "renamed.txt"
        req.file.metadata["checked"] = True

    on(api, "beforeSaveFile", before)
    reply = await upload(api, "a.txt", b"x", token=token)
    assert NAME.fullmatch(reply.body["name"]).group(1) == "renamed.txt"
    meta = await api.get(f"/files/{APP_ID}/metadata/{reply.body['name']}")
    assert meta.body == {"metadata": {"checked": True}}


async def test_before_save_returning_a_new_file(api, token):
    on(api, "beforeSaveFile", lambda req: FileInfo("other.txt", content_type="text/plain"))
    reply = await upload(api, "a.txt", b"x", token=token)
    assert NAME.fullmatch(reply.body["name"]).group(1) == "other.txt"


async def test_before_save_returning_a_saved_file_skips_the_upload(api, token, files_dir):
    after = []
    on(api, "beforeSaveFile", lambda req: {"__type": "File", "name": "cdn.png", "url": "https://cdn.example/cdn.png"})
    on(api, "afterSaveFile", lambda req: after.append((req.file.name, req.file.size)))
    reply = await upload(api, "a.png", b"x", "image/png", token=token)
    assert (reply.status, reply.body) == (201, {"url": "https://cdn.example/cdn.png", "name": "cdn.png"})
    assert reply.headers["Location"] == "https://cdn.example/cdn.png"
    assert after == [("cdn.png", None)]
    assert stored_files(files_dir) == []


async def test_before_save_errors(api, token, files_dir):
    def fail(req):
        raise RuntimeError("no uploads today")

    on(api, "beforeSaveFile", fail)
    reply = await upload(api, "a.txt", b"x", token=token)
    assert (reply.status, reply.body) == (400, {"code": 130, "error": "no uploads today"})

    def refuse(req):
        raise ParseError(142, "too blurry")

    on(api, "beforeSaveFile", refuse)
    reply = await upload(api, "a.txt", b"x", token=token)
    assert (reply.status, reply.body) == (400, {"code": 142, "error": "too blurry"})
    assert stored_files(files_dir) == []


async def test_before_save_rename_to_a_bad_name_is_122(api, token):
    def before(req):
        req.file.name = "../escape.txt"

    on(api, "beforeSaveFile", before)
    reply = await upload(api, "a.txt", b"x", token=token)
    assert (reply.status, reply.body["code"]) == (400, 122)


async def test_after_save_error_is_reported_though_the_file_is_stored(api, token, files_dir):
    def after(req):
        raise RuntimeError("after failed")

    on(api, "afterSaveFile", after)
    reply = await upload(api, "a.txt", b"x", token=token)
    assert (reply.status, reply.body) == (400, {"code": 130, "error": "after failed"})
    assert len(stored_files(files_dir)) == 1


async def test_delete_hooks(api, token, files_dir):
    seen = []
    saved = await upload(api, "a.txt", b"x", token=token)
    name = saved.body["name"]

    def before(req):
        seen.append(("before", req.file.name, req.file.url, req.master))
        if req.file.name.endswith("keep.txt"):
            raise RuntimeError("keep it")

    on(api, "beforeDeleteFile", before)
    on(api, "afterDeleteFile", lambda req: seen.append(("after", req.file.name)))
    assert (await api.delete(f"/files/{name}", master=True)).status == 200
    assert seen == [("before", name, saved.body["url"], True), ("after", name)]

    kept = await upload(api, "keep.txt", b"x", token=token)
    refused = await api.delete(f"/files/{kept.body['name']}", master=True)
    assert (refused.status, refused.body) == (400, {"code": 153, "error": "keep it"})
    assert (await fetch(api, kept.body["url"]))[1] == b"x"


# ------------------------------------------------------------------ through cloud code
CLOUD = '''
from bapp import cloud

SEEN = []


@cloud.before_save_file
async def before(req):
    SEEN.append(("before", req.file.name, req.user["username"] if req.user else None))
    if req.file.name.startswith("blocked"):
        raise cloud.Error(cloud.Error.FILE_SAVE_ERROR, "blocked by cloud code")
    req.file.metadata["source"] = "cloud"


@cloud.after_save_file()
def after(req):
    SEEN.append(("after", req.file.size))


@cloud.before_delete_file
def before_delete(req):
    SEEN.append(("before_delete", req.master))


@cloud.after_delete_file
def after_delete(req):
    SEEN.append(("after_delete", req.file.name))
'''


async def test_file_hooks_from_cloud_code(tmp_path, files_dir):
    cloud_file = tmp_path / "main.py"
    cloud_file.write_text(CLOUD)
    server, session = await start_server(make_settings(files_path=str(files_dir), cloud_path=str(cloud_file)))
    api = Client(session, f"http://127.0.0.1:{server.port}/parse", server)
    try:
        token = (await api.signup("clouded"))["sessionToken"]
        saved = await upload(api, "ok.txt", b"abc", token=token)
        assert saved.status == 201
        meta = await api.get(f"/files/{APP_ID}/metadata/{saved.body['name']}")
        assert meta.body == {"metadata": {"source": "cloud"}}
        blocked = await upload(api, "blocked.txt", b"abc", token=token)
        assert (blocked.status, blocked.body) == (400, {"code": 130, "error": "blocked by cloud code"})
        assert (await api.delete(f"/files/{saved.body['name']}", master=True)).status == 200
        module = sys.modules[api.engine.triggers.modules[0]]
        assert module.SEEN == [("before", "ok.txt", "clouded"), ("after", 3), ("before", "blocked.txt", "clouded"),
                               ("before_delete", True), ("after_delete", saved.body["name"])]
    finally:
        await session.close()
        await server.close()
