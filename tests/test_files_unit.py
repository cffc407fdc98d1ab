"""Focused tests of the file pieces: name and type rules, byte
ranges, base64 pieces, the local adapter's containment and atomic saves,
the GridFS adapter against a stand-in bucket, and adapter selection."""

from __future__ import annotations

import base64
import types

import pytest
from gridfs import NoFile
from pymongo import AsyncMongoClient

from bapp.config import Settings
from bapp.core import files as core
from bapp.errors import ParseError
from bapp.http.files import parse_range
from bapp.storage.files.base import FileNotFound, FilesConfigError, adapter_kind, build_files_adapter
from bapp.storage.files.gridfs import GridFSFilesAdapter
from bapp.storage.files.local import InvalidStoredName, LocalFilesAdapter, check_name


async def chunks_of(*parts: bytes):
    for part in parts:
        yield part


async def collect(chunks) -> bytes:
    return b"".join([c async for c in chunks])


# ------------------------------------------------------------------ names
@pytest.mark.parametrize("name", ["a.txt", "_x", "A b~c@d-e_f.g", "9", "x" * 128, "a..b"])
def test_valid_names(name):
    assert core.validate_filename(name) == name


@pytest.mark.parametrize("name", ["", ".x", "../x", "a/b", "a\\b", "a\nb", "a\x00", "é.txt", "a:b", "x" * 129,
                                  "a.txt\n", "-x", " x", None, 5])
def test_invalid_names(name):
    with pytest.raises(ParseError) as caught:
        core.validate_filename(name)
    assert caught.value.code == 122


# ------------------------------------------------------------------ types
def test_media_type_strips_parameters_and_case():
    assert core.media_type(" Text/HTML ; charset=utf-8") == "text/html"
    assert core.media_type("") is None
    assert core.media_type(None) is None


@pytest.mark.parametrize("name, ext, has", [("a.txt", "txt", True), ("a", "", False), ("a.", "", True),
                                            ("a.b.c", "c", True)])
def test_extension_like_node(name, ext, has):
    assert core.extension_of(name) == ext
    assert core.has_extension(name) is has


def test_extension_for_content_type():
    assert core.extension_for("image/jpeg") == "jpeg"
    assert core.extension_for("image/png; x=y") == "png"
    assert core.extension_for("application/x-unknown") is None
    assert core.extension_for(None) is None


def test_served_type_and_inline():
    assert core.served_type("x.png", None) == "image/png"
    assert core.served_type("x", "application/x-thing") == "application/x-thing"
    assert core.served_type("x", None) == "application/octet-stream"
    assert core.is_inline("image/png") and core.is_inline("video/mp4") and core.is_inline("text/plain")
    assert not core.is_inline("image/svg+xml")
    assert not core.is_inline("text/html")
    assert not core.is_inline("application/xml")


def policy(**overrides) -> core.TypePolicy:
    return core.TypePolicy(Settings(**overrides))


def refusal(pol: core.TypePolicy, name: str, content_type: str | None) -> str | None:
    try:
        pol.check(name, content_type)
    except ParseError as exc:
        assert exc.code == 130
        return exc.message
    return None


def refused(ext: str) -> str:
    return f"File upload of extension {ext} is disabled."


@pytest.mark.parametrize("name, content_type, expected", [
    ("a.png", "image/png", None),
    ("a.txt", "text/plain; charset=utf-8", None),
    ("a.js", "application/javascript", None),
    ("a.html", None, refused("html")),
    ("a.Html", None, refused("Html")),
    ("a.png", "text/html", None),  # a known extension decides the type
    ("a.unknownext", "application/atom+xml", None),
    ("a.unknownext", "application/xhtml+xml", refused("xhtml+xml")),
    ("a.xsl", None, refused("xsl")),
    ("a.xsd", None, refused("xsd")),
    ("a.rng", None, refused("rng")),
    ("a.owl", None, refused("owl")),
    ("a.svg+xml", None, refused("svg+xml")),
    ("a.json", "application/json", None),
    ("noext", "text/html", refused("html")),
    ("noext", "html", refused("html")),
    ("noext", "image", "Invalid Content-Type."),
    ("noext", "application/vnd.api+json", None),
    ("a.", "image/png", None),
])
def test_default_policy(name, content_type, expected):
    assert refusal(policy(), name, content_type) == expected


