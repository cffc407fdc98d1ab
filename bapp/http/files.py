"""The files API: ``POST /files/:name``, ``GET /files/:appId/:name``,
``GET /files/:appId/metadata/:name`` and ``DELETE /files/:name``.

These are plain aiohttp routes, registered ahead of the generic dispatcher,
because uploads and downloads stream: a raw upload goes from the socket to
the files adapter in chunks, and a download from the adapter to the socket.
Only the JS SDK's JSON envelope (base64 inside a text/plain body) is read
whole, and never past the size limit."""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import orjson
from aiohttp import web

from bapp import errors
from bapp.config import parse_size
from bapp.core import files as core_files
from bapp.core.auth import Auth
from bapp.core.engine import Engine
from bapp.core.files import FileTooLarge, Upload
from bapp.errors import HTTPError, ParseError, master_key_required, unauthorized
from bapp.http import envelope
from bapp.http.app import CORS_HEADERS, ENGINE_KEY
from bapp.storage.files.base import CHUNK_SIZE, FileNotFound

log = logging.getLogger("bapp.http.files")

ENVELOPE_SLACK = 64 * 1024  # room for the JSON around the base64 text
SMALL_BODY = 64 * 1024  # what a delete's envelope may weigh
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def register(app: web.Application, mount: str) -> None:
    """Adds the file routes under ``mount`` (call before the catch-all)."""
    app.router.add_post(mount + "/files", no_filename)
    app.router.add_post(mount + "/files/", no_filename)
    app.router.add_post(mount + "/files/{filename}", upload)
    app.router.add_get(mount + "/files/{app_id}/metadata/{filename:.+}", metadata)
    app.router.add_get(mount + "/files/{app_id}/{filename:.+}", download)
    app.router.add_delete(mount + "/files/{filename:.+}", delete)


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE_KEY]


def _mount_url(request: web.Request) -> str:
    return _engine(request).settings.mount_url(f"{request.scheme}://{request.host}")


def _uses_envelope(request: web.Request) -> bool:
    """Parse Server reads credentials from the body only when neither the
    app-id header nor HTTP Basic auth carries them."""
    if request.headers.get("X-Parse-Application-Id") is not None:
        return False
    return not request.headers.get("Authorization", "").lower().startswith("basic ")


async def read_limited(request: web.Request, limit: int, too_large: Exception) -> bytearray:
    """The request body, refused with ``too_large`` once it passes ``limit``."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large
    if declared is not None:
        # Filled in place: no growth copies of a large envelope.
        body = bytearray(declared)
        view = memoryview(body)
        filled = 0
        async for chunk in request.content.iter_chunked(CHUNK_SIZE):
            if filled + len(chunk) > declared:
                raise too_large
            view[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
        view.release()
        del body[filled:]
        return body
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK_SIZE):
        body += chunk
        if len(body) > limit:
            raise too_large
    return body


async def _authenticate(request: web.Request, body: object) -> tuple[Auth, envelope.Credentials, object]:
    engine = _engine(request)
    creds, rest = envelope.read_credentials(request, body)
    auth = await envelope.authenticate(engine, creds, request, request.path)
    return auth, creds, rest


def _json_header(request: web.Request, name: str) -> dict:
    raw = request.headers.get(name)
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ParseError(errors.INVALID_JSON, f"Invalid JSON in {name} header.")
    return value


def _max_size_override(request: web.Request, auth: Auth) -> int | None:
    """``X-Parse-File-Max-Upload-Size``: a master-key-only per-request limit."""
    raw = request.headers.get("X-Parse-File-Max-Upload-Size")
    if not raw:
        return None
    if not auth.master:
        raise master_key_required()
    try:
        return parse_size(raw)
    except ValueError:
        raise ParseError(errors.FILE_SAVE_ERROR, f"Invalid maxUploadSize override value: {raw}") from None


def _check_directory(request: web.Request, auth: Auth, file_data: dict) -> None:
    directory = request.headers.get("X-Parse-File-Directory") or file_data.get("directory")
    if directory is None:
        return
    if not auth.master:
        raise ParseError(errors.OPERATION_FORBIDDEN, "Directory can only be set using the Master Key.")
    # Deliberate deviation: stored names are single path components here.
    raise ParseError(errors.INVALID_FILE_NAME, "File directories are not supported.")


# ------------------------------------------------------------------ upload
async def no_filename(request: web.Request) -> web.StreamResponse:
    raise ParseError(errors.INVALID_FILE_NAME, "Filename not provided.")


def stream_mode(request: web.Request) -> bool:
    """The SDK's binary upload (``X-Parse-Upload-Mode: stream``)."""
    return request.headers.get("X-Parse-Upload-Mode") == "stream"


