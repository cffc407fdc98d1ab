"""Where uploaded files live: the adapter interface and its selection.

An adapter stores bytes under a name the engine chose; it knows nothing of
users, permissions or HTTP. Data always moves as async chunk iterators so a
large file is never held in memory whole. A save either completes or leaves
nothing behind, so a failed or oversized upload never becomes a half file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bapp.config import Settings

# Reading and writing granularity; small enough to keep memory flat, large
# enough that a 100 MB file is a few hundred system calls.
CHUNK_SIZE = 256 * 1024


class FileNotFound(Exception):
    """No stored file has this name (or the name could never be stored)."""


class InvalidStoredName(FileNotFound):
    """A name an adapter refuses to map to storage (path tricks, control
    characters); for a reader it is simply a file that does not exist."""


@dataclass
class StoredFile:
    """What an adapter knows about one stored file."""

    name: str
    size: int
    content_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class FilesAdapter(Protocol):
    """The storage interface the file service relies on."""

    async def save(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None,
                   metadata: dict[str, Any] | None = None) -> int:
        """Stores every chunk under ``name`` and returns the byte count. If
        ``chunks`` raises, nothing stays stored and the error propagates."""
        ...

    async def stat(self, name: str) -> StoredFile | None:
        """Size, content type and metadata, or None when there is no such file."""
        ...

    async def open(self, name: str, start: int = 0,
                   end: int | None = None) -> tuple[AsyncIterator[bytes], int, str | None]:
        """Bytes ``start`` up to ``end`` (exclusive; None = to the end), the
        file's full size and its content type. Raises FileNotFound."""
        ...

    async def delete(self, name: str) -> bool:
        """Removes the file; False when it did not exist."""
        ...

    async def exists(self, name: str) -> bool: ...

    async def names(self) -> list[str]:
        """Every stored name, sorted (for copying a whole app to another store)."""
        ...


class FilesConfigError(ValueError):
    """A files setting that cannot work (reported at start-up)."""


def adapter_kind(settings: Settings) -> str:
    """``gridfs`` when MongoDB is configured, ``local`` otherwise, unless the
    ``files_adapter`` setting names one."""
    kind = (settings.files_adapter or "").strip().lower()
    if not kind:
        return "gridfs" if settings.store.kind == "mongodb" else "local"
    if kind not in ("local", "gridfs"):
        raise FilesConfigError(f"files_adapter must be 'local' or 'gridfs', not {settings.files_adapter!r}")
    if kind == "gridfs" and settings.store.kind != "mongodb":
        raise FilesConfigError("files_adapter 'gridfs' needs a MongoDB database_uri")
    return kind


def build_files_adapter(settings: Settings, storage: Any) -> FilesAdapter:
    """The adapter the settings ask for. GridFS shares the object store's
    database (bucket ``fs``, as Parse Server), so it needs no connection of
    its own."""
    if adapter_kind(settings) == "gridfs":
        from bapp.storage.files.gridfs import GridFSFilesAdapter

        return GridFSFilesAdapter(storage.db)
    from bapp.storage.files.local import LocalFilesAdapter

    return LocalFilesAdapter(settings.local_files_path)
