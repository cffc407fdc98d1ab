"""Parse Server 9's ``fileUpload`` options read from a Parse config file
and honoured by the upload route: the three enableFor* switches and
``fileExtensions`` (patterns matched against the extension, letter case
kept in the refusal message)."""

from __future__ import annotations

import orjson
import pytest
from conftest import Client, make_settings, start_server

from bapp.config import ConfigError, Settings, apply_parse_config


def _config(tmp_path, file_upload) -> Settings:
    path = tmp_path / "parse-config.json"
    path.write_text(orjson.dumps({"appId": "x", "masterKey": "y", "fileUpload": file_upload}).decode())
    settings = Settings()
    apply_parse_config(settings, path)
    return settings


def test_defaults_are_parse_server_9s(tmp_path):
    settings = _config(tmp_path, {})
    assert (settings.file_upload_public, settings.file_upload_anonymous, settings.file_upload_authenticated) == (
        False, False, True)
    assert settings.file_extensions is None  # the HTML/SVG/XML blocklist


def test_options_are_read(tmp_path):
    settings = _config(tmp_path, {"enableForPublic": True, "enableForAnonymousUser": True,
                                  "enableForAuthenticatedUser": False, "fileExtensions": ["^png$"]})
    assert (settings.file_upload_public, settings.file_upload_anonymous, settings.file_upload_authenticated) == (
        True, True, False)
    assert settings.file_extensions == ["^png$"]


@pytest.mark.parametrize(("value", "message"), [
    ("yes", "fileUpload must be an object value."),
    ([], "fileUpload must be an object value."),
    ({"enableForPublic": "true"}, "fileUpload.enableForPublic must be a boolean value."),
    ({"enableForAnonymousUser": 1}, "fileUpload.enableForAnonymousUser must be a boolean value."),
    ({"enableForAuthenticatedUser": None}, "fileUpload.enableForAuthenticatedUser must be a boolean value."),
    ({"fileExtensions": "png"}, "fileUpload.fileExtensions must be an array."),
])
def test_invalid_options_stop_start_up(tmp_path, value, message):
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, value)
    assert str(caught.value).endswith(message)


@pytest.fixture
async def configured(tmp_path, request):
    settings = _config(tmp_path, request.param)
    base = make_settings(files_path=str(tmp_path / "files"))
    for name in ("file_upload_public", "file_upload_anonymous", "file_upload_authenticated", "file_extensions"):
        setattr(base, name, getattr(settings, name))
    server, session = await start_server(base)
    client = Client(session, f"http://127.0.0.1:{server.port}{base.mount_path}", server)
    try:
        yield client
    finally:
        await session.close()
        await server.close()


async def _upload(api, name, content_type="text/plain", token=None):
    return await api.request("POST", f"/files/{name}", raw=b"data", token=token,
                             headers={"Content-Type": content_type})


@pytest.mark.parametrize("configured", [{"enableForPublic": True, "fileExtensions": ["^(png|PNG)$", "txt"]}],
                         indirect=True)
async def test_public_uploads_and_an_allow_list(configured):
    api = configured
    assert (await _upload(api, "a.png", "image/png")).status == 201
    assert (await _upload(api, "a.PNG", "image/png")).status == 201
    assert (await _upload(api, "notes.txt")).status == 201
    refused = await _upload(api, "a.Jpg", "image/jpeg")
    assert (refused.status, refused.body) == (400, {"code": 130, "error": "File upload of extension Jpg is disabled."})
    html = await _upload(api, "page.html", "text/html")
    assert html.body == {"code": 130, "error": "File upload of extension html is disabled."}


@pytest.mark.parametrize("configured", [{"enableForAuthenticatedUser": False, "enableForAnonymousUser": True}],
                         indirect=True)
async def test_anonymous_but_not_authenticated_users(configured):
    api = configured
    user = await api.signup("ann")
    refused = await _upload(api, "a.txt", token=user["sessionToken"])
    assert (refused.status, refused.body) == (
        400, {"code": 130, "error": "File upload by authenticated user is disabled."})
    anonymous = await api.post("/users", {"authData": {"anonymous": {"id": "device-1"}}})
    allowed = await _upload(api, "a.txt", token=anonymous.body["sessionToken"])
    assert allowed.status == 201
    public = await _upload(api, "a.txt")
    assert (public.status, public.body) == (400, {"code": 130, "error": "File upload by public is disabled."})
    master = await api.request("POST", "/files/page.html", raw=b"<p>", master=True,
                               headers={"Content-Type": "text/html"})
    assert master.status == 201


@pytest.mark.parametrize("configured", [{"enableForPublic": True}], indirect=True)
async def test_default_blocklist_from_a_config_file(configured):
    api = configured
    assert (await _upload(api, "app.js", "application/javascript")).status == 201
    svg = await _upload(api, "logo.SVG", "image/svg+xml")
    assert (svg.status, svg.body) == (400, {"code": 130, "error": "File upload of extension SVG is disabled."})
