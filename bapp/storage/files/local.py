"""Files in a local directory.

Layout under the root: one file per stored name, ``.meta/<name>.json`` with
its content type and metadata, and ``.tmp/`` for uploads in progress. Stored
names never start with a dot, so the two service folders cannot collide
with a file. A name is only ever joined to the root after a check that it is
a single plain path component, so no name can reach outside the root."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bapp.storage.files.base import CHUNK_SIZE, FileNotFound, InvalidStoredName, StoredFile

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
MAX_NAME_BYTES = 255  # what common file systems allow for one component
_WRITE_BUFFER = 1024 * 1024


def check_name(name: Any) -> str:
    """``name`` if it is one harmless path component, else InvalidStoredName.

    Refused: empty names, separators (``/`` and ``\\``), control characters,
    a leading dot (which also covers ``.`` and ``..``) and over-long names."""
    if (not isinstance(name, str) or not name or name.startswith(".") or _UNSAFE.search(name)
            or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES):
        raise InvalidStoredName(repr(name)[:80])
    return name


class LocalFilesAdapter:
    """Stores files as plain files below ``root`` (created on first save)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.meta_dir = self.root / ".meta"
        self.tmp_dir = self.root / ".tmp"

    # ------------------------------------------------------------ paths
    def path_of(self, name: str) -> Path:
        """The file's path; by construction a direct child of the root."""
        path = self.root / check_name(name)
        if path.parent != self.root:  # unreachable after check_name; kept as a guard
            raise InvalidStoredName(repr(name)[:80])
        return path

    def _meta_path(self, name: str) -> Path:
        return self.meta_dir / (check_name(name) + ".json")

    # ------------------------------------------------------------ writing
    async def save(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None,
                   metadata: dict[str, Any] | None = None) -> int:
        target = self.path_of(name)
        meta_target = self._meta_path(name)
        await asyncio.to_thread(self._make_dirs)
        tmp = self.tmp_dir / uuid.uuid4().hex
        meta_tmp = self.tmp_dir / (uuid.uuid4().hex + ".json")
        handle = await asyncio.to_thread(open, tmp, "xb")
        committed = False
        try:
            size = await self._copy(chunks, handle)
            await asyncio.to_thread(_finish, handle)
            sidecar = json.dumps({"contentType": content_type, "metadata": metadata or {}})
            await asyncio.to_thread(meta_tmp.write_text, sidecar, "utf-8")
            await asyncio.to_thread(os.replace, meta_tmp, meta_target)
            await asyncio.to_thread(os.replace, tmp, target)
            committed = True
            return size
        finally:
            if not committed:
                await asyncio.to_thread(_discard, handle, tmp, meta_tmp, meta_target)

    def _make_dirs(self) -> None:
        for folder in (self.root, self.meta_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    async def _copy(chunks: AsyncIterator[bytes], handle: Any) -> int:
        size = 0
        buffer = bytearray()
        async for chunk in chunks:
            size += len(chunk)
            buffer += chunk
            if len(buffer) >= _WRITE_BUFFER:
                await asyncio.to_thread(handle.write, buffer)
                buffer = bytearray()
        if buffer:
            await asyncio.to_thread(handle.write, buffer)
        return size

    # ------------------------------------------------------------ reading
    async def stat(self, name: str) -> StoredFile | None:
        try:
            path = self.path_of(name)
        except InvalidStoredName:
            return None
        return await asyncio.to_thread(self._stat, name, path)

    def _stat(self, name: str, path: Path) -> StoredFile | None:
        try:
            size = path.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        content_type, metadata = self._read_sidecar(name)
        return StoredFile(name, size, content_type, metadata)

    def _read_sidecar(self, name: str) -> tuple[str | None, dict]:
        # A file dropped into the folder by hand has no sidecar: it is served
        # with the type its name implies and no metadata.
        try:
            data = json.loads(self._meta_path(name).read_text("utf-8"))
        except (OSError, ValueError):
            return None, {}
        if not isinstance(data, dict):
            return None, {}
        content_type = data.get("contentType")
        metadata = data.get("metadata")
        return (content_type if isinstance(content_type, str) else None,
                metadata if isinstance(metadata, dict) else {})

    async def open(self, name: str, start: int = 0,
                   end: int | None = None) -> tuple[AsyncIterator[bytes], int, str | None]:
        info = await self.stat(name)
        if info is None:
            raise FileNotFound(name)
        stop = info.size if end is None else min(end, info.size)
        return _read_range(self.path_of(name), start, stop), info.size, info.content_type

    async def delete(self, name: str) -> bool:
        try:
            path = self.path_of(name)
        except InvalidStoredName:
            return False
        return await asyncio.to_thread(self._delete, name, path)

    def _delete(self, name: str, path: Path) -> bool:
        if not path.is_file():
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        self._meta_path(name).unlink(missing_ok=True)
        return True

    async def exists(self, name: str) -> bool:
        return await self.stat(name) is not None

    async def names(self) -> list[str]:
        return await asyncio.to_thread(self._names)

    def _names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        # The service folders start with a dot, which no stored name does.
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and p.is_file())


async def _read_range(path: Path, start: int, stop: int) -> AsyncIterator[bytes]:
    """The bytes in ``[start, stop)``; the file is opened on first use and
    closed when the iteration ends or is abandoned."""
    try:
        handle = await asyncio.to_thread(open, path, "rb")
    except FileNotFoundError:  # deleted between stat and read
        raise FileNotFound(path.name) from None
    try:
        await asyncio.to_thread(handle.seek, start)
        remaining = stop - start
        while remaining > 0:
            block = await asyncio.to_thread(handle.read, min(CHUNK_SIZE, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        await asyncio.to_thread(handle.close)


def _finish(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _discard(handle: Any, *paths: Path) -> None:
    """Undoes a failed save: the partial data and any sidecar go."""
    try:
        handle.close()
    except OSError:
        pass
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