def test_allow_list_semantics_follow_parse_server():
    allowed = policy(file_extensions=["^(?!(h|H)(t|T)(m|M)(l|L)?$)"])
    assert refusal(allowed, "a.html", None) == refused("html")
    assert refusal(allowed, "a.png", None) is None
    assert refusal(allowed, "noext", "text/html") == refused("html")
    assert refusal(allowed, "a.svg", None) is None
    assert refusal(policy(file_extensions=["*"]), "a.anything", "bogus") is None
    assert refusal(policy(file_extensions=["[bad"]), "a.png", None) == refused("png")
    assert refusal(policy(file_extensions=[]), "a.png", None) == refused("png")


# ------------------------------------------------------------------ streams
async def test_limit_size_stops_past_the_limit():
    assert await collect(core.limit_size(chunks_of(b"ab", b"cd"), 4)) == b"abcd"
    with pytest.raises(core.FileTooLarge) as caught:
        await collect(core.limit_size(chunks_of(b"ab", b"cde"), 4))
    assert (caught.value.code, caught.value.status) == (130, 400)


async def test_peek_replays_everything():
    head, rest = await core.peek(chunks_of(b"ab", b"cd", b"ef"), 3)
    assert head == b"abc"
    assert await collect(rest) == b"abcdef"
    head, rest = await core.peek(chunks_of(), 3)
    assert head == b"" and await collect(rest) == b""


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 100, core.B64_PIECE, core.B64_PIECE * 3 // 4 + 1, 400_000])
async def test_base64_pieces_decode_exactly(size):
    data = bytes((i * 7) % 256 for i in range(size))
    for text in (base64.b64encode(data).decode(), base64.b64encode(data).decode().rstrip("="),
                 base64.urlsafe_b64encode(data).decode(), "\n".join(base64.encodebytes(data).decode().split())):
        source = core.Base64Source(text)
        assert source.size == size
        assert await collect(source.chunks()) == data


def test_keyword_check():
    core.check_keywords({"a": {"b": [1, {"c": 2}]}})
    for bad in ({"$set": 1}, {"a": {"__proto__": 1}}, {"constructor": 1}, {"x": [{"$gt": 1}]}):
        with pytest.raises(ParseError) as caught:
            core.check_keywords(bad)
        assert caught.value.code == 105


# ------------------------------------------------------------------ ranges
@pytest.mark.parametrize("header, size, expected", [
    (None, 10, None), ("", 10, None), ("items=1-2", 10, None), ("bytes=0-1,3-4", 10, None),
    ("bytes=0-0", 10, (0, 1)), ("bytes=0-", 10, (0, 10)), ("bytes=-1", 10, (9, 10)), ("bytes=3-99", 10, (3, 10)),
    ("Bytes = 2-3", 10, (2, 4)),
    ("bytes=10-", 10, False), ("bytes=-5", 0, False), ("bytes=0-", 0, False), ("bytes=3-2", 10, False),
    ("bytes=x-1", 10, False), ("bytes=-", 10, False), ("bytes=1", 10, False),
    ("bytes=99999999999999999999999-", 10, False),
])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


# ------------------------------------------------------------------ local adapter
NASTY = ["..", ".", "", "../x", "a/../../x", "/etc/passwd", "a\\b", "a\x00b", "a\nb", ".meta", ".tmp",
         "x" * 256, "é" * 128]