async def upload(request: web.Request) -> web.StreamResponse:
    engine = _engine(request)
    filename = request.match_info["filename"]
    try:
        if _uses_envelope(request) and not stream_mode(request):
            auth, job = await _envelope_upload(request, engine, filename)
        else:
            auth, job = await _raw_upload(request, filename)
        result = await engine.files.create(auth, job, _mount_url(request))
    except FileTooLarge:
        # Read what the client still sends (as Parse Server resumes the
        # request) so it gets the answer instead of a reset connection.
        await _drain(request, engine.settings.max_upload_size * 2 + ENVELOPE_SLACK)
        if stream_mode(request):
            raise  # 400, code 130 "File size exceeds maximum allowed: N bytes."
        # Parse Server buffers other uploads with a body-size limit, whose
        # refusal is a plain 413. Both modes stream here.
        raise HTTPError(413, "request entity too large") from None
    return envelope.json_response(result, 201, {"Location": result["url"]})


async def _drain(request: web.Request, budget: int) -> None:
    """Discards the rest of the body, at most ``budget`` bytes (beyond
    that the connection is closed after the answer)."""
    try:
        while budget > 0:
            chunk = await request.content.read(min(CHUNK_SIZE, budget))
            if not chunk:
                return
            budget -= len(chunk)
    except (ConnectionError, OSError):
        return


async def _raw_upload(request: web.Request, filename: str) -> tuple[Auth, Upload]:
    auth, _, _ = await _authenticate(request, None)
    _check_directory(request, auth, {})
    job = Upload(
        filename=filename,
        chunks=request.content.iter_chunked(CHUNK_SIZE),
        content_type=request.headers.get("Content-Type"),
        length=request.content_length,
        metadata=_json_header(request, "X-Parse-File-Metadata"),
        tags=_json_header(request, "X-Parse-File-Tags"),
        max_size=_max_size_override(request, auth),
    )
    return auth, job


async def _read_envelope(request: web.Request, limit: int) -> dict:
    """The envelope's JSON, read without holding more than two copies of it."""
    envelope_limit = math.ceil(limit / 3) * 4 + ENVELOPE_SLACK
    raw = await read_limited(request, envelope_limit, FileTooLarge(limit))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    del raw  # the body is held once as bytes, then once as text
    try:
        # The standard parser: orjson's working memory reaches about 12x a
        # large string's size.
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise unauthorized()  # no credentials anywhere, as Parse Server answers
    return body


async def _envelope_upload(request: web.Request, engine: Engine, filename: str) -> tuple[Auth, Upload]:
    """The JS SDK's ``{"base64", "_ContentType", "fileData", "_ApplicationId", ...}``.
    The body is buffered (bounded by the size limit), the base64 decoded in
    pieces as the adapter consumes it."""
    body = await _read_envelope(request, engine.settings.max_upload_size)
    auth, creds, body = await _authenticate(request, body)
    body = body if isinstance(body, dict) else {}
    file_data = body.get("fileData")
    file_data = file_data if isinstance(file_data, dict) else {}
    _check_directory(request, auth, file_data)
    encoded = body.pop("base64", None)
    if not isinstance(encoded, str):
        raise ParseError(errors.FILE_SAVE_ERROR, "Invalid file upload.")
    source = core_files.Base64Source(encoded)
    del encoded
    metadata = file_data.get("metadata")
    tags = file_data.get("tags")
    job = Upload(
        filename=filename,
        chunks=source.chunks(),
        content_type=creds.content_type or request.headers.get("Content-Type"),
        length=source.size,
        metadata=metadata if isinstance(metadata, dict) else {},
        tags=tags if isinstance(tags, dict) else {},
    )
    return auth, job


