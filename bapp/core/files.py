"""The file service: who may upload, which names and types are acceptable,
the file hooks, and the stored names clients get back.

Parse Server 9's rules are followed: names, error codes, upload
permissions, the ``fileUpload.fileExtensions`` check (by default every
extension but HTML, SVG, XML and their relatives), ``<32 hex>_<name>``
stored names, an extension added from the content type and a stored type
that follows a known extension. Bytes flow as async chunk iterators from
the transport to the adapter, with the size limit enforced while they
flow."""

from __future__ import annotations

import base64
import binascii
import fnmatch
import inspect
import logging
import mimetypes
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bapp import errors
from bapp.core.triggers import Registered, call_hook
from bapp.errors import HTTPError, ParseError, master_key_required
from bapp.storage.files.base import FileNotFound, FilesAdapter, StoredFile

if TYPE_CHECKING:
    from bapp.config import Settings
    from bapp.core.auth import Auth
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.files")

FILE_CLASS = "@File"  # the registry key Parse uses for Parse.File triggers
MAX_NAME_LENGTH = 128
_NAME = re.compile(r"[_a-zA-Z0-9][a-zA-Z0-9@. ~_-]*")

# Parse Server 9's default ``fileUpload.fileExtensions``: every extension
# except HTML, SVG, XML and their relatives (``svg+xml``, ``xhtml``, ``xsl``,
# ``mathml``, ...), matched without regard to letter case.
_XML = r"(\+[xX][mM][lL])?"
DEFAULT_FILE_EXTENSIONS = (
    r"^(?!([xXsS]?[hH][tT][mM][lL]?" + _XML + r"|[xX][hH][tT]|[sS][vV][gG]([zZ]|\+[xX][mM][lL])?|[xX][mM][lL]"
    r"|[xX][sS][lL][tT]?" + _XML + r"|[xX][sS][dD]|[rR][nN][gG]|[rR][dD][fF]" + _XML + r"|[oO][wW][lL]"
    r"|[mM][aA][tT][hH][mM][lL]" + _XML + r")$)",
)
# A media type token (RFC 9110), as Parse Server checks a Content-Type.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~A-Za-z0-9]+")
# Served inline; anything else is sent as an attachment.
_INLINE_TYPES = ("text/plain", "text/csv", "application/pdf", "application/json", "application/octet-stream")
_INLINE_FAMILIES = ("image/", "audio/", "video/")

_MIME = mimetypes.MimeTypes()  # the built-in table only: the same on every machine
for _type, _ext in (("image/webp", ".webp"), ("text/markdown", ".md"), ("video/webm", ".webm"),
                    ("audio/ogg", ".ogg"), ("audio/mp4", ".m4a"), ("video/quicktime", ".mov"),
                    ("application/zip", ".zip"), ("audio/wav", ".wav"), ("font/woff", ".woff"),
                    ("font/woff2", ".woff2"), ("video/mp2t", ".ts"), ("application/epub+zip", ".epub")):
    _MIME.add_type(_type, _ext)
_PREFERRED_EXTENSION = {"image/jpeg": "jpeg"}  # what Parse Server's mime table answers