@pytest.mark.parametrize("name", NASTY)
def test_local_names_cannot_leave_the_root(tmp_path, name):
    adapter = LocalFilesAdapter(tmp_path / "files")
    with pytest.raises(InvalidStoredName):
        adapter.path_of(name)


def test_every_accepted_name_is_a_direct_child(tmp_path):
    adapter = LocalFilesAdapter(tmp_path / "files")
    for code in range(32, 0x250):
        name = "a" + chr(code) + "b"
        try:
            path = adapter.path_of(name)
        except InvalidStoredName:
            continue
        assert path.parent == adapter.root
    assert check_name("a b.txt") == "a b.txt"


async def test_local_save_open_delete(tmp_path):
    adapter = LocalFilesAdapter(tmp_path / "files")
    size = await adapter.save("n.txt", chunks_of(b"hello ", b"world"), "text/plain", {"k": 1})
    assert size == 11
    info = await adapter.stat("n.txt")
    assert (info.size, info.content_type, info.metadata) == (11, "text/plain", {"k": 1})
    chunks, total, content_type = await adapter.open("n.txt", 6, 9)
    assert (await collect(chunks), total, content_type) == (b"wor", 11, "text/plain")
    assert await adapter.exists("n.txt")
    assert await adapter.delete("n.txt") is True
    assert await adapter.delete("n.txt") is False
    assert await adapter.stat("n.txt") is None
    with pytest.raises(FileNotFound):
        await adapter.open("n.txt")
    assert list((tmp_path / "files" / ".meta").iterdir()) == []


async def test_local_failed_save_leaves_nothing(tmp_path):
    adapter = LocalFilesAdapter(tmp_path / "files")

    async def broken():
        yield b"x" * 2_000_000
        raise core.FileTooLarge(10)

    with pytest.raises(core.FileTooLarge):
        await adapter.save("half.bin", broken(), None)
    root = tmp_path / "files"
    assert sorted(p.name for p in root.iterdir()) == [".meta", ".tmp"]
    assert list((root / ".tmp").iterdir()) == [] and list((root / ".meta").iterdir()) == []


async def test_local_file_without_sidecar_is_served(tmp_path):
    adapter = LocalFilesAdapter(tmp_path / "files")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "manual.txt").write_bytes(b"by hand")
    info = await adapter.stat("manual.txt")
    assert (info.size, info.content_type, info.metadata) == (7, None, {})


async def test_large_local_file_is_read_in_bounded_chunks(tmp_path):
    adapter = LocalFilesAdapter(tmp_path / "files")
    data = bytes(range(256)) * 8192  # 2 MiB
    await adapter.save("big.bin", chunks_of(data[:1_000_000], data[1_000_000:]), None)
    chunks, size, _ = await adapter.open("big.bin")
    sizes = [len(c) async for c in chunks]
    assert sum(sizes) == size == len(data)
    assert max(sizes) <= 256 * 1024


# ------------------------------------------------------------------ GridFS adapter (stand-in bucket)
class FakeGridIn:
    def __init__(self, bucket, name, metadata):
        self.bucket, self.doc, self.data = bucket, {"filename": name, "metadata": metadata}, bytearray()

    async def set(self, key, value):
        self.doc[key] = value

    async def write(self, data):
        self.data += data

    async def close(self):
        self.bucket.counter += 1
        self.bucket.docs.append({**self.doc, "length": len(self.data), "uploadDate": self.bucket.counter,
                                 "_data": bytes(self.data)})

    async def abort(self):
        self.bucket.aborted += 1