# ------------------------------------------------------------------ download
def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """``(start, end_exclusive)`` for a satisfiable single byte range, None
    when the whole file should be sent (no Range, another unit, several
    ranges) and False when the range is malformed or unsatisfiable."""
    if not header:
        return None
    header = "".join(header.split()).lower()
    if not header.startswith("bytes="):
        return None
    if "," in header:
        return None  # multipart ranges are not offered: the full body is a valid answer
    match = _RANGE.fullmatch(header)
    if not match:
        return False
    first, last = match.groups()
    if not first and not last:
        return False
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(size - length, 0), size
    start = int(first)
    if start >= size:
        return False
    if not last:
        return start, size
    end = int(last)
    if end < start:
        return False
    return start, min(end, size - 1) + 1


def _cors(request: web.Request) -> dict[str, str]:
    origin = _engine(request).settings.allow_origin or "*"
    return {"Access-Control-Allow-Origin": origin, **CORS_HEADERS,
            "Access-Control-Expose-Headers": "Content-Range, Content-Length, Accept-Ranges"}


def _not_found(request: web.Request) -> web.Response:
    return web.Response(status=404, text="File not found.", content_type="text/plain",
                        headers={**_cors(request), "X-Content-Type-Options": "nosniff"})


def _disposition(name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9@. ~_-]+", name):
        return f'attachment; filename="{name}"'
    return f"attachment; filename*=UTF-8''{quote(name, safe='')}"


def _headers(request: web.Request, name: str, stored_type: str | None) -> dict[str, str]:
    content_type = core_files.served_type(name, stored_type)
    headers = {**_cors(request), "Content-Type": content_type, "X-Content-Type-Options": "nosniff",
               "Accept-Ranges": "bytes"}
    if not core_files.is_inline(content_type):
        # Safer than Parse Server: a type a browser could run is never rendered inline.
        headers["Content-Disposition"] = _disposition(name)
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return headers


def _known_app(request: web.Request) -> bool:
    given = request.match_info["app_id"].encode()
    return hmac.compare_digest(given, _engine(request).settings.app_id.encode())


def _check_app(request: web.Request) -> None:
    if not _known_app(request):
        raise HTTPError(403, "Invalid application ID.", sanitized=True)


async def download(request: web.Request) -> web.StreamResponse:
    _check_app(request)
    files = _engine(request).files
    name = request.match_info["filename"]
    info = await files.stat(name)
    if info is None:
        return _not_found(request)
    headers = _headers(request, name, info.content_type)
    wanted = parse_range(request.headers.get("Range"), info.size)
    if wanted is False:
        return web.Response(status=416, headers={**_cors(request), "Content-Range": f"bytes */{info.size}",
                                                 "X-Content-Type-Options": "nosniff"})
    start, stop = wanted if wanted else (0, info.size)
    try:
        chunks, size, _ = await files.open(name, start, stop)
    except FileNotFound:
        return _not_found(request)
    response = web.StreamResponse(status=206 if wanted else 200, headers=headers)
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    response.content_length = stop - start
    await response.prepare(request)
    if request.method != "HEAD":
        await _stream(request, response, chunks)
    else:
        await _close(chunks)
    return response


async def _stream(request: web.Request, response: web.StreamResponse, chunks: AsyncIterator[bytes]) -> None:
    """Copies chunks to the client; a storage failure after the headers went
    out can only cut the connection (the length no longer adds up)."""
    try:
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    except (ConnectionError, OSError) as exc:
        log.debug("download of %s ended early: %s", request.path, exc)
        _drop(request)
    except Exception:
        log.exception("download of %s failed while streaming", request.path)
        _drop(request)
    finally:
        await _close(chunks)


async def _close(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


async def metadata(request: web.Request) -> web.StreamResponse:
    engine = _engine(request)
    if not _known_app(request):
        return envelope.json_response({})  # as Parse Server answers an unknown app here
    return envelope.json_response(await engine.files.metadata(request.match_info["filename"]))


# ------------------------------------------------------------------ delete
async def delete(request: web.Request) -> web.StreamResponse:
    engine = _engine(request)
    body = None
    if _uses_envelope(request) and request.can_read_body:
        raw = await read_limited(request, SMALL_BODY, unauthorized())
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            raise unauthorized() from None
    auth, _, _ = await _authenticate(request, body)
    await engine.files.delete(auth, request.match_info["filename"], _mount_url(request))
    return web.Response(status=200, headers=_cors(request))