class FileTooLarge(ParseError):
    """Over ``max_upload_size``: code 130, as Parse Server's stream-mode
    upload answers (the transport answers a buffered upload's 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(errors.FILE_SAVE_ERROR, f"File size exceeds maximum allowed: {limit} bytes.")


@dataclass
class FileInfo:
    """The file a hook sees as ``req.file``. Before a save ``name`` is the
    client's name and ``url`` is None; a beforeSave hook may change name,
    content type or metadata, or return a file that has a ``url`` (already
    stored elsewhere: nothing is uploaded)."""

    name: str
    url: str | None = None
    content_type: str | None = None
    size: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"__type": "File", "name": self.name}
        if self.url:
            out["url"] = self.url
        return out


# ------------------------------------------------------------------ names and types
def validate_filename(name: Any) -> str:
    """The client's file name if Parse Server would accept it, else 122.
    The allowed alphabet has no separator or control character and a name
    cannot start with a dot, so no accepted name can address a path."""
    if not isinstance(name, str) or not name:
        raise ParseError(errors.INVALID_FILE_NAME, "Filename not provided.")
    if len(name) > MAX_NAME_LENGTH:
        raise ParseError(errors.INVALID_FILE_NAME, "Filename too long.")
    if not _NAME.fullmatch(name):
        raise ParseError(errors.INVALID_FILE_NAME, "Filename contains invalid characters.")
    return name


def media_type(content_type: str | None) -> str | None:
    """``text/html; charset=utf-8`` -> ``text/html`` (lower case, no spaces)."""
    if not content_type:
        return None
    base = re.sub(r"\s+", "", content_type.split(";", 1)[0]).lower()
    return base or None


def extension_of(name: str) -> str:
    """The last extension as Node's ``path.extname`` sees it, without the dot
    (``"a."`` has the empty extension, ``"a"`` has none: both give "")."""
    stem = name.rsplit("/", 1)[-1]
    dot = stem.rfind(".")
    return stem[dot + 1:] if dot > 0 else ""


def has_extension(name: str) -> bool:
    return name.rfind(".") > 0


def extension_for(content_type: str | None) -> str | None:
    base = media_type(content_type)
    if not base:
        return None
    if base in _PREFERRED_EXTENSION:
        return _PREFERRED_EXTENSION[base]
    ext = _MIME.guess_extension(base)
    return ext[1:] if ext else None


def type_for(name: str) -> str | None:
    return _MIME.guess_type(name, strict=False)[0]


def served_type(name: str, stored_type: str | None) -> str:
    """The Content-Type of a download: from the name as Parse Server does,
    then the type given at upload, then plain bytes."""
    return type_for(name) or media_type(stored_type) or "application/octet-stream"


def is_inline(content_type: str) -> bool:
    base = media_type(content_type) or ""
    if base == "image/svg+xml":
        return False
    return base in _INLINE_TYPES or base.startswith(_INLINE_FAMILIES)


class TypePolicy:
    """Parse Server 9's ``fileUpload.fileExtensions`` check: the extension
    of the name (or, when the name has none the type table knows, the
    Content-Type's subtype) must match one of the patterns. Optional extra
    deny lists (``file_denied_extensions``/``file_denied_types``) refuse
    more, checked on every dotted part of the name."""

    def __init__(self, settings: Settings) -> None:
        configured = settings.file_extensions
        self.allowed = list(DEFAULT_FILE_EXTENSIONS if configured is None else configured)
        self.denied_extensions = {e.lower().lstrip(".") for e in settings.file_denied_extensions or ()}
        self.denied_types = [t.lower() for t in settings.file_denied_types or ()]

    def valid(self, ext: str) -> bool:
        for pattern in self.allowed:
            if pattern == "*":
                return True
            try:
                if re.search(pattern, ext):
                    return True
            except re.error:
                continue  # Parse Server fails on a broken pattern; here it matches nothing
        return False

    def check(self, name: str, content_type: str | None) -> None:
        """Raises Parse Server's 130 for a refused upload."""
        ext = _parse_extension(name)
        if ext and not self.valid(ext):
            raise refuse_type(ext)
        recognized = bool(ext) and type_for(name) is not None
        if not recognized and content_type and "*" not in self.allowed:
            self._check_content_type(content_type)
        self._check_deny_lists(name, content_type)

    def _check_content_type(self, content_type: str) -> None:
        # The type a file without a known extension is served as.
        slash = content_type.find("/")
        kind = content_type[:slash].strip() if slash > 0 else ""
        subtype = content_type[slash + 1:].split(";", 1)[0].strip() if slash > 0 else ""
        if not _TOKEN.fullmatch(kind) or not _TOKEN.fullmatch(subtype):
            bare = re.sub(r"\s+", "", content_type.split(";", 1)[0] if slash < 0 else kind)
            if bare and not self.valid(bare):
                raise refuse_type(bare)
            raise ParseError(errors.FILE_SAVE_ERROR, "Invalid Content-Type.")
        subtype = re.sub(r"\s+", "", subtype)
        if not self.valid(subtype):
            raise refuse_type(subtype)

    def _check_deny_lists(self, name: str, content_type: str | None) -> None:
        for part in name.split(".")[1:]:
            part = part.strip().lower()
            if part in self.denied_extensions:
                raise refuse_type(part)
        base = media_type(content_type)
        if base and any(fnmatch.fnmatchcase(base, pattern) for pattern in self.denied_types):
            raise refuse_type(base.split("/", 1)[-1])


def _parse_extension(name: str) -> str:
    """The text after the name's last dot, MIME parameters and whitespace
    removed, letter case kept (the refusal message shows it as sent)."""
    if "." not in name:
        return ""
    return re.sub(r"\s+", "", name[name.rfind(".") + 1:].split(";", 1)[0])


def refuse_type(ext: str) -> ParseError:
    return ParseError(errors.FILE_SAVE_ERROR, f"File upload of extension {ext} is disabled.")


# ------------------------------------------------------------------ byte streams
async def limit_size(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """Passes chunks through and stops with FileTooLarge as soon as their
    total exceeds ``limit``: nothing past the limit is ever held."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise FileTooLarge(limit)
        yield chunk


async def peek(chunks: AsyncIterator[bytes], want: int) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first ``want`` bytes (fewer at the end of the data) and an
    iterator that still yields everything from the start."""
    source = chunks.__aiter__()
    head = bytearray()
    while len(head) < want:
        try:
            head += await source.__anext__()
        except StopAsyncIteration:
            break

    async def replay() -> AsyncIterator[bytes]:
        if head:
            yield bytes(head)
        async for chunk in source:
            yield chunk

    return bytes(head[:want]), replay()


_B64_CLEAN = re.compile(r"[A-Za-z0-9+/]*")
_B64_URLSAFE = str.maketrans("-_", "+/")
B64_PIECE = 4 * 65536  # characters per decoded piece (a multiple of 4)


class Base64Source:
    """Base64 text read as Node's lenient decoder reads it (URL-safe letters
    accepted, characters outside the alphabet ignored, padding optional),
    decoded a piece at a time. Clean text, the usual case, is never copied."""

    def __init__(self, text: str) -> None:
        end = len(text)
        while end and text[end - 1] == "=":
            end -= 1
        if not _B64_CLEAN.fullmatch(text, 0, end):
            text = re.sub(r"[^A-Za-z0-9+/]", "", text.translate(_B64_URLSAFE))
            end = len(text)
        if end % 4 == 1:
            end -= 1
        self.text = text
        self.end = end

    @property
    def size(self) -> int:
        """The decoded byte count."""
        return self.end * 3 // 4

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, self.end, B64_PIECE):
            piece = self.text[start:min(start + B64_PIECE, self.end)]
            try:
                yield base64.b64decode(piece + "=" * (-len(piece) % 4))
            except (binascii.Error, ValueError):
                raise ParseError(errors.FILE_SAVE_ERROR, "Invalid file upload.") from None


def check_keywords(value: Any, depth: int = 0) -> None:
    """Refuses metadata keys that are unsafe to store (``$``-operators) or
    that Parse Server's keyword deny-list refuses, and absurd nesting."""
    if depth > 32:
        raise ParseError(errors.INVALID_KEY_NAME, "Prohibited keyword in request data: nesting too deep.")
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str) or key.startswith("$") or key in ("__proto__", "constructor") \
                    or (key == "_bsontype" and inner == "Code"):
                raise ParseError(errors.INVALID_KEY_NAME, f"Prohibited keyword in request data: {key!r}.")
            check_keywords(inner, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            check_keywords(inner, depth + 1)


# ------------------------------------------------------------------ the service
@dataclass
class Upload:
    """One upload as the transport delivers it."""

    filename: str
    chunks: AsyncIterator[bytes]
    content_type: str | None = None
    length: int | None = None  # declared size, when known in advance
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    max_size: int | None = None  # a master-key override of max_upload_size


class FileService:
    """Upload, read and delete, with Parse Server's rules; ``engine.files``."""

    def __init__(self, engine: Engine, adapter: FilesAdapter) -> None:
        self.engine = engine
        self.adapter = adapter
        self.policy = TypePolicy(engine.settings)

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def url(self, name: str, mount_url: str | None = None) -> str:
        mount = (mount_url or self.settings.mount_url()).rstrip("/")
        return f"{mount}/files/{self.settings.app_id}/{quote(name, safe='')}"

    # ------------------------------------------------------------ upload
    def check_upload_allowed(self, auth: Auth) -> None:
        """Parse Server 5+'s fileUpload options; the master key bypasses them."""
        if auth.read_only:
            raise HTTPError(403, "read-only masterKey isn't allowed to create a file.", sanitized=True)
        if auth.master:
            return
        settings = self.settings
        user = auth.user
        auth_data = user.get("authData") if user else None
        anonymous = isinstance(auth_data, dict) and bool(auth_data.get("anonymous"))
        if anonymous and not settings.file_upload_anonymous:
            raise ParseError(errors.FILE_SAVE_ERROR, "File upload by anonymous user is disabled.")
        if user and not anonymous and not settings.file_upload_authenticated:
            raise ParseError(errors.FILE_SAVE_ERROR, "File upload by authenticated user is disabled.")
        if not user and not settings.file_upload_public:
            raise ParseError(errors.FILE_SAVE_ERROR, "File upload by public is disabled.")

    async def create(self, auth: Auth, upload: Upload, mount_url: str | None = None) -> dict:
        """Stores an upload; returns ``{"url", "name"}`` (Parse's 201 body)."""
        self.check_upload_allowed(auth)
        validate_filename(upload.filename)
        check_keywords(upload.metadata)
        check_keywords(upload.tags)
        if not auth.master:
            self.policy.check(upload.filename, upload.content_type)
        limit = upload.max_size if upload.max_size is not None else self.settings.max_upload_size
        if upload.length is not None and upload.length > limit:
            raise FileTooLarge(limit)
        head, chunks = await peek(limit_size(upload.chunks, limit), 1)
        if not head:
            raise ParseError(errors.FILE_SAVE_ERROR, "Invalid file upload.")
        info = FileInfo(upload.filename, content_type=upload.content_type, size=upload.length,
                        metadata=dict(upload.metadata), tags=dict(upload.tags))
        info, stored = await self._before_save(auth, info)
        if not stored:
            info = await self._store(info, chunks, mount_url)
        await self._run_hook("afterSave", auth, info, errors.FILE_SAVE_ERROR,
                             f"Could not store file: {info.name}.")
        return {"url": info.url, "name": info.name}

    async def _before_save(self, auth: Auth, info: FileInfo) -> tuple[FileInfo, bool]:
        result = await self._run_hook("beforeSave", auth, info, errors.FILE_SAVE_ERROR,
                                      f"Could not store file: {info.name}.")
        if isinstance(result, FileInfo):
            info = result
        elif isinstance(result, dict) and result.get("__type") == "File" and isinstance(result.get("name"), str):
            info = replace(info, name=result["name"], url=result.get("url"))
        if info.url:  # already stored somewhere: nothing to upload, size unknown
            return replace(info, size=None), True
        validate_filename(info.name)
        check_keywords(info.metadata)
        return info, False

    async def _store(self, info: FileInfo, chunks: AsyncIterator[bytes], mount_url: str | None) -> FileInfo:
        name = info.name
        content_type = info.content_type
        ext = extension_for(content_type)
        if not has_extension(name) and ext:
            name = f"{name}.{ext}"
        elif has_extension(name) and type_for(name):
            # Parse Server 9: a known extension decides the stored type, not
            # the type the client declared.
            content_type = type_for(name)
        stored = f"{secrets.token_hex(16)}_{name}"
        try:
            size = await self.adapter.save(stored, chunks, content_type, info.metadata)
        except ParseError:
            raise
        except Exception:
            log.exception("storing file %s failed", stored)
            raise ParseError(errors.FILE_SAVE_ERROR, f"Could not store file: {info.name}.") from None
        return replace(info, name=stored, url=self.url(stored, mount_url), size=size, content_type=content_type)

    # ------------------------------------------------------------ read
    async def stat(self, name: str) -> StoredFile | None:
        return await self.adapter.stat(name)

    async def open(self, name: str, start: int = 0,
                   end: int | None = None) -> tuple[AsyncIterator[bytes], int, str | None]:
        return await self.adapter.open(name, start, end)

    async def metadata(self, name: str) -> dict:
        """Parse Server's metadata answer: ``{"metadata": {...}}`` or ``{}``."""
        try:
            info = await self.adapter.stat(name)
        except FileNotFound:
            return {}
        return {"metadata": info.metadata} if info is not None else {}

    # ------------------------------------------------------------ delete
    async def delete(self, auth: Auth, name: str, mount_url: str | None = None) -> None:
        if not auth.master:
            raise master_key_required()
        if auth.read_only:
            raise HTTPError(403, "read-only masterKey isn't allowed to delete a file.", sanitized=True)
        info = FileInfo(name, url=self.url(name, mount_url))
        await self._run_hook("beforeDelete", auth, info, errors.FILE_DELETE_ERROR, "Could not delete file.")
        try:
            deleted = await self.adapter.delete(name)
        except Exception:
            log.exception("deleting file %s failed", name)
            deleted = False
        if not deleted:
            raise ParseError(errors.FILE_DELETE_ERROR, "Could not delete file.")
        await self._run_hook("afterDelete", auth, info, errors.FILE_DELETE_ERROR, "Could not delete file.")

    # ------------------------------------------------------------ hooks
    def find_hook(self, trigger: str) -> tuple[str, Registered] | None:
        """A file hook under Parse 7+'s key (``beforeSave`` on ``@File``) or
        the older ``beforeSaveFile`` name."""
        legacy = trigger + "File"
        registry = self.engine.triggers
        for name, class_name in ((legacy, FILE_CLASS), (trigger, FILE_CLASS)):
            hook = registry.trigger(name, class_name)
            if hook is not None:
                return name, hook
        return None

    async def _run_hook(self, trigger: str, auth: Auth, info: FileInfo, code: int, message: str) -> Any:
        found = self.find_hook(trigger)
        if found is None:
            return None
        name, hook = found
        req = self.engine.hook_request(name, auth, file=info)
        wrapped = replace(hook, fn=_default_error(hook.fn, code, message))
        return await call_hook(wrapped, req, self.engine.hook_runner)


def _default_error(fn: Callable[..., Any], code: int, message: str) -> Callable[..., Any]:
    """File hooks' failures default to the file error codes (130 on save,
    153 on delete) instead of 141, as Parse Server resolves them."""

    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except ParseError:
            raise
        except Exception as exc:
            log.exception("file hook failed")
            raise ParseError(code, str(exc) or message) from None

    return run
