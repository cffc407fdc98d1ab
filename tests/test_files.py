"""The files API through HTTP, as a client sees it: upload (raw and the JS
SDK's base64 envelope), download with ranges, metadata, delete, the upload
permissions and every refusal, File fields in objects, and a restart."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path

import orjson
import pytest

from bapp.core.files import TypePolicy
from tests.conftest import APP_ID, MASTER_KEY, Client, is_sql, make_settings, sql_row, start_server

RO_KEY = "read-only-key"
NAME = re.compile(r"[0-9a-f]{32}_(.+)")


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def settings(files_dir: Path):
    return make_settings(files_path=str(files_dir), read_only_master_key=RO_KEY)


async def upload(api: Client, name: str, data: bytes | None, content_type: str | None = "text/plain", *,
                 token: str | None = None, master: bool = False, headers: dict | None = None):
    extra = {"Content-Type": content_type} if content_type else {}
    extra.update(headers or {})
    if content_type is None:
        extra["Content-Type"] = ""
    return await api.request("POST", f"/files/{name}", raw=data if data is not None else b"", token=token,
                             master=master, headers=extra)


async def fetch(api: Client, url: str, headers: dict | None = None, method: str = "GET"):
    async with api.session.request(method, url, headers=headers or {}) as resp:
        return resp.status, await resp.read(), resp.headers


@pytest.fixture
async def token(api: Client) -> str:
    return (await api.signup("uploader"))["sessionToken"]


def stored_files(files_dir: Path) -> list[str]:
    if not files_dir.exists():
        return []
    return sorted(p.name for p in files_dir.iterdir() if p.is_file())


def leftovers(files_dir: Path) -> list[str]:
    """Anything in the service folders (temporary uploads, sidecars)."""
    out = []
    for folder in (files_dir / ".tmp", files_dir / ".meta"):
        if folder.exists():
            out += [p.name for p in folder.iterdir()]
    return out


# ------------------------------------------------------------------ upload and download
async def test_upload_returns_generated_name_url_and_location(api, token):
    reply = await upload(api, "hello.txt", b"hello world", token=token)
    assert reply.status == 201, reply.body
    name = reply.body["name"]
    assert NAME.fullmatch(name).group(1) == "hello.txt"
    assert reply.body == {"url": f"{api.base}/files/{APP_ID}/{name}", "name": name}
    assert reply.headers["Location"] == reply.body["url"]


async def test_download_streams_bytes_with_type_length_and_nosniff(api, token):
    data = bytes(range(256)) * 1000
    reply = await upload(api, "blob.png", data, "image/png", token=token)
    status, body, headers = await fetch(api, reply.body["url"])
    assert status == 200
    assert body == data
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Length"] == str(len(data))
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Accept-Ranges"] == "bytes"
    assert "Content-Disposition" not in headers
    assert headers["Access-Control-Allow-Origin"] == "*"


async def test_two_uploads_of_one_name_get_distinct_names(api, token):
    first = await upload(api, "same.txt", b"one", token=token)
    second = await upload(api, "same.txt", b"two", token=token)
    assert first.body["name"] != second.body["name"]
    assert (await fetch(api, first.body["url"]))[1] == b"one"
    assert (await fetch(api, second.body["url"]))[1] == b"two"


async def test_extension_added_from_content_type(api, token):
    reply = await upload(api, "photo", b"\xff\xd8\xff\xe0jpegdata", "image/jpeg", token=token)
    assert reply.status == 201
    assert NAME.fullmatch(reply.body["name"]).group(1) == "photo.jpeg"
    status, _, headers = await fetch(api, reply.body["url"])
    assert (status, headers["Content-Type"]) == (200, "image/jpeg")


async def test_name_with_space_is_percent_encoded_in_url(api, token):
    reply = await upload(api, "my photo.txt", b"spaced", token=token)
    assert reply.status == 201
    assert reply.body["name"].endswith("_my photo.txt")
    assert reply.body["url"].endswith("_my%20photo.txt")
    assert (await fetch(api, reply.body["url"]))[1] == b"spaced"


async def test_chunked_upload_without_content_length(api, token):
    async def body():
        for i in range(10):
            yield bytes([i]) * 100_000

    async with api.session.post(f"{api.base}/files/chunks.bin", data=body(),
                                headers={**api.headers(token=token), "Content-Type": "application/octet-stream"}) as resp:
        assert resp.status == 201
        url = (await resp.json())["url"]
    status, data, _ = await fetch(api, url)
    assert status == 200
    assert data == b"".join(bytes([i]) * 100_000 for i in range(10))


async def test_head_gives_headers_without_body(api, token):
    reply = await upload(api, "head.txt", b"12345", token=token)
    status, body, headers = await fetch(api, reply.body["url"], method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", "5")


async def test_text_envelope_content_type_and_metadata_header(api, token):
    reply = await upload(api, "meta.txt", b"m", token=token,
                         headers={"X-Parse-File-Metadata": '{"owner": "ann", "n": 2}'})
    assert reply.status == 201
    meta = await api.get(f"/files/{APP_ID}/metadata/{reply.body['name']}")
    assert meta.status == 200
    assert meta.body == {"metadata": {"owner": "ann", "n": 2}}


async def test_metadata_of_missing_file_and_unknown_app_is_empty(api):
    assert (await api.get(f"/files/{APP_ID}/metadata/nothing.txt")).body == {}
    assert (await api.get("/files/other-app/metadata/nothing.txt")).body == {}


async def test_bad_metadata_header_is_107(api, token):
    reply = await upload(api, "m.txt", b"m", token=token, headers={"X-Parse-File-Metadata": "[1"})
    assert reply.status == 400
    assert reply.body == {"code": 107, "error": "Invalid JSON in X-Parse-File-Metadata header."}


async def test_metadata_with_operator_keys_is_refused(api, token):
    reply = await upload(api, "m.txt", b"m", token=token, headers={"X-Parse-File-Metadata": '{"$where": 1}'})
    assert reply.status == 400
    assert reply.body["code"] == 105


# ------------------------------------------------------------------ the JS SDK's envelope
def envelope(data: bytes, **extra) -> bytes:
    body = {"base64": base64.b64encode(data).decode(), "_ApplicationId": APP_ID,
            "_ClientVersion": "js8.6.2", "fileData": {"metadata": {}, "tags": {}}, **extra}
    return orjson.dumps(body)


async def post_envelope(api: Client, name: str, raw: bytes):
    return await api.request("POST", f"/files/{name}", raw=raw, app_id=None, headers={"Content-Type": "text/plain"})


async def test_envelope_upload_like_the_js_sdk(api, token):
    data = b"\x00\x01binary\xffdata" * 1000
    raw = envelope(data, _ContentType="application/pdf", _SessionToken=token,
                   fileData={"metadata": {"kind": "doc"}, "tags": {"t": "1"}})
    reply = await post_envelope(api, "doc.pdf", raw)
    assert reply.status == 201, reply.body
    assert NAME.fullmatch(reply.body["name"]).group(1) == "doc.pdf"
    status, body, headers = await fetch(api, reply.body["url"])
    assert (status, body, headers["Content-Type"]) == (200, data, "application/pdf")
    meta = await api.get(f"/files/{APP_ID}/metadata/{reply.body['name']}")
    assert meta.body == {"metadata": {"kind": "doc"}}


async def test_envelope_without_content_type_uses_the_body_type(api, token):
    # Parse Server keeps the request's text/plain when _ContentType is absent.
    reply = await post_envelope(api, "notes", envelope(b"plain words", _SessionToken=token))
    assert reply.status == 201
    assert NAME.fullmatch(reply.body["name"]).group(1) == "notes.txt"


async def test_envelope_base64_is_decoded_leniently(api, token):
    data = bytes(range(250)) * 3
    text = base64.urlsafe_b64encode(data).decode().rstrip("=")
    raw = orjson.dumps({"base64": text, "_ApplicationId": APP_ID, "_SessionToken": token,
                        "_ContentType": "application/octet-stream"})
    reply = await post_envelope(api, "lenient.bin", raw)
    assert reply.status == 201
    assert (await fetch(api, reply.body["url"]))[1] == data


async def test_envelope_refusals(api, token):
    bad_json = await post_envelope(api, "x.txt", b"{not json")
    assert (bad_json.status, bad_json.body) == (403, {"error": "unauthorized"})
    wrong_app = await post_envelope(api, "x.txt", envelope(b"x", _ApplicationId="nope"))
    assert (wrong_app.status, wrong_app.body) == (403, {"error": "unauthorized"})
    no_data = await post_envelope(api, "x.txt", orjson.dumps({"_ApplicationId": APP_ID, "_SessionToken": token}))
    assert (no_data.status, no_data.body) == (400, {"code": 130, "error": "Invalid file upload."})
    public = await post_envelope(api, "x.txt", envelope(b"x"))
    assert (public.status, public.body) == (400, {"code": 130, "error": "File upload by public is disabled."})
    html = await post_envelope(api, "x.html", envelope(b"<p>", _SessionToken=token))
    assert html.body == {"code": 130, "error": "File upload of extension html is disabled."}


async def test_envelope_over_the_limit_is_413(api, token):
    api.engine.settings.max_upload_size = 1000
    ok = await post_envelope(api, "fits.bin", envelope(b"a" * 1000, _SessionToken=token))
    assert ok.status == 201
    big = await post_envelope(api, "big.bin", envelope(b"a" * 1001, _SessionToken=token))
    assert (big.status, big.body) == (413, {"error": "request entity too large"})
    huge = await post_envelope(api, "huge.bin", envelope(b"a" * 50_000, _SessionToken=token))
    assert huge.status == 413


# ------------------------------------------------------------------ permissions
async def test_public_upload_refused_by_default(api, files_dir):
    reply = await upload(api, "a.txt", b"x")
    assert (reply.status, reply.body) == (400, {"code": 130, "error": "File upload by public is disabled."})
    assert stored_files(files_dir) == []


async def test_anonymous_user_refused_by_default_and_allowed_by_setting(api):
    anon = await api.post("/users", {"authData": {"anonymous": {"id": str(uuid.uuid4())}}})
    assert anon.status == 201, anon.body
    token = anon.body["sessionToken"]
    reply = await upload(api, "a.txt", b"x", token=token)
    assert (reply.status, reply.body) == (400, {"code": 130, "error": "File upload by anonymous user is disabled."})
    api.engine.settings.file_upload_anonymous = True
    assert (await upload(api, "a.txt", b"x", token=token)).status == 201


async def test_authenticated_upload_can_be_turned_off(api, token):
    api.engine.settings.file_upload_authenticated = False
    reply = await upload(api, "a.txt", b"x", token=token)
    assert (reply.status, reply.body) == (400, {"code": 130, "error": "File upload by authenticated user is disabled."})
    assert (await upload(api, "a.txt", b"x", master=True)).status == 201


async def test_public_upload_setting(api):
    api.engine.settings.file_upload_public = True
    assert (await upload(api, "a.txt", b"x")).status == 201


async def test_bad_session_token_is_209(api):
    reply = await upload(api, "a.txt", b"x", token="r:nope")
    assert (reply.status, reply.body["code"]) == (400, 209)


async def test_read_only_master_key_cannot_upload_or_delete(api, token):
    reply = await upload(api, "a.txt", b"x", headers={"X-Parse-Master-Key": RO_KEY})
    assert (reply.status, reply.body) == (403, {"error": "Permission denied"})
    saved = await upload(api, "a.txt", b"x", token=token)
    gone = await api.delete(f"/files/{saved.body['name']}", headers={"X-Parse-Master-Key": RO_KEY})
    assert (gone.status, gone.body) == (403, {"error": "Permission denied"})


async def test_wrong_app_id_header_is_403(api):
    reply = await api.request("POST", "/files/a.txt", raw=b"x", app_id="other", master=True)
    assert (reply.status, reply.body) == (403, {"error": "unauthorized"})


# ------------------------------------------------------------------ names
@pytest.mark.parametrize("name, message", [
    ("bad%21name.txt", "Filename contains invalid characters."),
    ("..%2F..%2Fetc%2Fpasswd", "Filename contains invalid characters."),
    ("%2Fetc%2Fpasswd", "Filename contains invalid characters."),
    (".htaccess", "Filename contains invalid characters."),
    ("a%0Ab.txt", "Filename contains invalid characters."),
    ("a%00b.txt", "Filename contains invalid characters."),
    ("a%5Cb.txt", "Filename contains invalid characters."),
    ("caf%C3%A9.txt", "Filename contains invalid characters."),
    ("x" * 129, "Filename too long."),
])
async def test_bad_file_names_are_122(api, files_dir, name, message):
    reply = await upload(api, name, b"data", master=True)
    assert (reply.status, reply.body) == (400, {"code": 122, "error": message})
    assert stored_files(files_dir) == []


async def test_longest_allowed_name_is_accepted(api):
    reply = await upload(api, "x" * 124 + ".txt", b"data", master=True)
    assert reply.status == 201


async def test_post_without_a_name_is_122(api):
    for path in ("/files", "/files/"):
        reply = await api.post(path, {}, master=True)
        assert (reply.status, reply.body) == (400, {"code": 122, "error": "Filename not provided."})


async def test_empty_upload_is_130(api, token, files_dir):
    reply = await upload(api, "empty.txt", b"", token=token)
    assert (reply.status, reply.body) == (400, {"code": 130, "error": "Invalid file upload."})
    assert stored_files(files_dir) == []


# ------------------------------------------------------------------ size limit
async def test_size_limit_with_content_length(api, token, files_dir):
    api.engine.settings.max_upload_size = 1000
    assert (await upload(api, "edge.bin", b"a" * 1000, "application/octet-stream", token=token)).status == 201
    reply = await upload(api, "big.bin", b"a" * 1001, "application/octet-stream", token=token)
    assert (reply.status, reply.body) == (413, {"error": "request entity too large"})
    assert len(stored_files(files_dir)) == 1
    assert list((files_dir / ".tmp").iterdir()) == []
    assert len(list((files_dir / ".meta").iterdir())) == 1


async def test_size_limit_while_streaming_leaves_nothing(api, token, files_dir):
    api.engine.settings.max_upload_size = 300_000

    async def body():
        for _ in range(10):
            yield b"z" * 100_000

    async with api.session.post(f"{api.base}/files/stream.bin", data=body(),
                                headers={**api.headers(token=token), "Content-Type": "application/octet-stream"}) as resp:
        assert resp.status == 413
        assert await resp.json() == {"error": "request entity too large"}
    assert stored_files(files_dir) == []
    assert leftovers(files_dir) == []


async def test_stream_mode_over_the_limit_is_130(api, token, files_dir):
    # The SDK's binary upload (X-Parse-Upload-Mode: stream) answers as Parse
    # Server's streaming path: 400, code 130.
    api.engine.settings.max_upload_size = 1000
    stream = {"X-Parse-Upload-Mode": "stream"}
    ok = await upload(api, "fits.bin", b"a" * 1000, "application/octet-stream", token=token, headers=stream)
    assert ok.status == 201
    big = await upload(api, "big.bin", b"a" * 1001, "application/octet-stream", token=token, headers=stream)
    assert (big.status, big.body) == (400, {"code": 130, "error": "File size exceeds maximum allowed: 1000 bytes."})

    async def body():
        for _ in range(3):
            yield b"z" * 600

    async with api.session.post(f"{api.base}/files/chunked.bin", data=body(),
                                headers={**api.headers(token=token), **stream,
                                         "Content-Type": "application/octet-stream"}) as resp:
        assert resp.status == 400
        assert await resp.json() == {"code": 130, "error": "File size exceeds maximum allowed: 1000 bytes."}
    assert len(stored_files(files_dir)) == 1
    assert list((files_dir / ".tmp").iterdir()) == []


async def test_master_can_raise_the_limit_per_request(api, token):
    api.engine.settings.max_upload_size = 10
    header = {"X-Parse-File-Max-Upload-Size": "1kb"}
    assert (await upload(api, "a.bin", b"a" * 500, "application/octet-stream", master=True, headers=header)).status == 201
    refused = await upload(api, "a.bin", b"a" * 5, "application/octet-stream", token=token, headers=header)
    assert (refused.status, refused.body) == (403, {"error": "Permission denied"})


# ------------------------------------------------------------------ type refusals
@pytest.mark.parametrize("name, content_type, ext", [
    ("page.html", "text/plain", "html"),
    ("page.HTM", None, "HTM"),
    ("page.HTML", "text/html", "HTML"),
    ("image.svg", "image/svg+xml", "svg"),
    ("image.SvgZ", None, "SvgZ"),
    ("doc.xhtml", "application/xhtml+xml", "xhtml"),
    ("data.xml", "application/octet-stream", "xml"),
    ("style.xsl", None, "xsl"),
    ("style.xslt", None, "xslt"),
    ("graph.rdf", None, "rdf"),
    ("formula.mathml", None, "mathml"),
    ("evil.png.html", "image/png", "html"),
    ("page", "text/html", "html"),
    ("page", "image/svg+xml", "svg+xml"),
    ("page", "text/html; charset=utf-8", "html"),
    ("feed.weird", "application/xhtml+xml", "xhtml+xml"),
    ("page", "svg", "svg"),
])
async def test_parse_server_9_blocklist(api, token, files_dir, name, content_type, ext):
    reply = await upload(api, name, b"<b>hi</b>", content_type, token=token)
    assert (reply.status, reply.body) == (400, {"code": 130, "error": f"File upload of extension {ext} is disabled."})
    assert stored_files(files_dir) == []


@pytest.mark.parametrize("name, content_type, served", [
    ("script.js", "text/plain", "application/javascript"),
    ("module.txt", "application/javascript", "text/plain"),
    ("picture.png", "text/html", "image/png"),
    ("data.json", None, "application/json"),
    ("evil.html.png", "image/png", "image/png"),
    ("noext", "application/javascript", "application/javascript"),
])
async def test_ordinary_types_are_accepted_and_served_by_extension(api, token, name, content_type, served):
    reply = await upload(api, name, b"x = 1", content_type, token=token)
    assert reply.status == 201, reply.body
    status, _, headers = await fetch(api, reply.body["url"])
    assert (status, headers["Content-Type"]) == (200, served)
    assert headers["X-Content-Type-Options"] == "nosniff"
    if not served.startswith(("image/", "text/plain", "application/json")):
        assert headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("content_type", ["image", "image/", "/png", "text/plain,text/html", "image//svg+xml",
                                          "a b/c"])
async def test_malformed_content_type_without_extension(api, token, files_dir, content_type):
    reply = await upload(api, "noext", b"data", content_type, token=token)
    assert (reply.status, reply.body) == (400, {"code": 130, "error": "Invalid Content-Type."})
    assert stored_files(files_dir) == []


async def test_name_without_extension_gets_one_from_its_type(api, token):
    reply = await upload(api, "noext", b"\x89PNG\r\n\x1a\n....", "application/octet-stream", token=token)
    assert reply.status == 201
    assert NAME.fullmatch(reply.body["name"]).group(1) == "noext.bin"
    photo = await upload(api, "photo", b"\xff\xd8\xff", "image/jpeg", token=token)
    assert NAME.fullmatch(photo.body["name"]).group(1) == "photo.jpeg"
    plain = await upload(api, "readme", b"just <html> text", None, token=token)
    assert plain.status == 201
    status, body, headers = await fetch(api, plain.body["url"])
    assert (status, headers["Content-Type"]) == (200, "application/octet-stream")


async def test_allow_list_setting_as_parse_server(api, token):
    api.engine.settings.file_extensions = ["png", "^jpe?g$"]
    api.engine.files.policy = TypePolicy(api.engine.settings)
    assert (await upload(api, "a.png", b"x", "image/png", token=token)).status == 201
    assert (await upload(api, "a.jpg", b"x", "image/jpeg", token=token)).status == 201
    refused = await upload(api, "a.txt", b"x", token=token)
    assert refused.body == {"code": 130, "error": "File upload of extension txt is disabled."}
    by_type = await upload(api, "noext", b"x", "text/csv", token=token)
    assert by_type.body == {"code": 130, "error": "File upload of extension csv is disabled."}


async def test_star_allows_every_extension(api, token):
    api.engine.settings.file_extensions = ["*"]
    api.engine.files.policy = TypePolicy(api.engine.settings)
    reply = await upload(api, "logo.svg", b"<svg/>", "image/svg+xml", token=token)
    assert reply.status == 201
    _, _, headers = await fetch(api, reply.body["url"])
    # Allowed on purpose, still never rendered inline.
    assert headers["Content-Type"] == "image/svg+xml"
    assert headers["Content-Disposition"].startswith("attachment")
    odd = await upload(api, "noext", b"x", "not a type", token=token)
    assert odd.status == 201


async def test_extra_deny_lists_refuse_more(api, token):
    api.engine.settings.file_denied_extensions = ["js"]
    api.engine.settings.file_denied_types = ["application/x-sh"]
    api.engine.files.policy = TypePolicy(api.engine.settings)
    assert (await upload(api, "a.js.txt", b"x", token=token)).body == {
        "code": 130, "error": "File upload of extension js is disabled."}
    assert (await upload(api, "a.bin", b"x", "application/x-sh", token=token)).body == {
        "code": 130, "error": "File upload of extension x-sh is disabled."}


async def test_master_key_bypasses_type_checks_but_download_is_an_attachment(api):
    reply = await upload(api, "page.html", b"<script>alert(1)</script>", "text/html", master=True)
    assert reply.status == 201
    status, body, headers = await fetch(api, reply.body["url"])
    assert status == 200
    assert headers["Content-Type"] == "text/html"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"] == f'attachment; filename="{reply.body["name"]}"'
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


# ------------------------------------------------------------------ ranges
@pytest.fixture
async def ten_bytes(api, token) -> str:
    return (await upload(api, "digits.txt", b"0123456789", token=token)).body["url"]


@pytest.mark.parametrize("header, body, content_range", [
    ("bytes=0-3", b"0123", "bytes 0-3/10"),
    ("bytes=5-", b"56789", "bytes 5-9/10"),
    ("bytes=-3", b"789", "bytes 7-9/10"),
    ("bytes=-30", b"0123456789", "bytes 0-9/10"),
    ("bytes=8-100", b"89", "bytes 8-9/10"),
    ("bytes=4-4", b"4", "bytes 4-4/10"),
    ("bytes=9-9", b"9", "bytes 9-9/10"),
])
async def test_range_requests(api, ten_bytes, header, body, content_range):
    status, data, headers = await fetch(api, ten_bytes, {"Range": header})
    assert (status, data) == (206, body)
    assert headers["Content-Range"] == content_range
    assert headers["Content-Length"] == str(len(body))
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=100-200", "bytes=5-2", "bytes=abc", "bytes=-",
                                    "bytes=-0", "bytes=1-2-3", "bytes=--1", "bytes=0x10-"])
async def test_unsatisfiable_or_malformed_ranges_are_416(api, ten_bytes, header):
    status, data, headers = await fetch(api, ten_bytes, {"Range": header})
    assert status == 416
    assert headers["Content-Range"] == "bytes */10"


@pytest.mark.parametrize("header", ["items=0-3", "bytes=0-1,4-5", ""])
async def test_other_ranges_get_the_whole_file(api, ten_bytes, header):
    status, data, _ = await fetch(api, ten_bytes, {"Range": header})
    assert (status, data) == (200, b"0123456789")


# ------------------------------------------------------------------ download errors
async def test_missing_file_is_404_text(api):
    status, body, headers = await fetch(api, f"{api.base}/files/{APP_ID}/nothing-here.txt")
    assert (status, body) == (404, b"File not found.")
    assert headers["Content-Type"].startswith("text/plain")


async def test_unknown_app_id_is_403(api, token):
    name = (await upload(api, "a.txt", b"x", token=token)).body["name"]
    status, body, _ = await fetch(api, f"{api.base}/files/other-app/{name}")
    assert (status, orjson.loads(body)) == (403, {"error": "Permission denied"})  # sanitized, as Parse Server 9


@pytest.mark.parametrize("path", ["..%2F..%2Fetc%2Fpasswd", ".meta", ".tmp", "a%2F..%2F..%2Fx",
                                  "..%5C..%5Cwindows"])
async def test_download_names_cannot_escape_the_files_directory(api, files_dir, token, path):
    await upload(api, "a.txt", b"x", token=token)  # makes the folders exist
    (files_dir.parent / "secret.txt").write_text("secret")
    status, body, _ = await fetch(api, f"{api.base}/files/{APP_ID}/{path}")
    assert (status, body) == (404, b"File not found.")


# ------------------------------------------------------------------ delete
async def test_delete_needs_the_master_key(api, token):
    name = (await upload(api, "a.txt", b"x", token=token)).body["name"]
    refused = await api.delete(f"/files/{name}", token=token)
    assert (refused.status, refused.body) == (403, {"error": "Permission denied"})
    assert (await fetch(api, f"{api.base}/files/{APP_ID}/{name}"))[0] == 200


async def test_delete_with_master_key(api, token, files_dir):
    reply = await upload(api, "a.txt", b"x", token=token)
    gone = await api.delete(f"/files/{reply.body['name']}", master=True)
    assert (gone.status, gone.body) == (200, None)
    assert (await fetch(api, reply.body["url"]))[0] == 404
    assert stored_files(files_dir) == []
    assert leftovers(files_dir) == []
    again = await api.delete(f"/files/{reply.body['name']}", master=True)
    assert (again.status, again.body) == (400, {"code": 153, "error": "Could not delete file."})


async def test_delete_of_an_escaping_name_is_153(api, files_dir):
    files_dir.mkdir(parents=True)
    (files_dir.parent / "keep.txt").write_text("keep")
    reply = await api.delete("/files/..%2Fkeep.txt", master=True)
    assert (reply.status, reply.body["code"]) == (400, 153)
    assert (files_dir.parent / "keep.txt").read_text() == "keep"


# ------------------------------------------------------------------ File fields
async def test_file_field_is_stored_by_name_and_url_rebuilt_on_read(api, token):
    name = (await upload(api, "pic.png", b"png", "image/png", token=token)).body["name"]
    created = await api.post("/classes/Product", {"image": {"__type": "File", "name": name,
                                                            "url": "http://old-host.example/files/x"}},
                             master=True)
    assert created.status == 201, created.body
    got = await api.get(f"/classes/Product/{created.body['objectId']}")
    assert got.body["image"] == {"__type": "File", "name": name, "url": f"{api.base}/files/{APP_ID}/{name}"}
    status, body, _ = await fetch(api, got.body["image"]["url"])
    assert (status, body) == (200, b"png")
    if is_sql(api):
        raw = await sql_row(api, "Product", created.body["objectId"])
    else:
        raw = await api.engine.storage.db["Product"].find_one({"_id": created.body["objectId"]})
    assert raw["image"] == name


# ------------------------------------------------------------------ restart
async def test_local_files_survive_a_server_restart(files_dir):
    def fresh():
        return make_settings(files_path=str(files_dir))

    server, session = await start_server(fresh())
    client = Client(session, f"http://127.0.0.1:{server.port}/parse", server)
    try:
        reply = await upload(client, "keep.txt", b"still here", master=True)
        assert reply.status == 201
        name = reply.body["name"]
    finally:
        await session.close()
        await server.close()

    server, session = await start_server(fresh())
    client = Client(session, f"http://127.0.0.1:{server.port}/parse", server)
    try:
        status, body, _ = await fetch(client, f"{client.base}/files/{APP_ID}/{name}")
        assert (status, body) == (200, b"still here")
        meta = await client.get(f"/files/{APP_ID}/metadata/{name}")
        assert meta.body == {"metadata": {}}
    finally:
        await session.close()
        await server.close()


async def test_cors_preflight_on_file_routes(api):
    async with api.session.options(f"{api.base}/files/a.txt", headers={"Origin": "http://app.example"}) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "X-Parse-Session-Token" in resp.headers["Access-Control-Allow-Headers"]


async def test_master_key_header_name(api):
    reply = await api.request("POST", "/files/a.txt", raw=b"x", app_id=APP_ID,
                              headers={"X-Parse-Master-Key": MASTER_KEY, "Content-Type": "text/plain"})
    assert reply.status == 201