class FakeGridOut:
    def __init__(self, doc, chunk=4):
        self.doc, self.pos, self.chunk, self.closed = doc, 0, chunk, False
        self.length = doc["length"]

    def __getattr__(self, name):
        if name in self.doc:
            return self.doc[name]
        raise AttributeError(name)

    async def seek(self, pos):
        self.pos = pos

    async def readchunk(self):
        end = (self.pos // self.chunk + 1) * self.chunk
        data = self.doc["_data"][self.pos:end]
        self.pos += len(data)
        return data

    async def close(self):
        self.closed = True


class FakeFiles:
    def __init__(self, bucket):
        self.bucket = bucket

    async def find_one(self, query, sort=None):
        found = [d for d in self.bucket.docs if d["filename"] == query["filename"]]
        return max(found, key=lambda d: d["uploadDate"]) if found else None


class FakeBucket:
    def __init__(self):
        self.docs, self.counter, self.aborted, self.outs = [], 0, 0, []
        self.files = FakeFiles(self)

    def open_upload_stream(self, name, metadata=None):
        return FakeGridIn(self, name, metadata)

    async def open_download_stream_by_name(self, name):
        doc = await self.files.find_one({"filename": name})
        if doc is None:
            raise NoFile(name)
        out = FakeGridOut(doc)
        self.outs.append(out)
        return out

    async def delete_by_name(self, name):
        before = len(self.docs)
        self.docs = [d for d in self.docs if d["filename"] != name]
        if len(self.docs) == before:
            raise NoFile(name)


async def test_gridfs_adapter_round_trip_and_ranges():
    bucket = FakeBucket()
    adapter = GridFSFilesAdapter(None, bucket=bucket)
    assert await adapter.save("g.txt", chunks_of(b"0123", b"456789"), "text/plain", {"a": 1}) == 10
    info = await adapter.stat("g.txt")
    assert (info.size, info.content_type, info.metadata) == (10, "text/plain", {"a": 1})
    chunks, size, content_type = await adapter.open("g.txt", 3, 9)
    assert (await collect(chunks), size, content_type) == (b"345678", 10, "text/plain")
    assert bucket.outs[-1].closed
    assert await adapter.delete("g.txt") is True
    assert await adapter.delete("g.txt") is False
    assert not await adapter.exists("g.txt")
    with pytest.raises(FileNotFound):
        await adapter.open("g.txt")


async def test_gridfs_failed_save_aborts():
    bucket = FakeBucket()
    adapter = GridFSFilesAdapter(None, bucket=bucket)

    async def broken():
        yield b"abc"
        raise core.FileTooLarge(1)

    with pytest.raises(core.FileTooLarge):
        await adapter.save("g.txt", broken(), None)
    assert (bucket.aborted, bucket.docs) == (1, [])


def test_gridfs_adapter_builds_on_a_real_async_database():
    client = AsyncMongoClient("mongodb://127.0.0.1:1", connect=False)
    adapter = GridFSFilesAdapter(client["app"])
    assert adapter.files.full_name == "app.fs.files"
    assert type(adapter.bucket).__name__ == "AsyncGridFSBucket"


# ------------------------------------------------------------------ selection
def test_adapter_selection():
    assert adapter_kind(Settings()) == "local"
    assert adapter_kind(Settings(database_uri="mongodb://h/db")) == "gridfs"
    assert adapter_kind(Settings(database_uri="mongodb://h/db", files_adapter="local")) == "local"
    assert adapter_kind(Settings(files_adapter="LOCAL")) == "local"
    with pytest.raises(FilesConfigError):
        adapter_kind(Settings(files_adapter="gridfs"))
    with pytest.raises(FilesConfigError):
        adapter_kind(Settings(files_adapter="s3"))


def test_build_files_adapter(tmp_path):
    local = build_files_adapter(Settings(files_path=str(tmp_path / "f")), None)
    assert isinstance(local, LocalFilesAdapter) and local.root == (tmp_path / "f").resolve()
    storage = types.SimpleNamespace(db=AsyncMongoClient("mongodb://127.0.0.1:1", connect=False)["parse"])
    grid = build_files_adapter(Settings(database_uri="mongodb://127.0.0.1:1/parse"), storage)
    assert isinstance(grid, GridFSFilesAdapter)
    assert grid.files.full_name == "parse.fs.files"
