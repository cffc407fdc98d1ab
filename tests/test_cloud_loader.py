"""Loading cloud code: files, package directories, errors with file and
line, isolation between servers, and ``--reload``."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import Client, make_settings, start_server

from bapp import cli
from bapp.cloud import loader as cloud_loader
from bapp.cloud.loader import CloudLoadError
from bapp.server import build_app


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


FUNC = '''
from bapp import cloud

@cloud.define("who")
def who(req):
    return "{name}"
'''


def test_load_a_file(tmp_path):
    path = write(tmp_path / "main.py", FUNC.format(name="one"))
    registry = cloud_loader.load(path)
    assert sorted(registry.functions) == ["who"]
    assert registry.function("who").fn(None) == "one"


def test_each_load_gets_its_own_registry_and_modules(tmp_path):
    path = write(tmp_path / "main.py", FUNC.format(name="one"))
    first, second = cloud_loader.load(path), cloud_loader.load(path)
    assert first is not second
    assert first.function("who").fn is not second.function("who").fn
    assert set(first.modules).isdisjoint(second.modules)


def test_load_a_package_directory(tmp_path):
    root = tmp_path / "cloudpkg"
    write(root / "__init__.py", "LOADED = True\n")
    write(root / "helpers.py", '''
        def shout(text):
            return text.upper()
    ''')
    write(root / "functions.py", '''
        from bapp import cloud
        from . import helpers

        @cloud.define("shout")
        def shout(req):
            return helpers.shout(req.params["text"])
    ''')
    write(root / "hooks" / "inventory.py", '''
        from bapp import cloud

        @cloud.before_save("Inventory")
        def check(req):
            pass
    ''')
    write(root / "__pycache__" / "junk.py", "raise RuntimeError('never imported')\n")
    registry = cloud_loader.load(root)
    assert sorted(registry.functions) == ["shout"]
    assert registry.function("shout").fn(type("R", (), {"params": {"text": "hi"}})()) == "HI"
    assert registry.has("beforeSave", "Inventory")


def test_load_a_directory_without_init(tmp_path):
    write(tmp_path / "a.py", FUNC.format(name="a"))
    write(tmp_path / "b.py", '''
        from bapp import cloud

        @cloud.job("nightly")
        def nightly(req):
            pass
    ''')
    registry = cloud_loader.load(tmp_path)
    assert (sorted(registry.functions), sorted(registry.jobs)) == (["who"], ["nightly"])


def test_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "main.py", '''
        from bapp import cloud

        def broken(:
            pass
    ''')
    with pytest.raises(CloudLoadError) as info:
        cloud_loader.load(path)
    assert str(info.value).startswith(f"{path}:3: SyntaxError: ")


def test_import_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "main.py", '''
        from bapp import cloud
        import bapp_module_that_does_not_exist
    ''')
    with pytest.raises(CloudLoadError) as info:
        cloud_loader.load(path)
    assert str(info.value) == (f"{path}:2: ModuleNotFoundError: "
                               "No module named 'bapp_module_that_does_not_exist'")


def test_error_deep_in_a_package_names_the_deepest_cloud_frame(tmp_path):
    write(tmp_path / "util.py", '''
        def setup():
            raise RuntimeError("bad setup")
    ''')
    main = write(tmp_path / "main.py", '''
        from . import util

        util.setup()
    ''')
    with pytest.raises(CloudLoadError) as info:
        cloud_loader.load(tmp_path)
    assert str(info.value) == f"{tmp_path / 'util.py'}:2: RuntimeError: bad setup"
    assert main.exists()


def test_bad_registration_names_file_and_line(tmp_path):
    path = write(tmp_path / "main.py", '''
        from bapp import cloud

        @cloud.define("x", validator={"require_usr": True})
        def x(req):
            pass
    ''')
    with pytest.raises(CloudLoadError) as info:
        cloud_loader.load(path)
    assert str(info.value) == f"{path}:3: ValueError: invalid validator option: 'require_usr'"


def test_failed_load_leaves_no_modules_behind(tmp_path):
    path = write(tmp_path / "main.py", "raise SystemExit(3)\n")
    before = {m for m in sys.modules if m.startswith("_bapp_cloud_")}
    with pytest.raises(CloudLoadError) as info:
        cloud_loader.load(path)
    assert str(info.value) == f"{path}:1: SystemExit: 3"
    assert {m for m in sys.modules if m.startswith("_bapp_cloud_")} == before


@pytest.mark.parametrize("name", ["missing.py", "notes.txt"])
def test_bad_paths(tmp_path, name):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CloudLoadError) as info:
        cloud_loader.load(tmp_path / name)
    assert str(info.value).startswith(str(tmp_path / name) + ": ")


def test_build_app_stops_on_bad_cloud_code(tmp_path):
    path = write(tmp_path / "main.py", "x = (\n")
    with pytest.raises(CloudLoadError) as info:
        build_app(make_settings(cloud_path=str(path)))
    assert str(info.value).startswith(f"{path}:1: SyntaxError")


def test_cli_serve_exits_with_file_and_line(tmp_path, capsys):
    path = write(tmp_path / "main.py", "from bapp import cloud\nimport nope_not_here\n")
    assert cli.main(["serve", "--cloud", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: ModuleNotFoundError: No module named 'nope_not_here'" in err


async def serve(cloud_path: Path, **overrides):
    settings = make_settings(cloud_path=str(cloud_path), **overrides)
    server, session = await start_server(settings)
    return Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)


async def close(api: Client) -> None:
    await api.session.close()
    await api.server.close()


async def test_two_servers_in_one_process_keep_their_own_code(tmp_path):
    one = await serve(write(tmp_path / "one" / "main.py", FUNC.format(name="one")))
    two = await serve(write(tmp_path / "two" / "main.py", FUNC.format(name="two")))
    try:
        assert (await one.post("/functions/who")).body == {"result": "one"}
        assert (await two.post("/functions/who")).body == {"result": "two"}
        assert one.engine.triggers is not two.engine.triggers
    finally:
        await close(one)
        await close(two)


async def test_server_without_cloud_code_answers_invalid_function(api):
    status, body = await api.post("/functions/who")
    assert (status, body) == (400, {"code": 141, "error": 'Invalid function: "who"'})


async def wait_for(api: Client, expected: dict, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        body = (await api.post("/functions/who")).body
        if body == expected:
            return
        assert loop.time() < deadline, body
        await asyncio.sleep(0.02)


async def test_reload_picks_up_changes_and_survives_broken_edits(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(cloud_loader, "RELOAD_INTERVAL", 0.02)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as in production
    path = write(tmp_path / "main.py", FUNC.format(name="v1"))
    api = await serve(path, reload=True)
    try:
        assert (await api.post("/functions/who")).body == {"result": "v1"}
        # Same size, same second: a cached .pyc must not hide the edit.
        write(path, FUNC.format(name="v2"))
        await wait_for(api, {"result": "v2"})
        write(path, FUNC.format(name="v3") + "\ndef broken(:\n")
        code = cloud_loader.of(api.engine)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not any("cloud code not reloaded" in r.getMessage() for r in caplog.records):
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        assert (await api.post("/functions/who")).body == {"result": "v2"}
        write(path, FUNC.format(name="v4"))
        await wait_for(api, {"result": "v4"})
        assert code is not None and code.reload_enabled
    finally:
        await close(api)


async def test_no_reload_without_the_flag(tmp_path, monkeypatch):
    monkeypatch.setattr(cloud_loader, "RELOAD_INTERVAL", 0.02)
    path = write(tmp_path / "main.py", FUNC.format(name="v1"))
    api = await serve(path)
    try:
        write(path, FUNC.format(name="v2"))
        await asyncio.sleep(0.2)
        assert (await api.post("/functions/who")).body == {"result": "v1"}
    finally:
        await close(api)
