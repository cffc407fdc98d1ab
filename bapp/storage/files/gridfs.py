"""Files in MongoDB GridFS, laid out as Parse Server lays them out: bucket
``fs`` (``fs.files`` and ``fs.chunks``) in the app's database, ``filename``
= the stored name, user metadata in ``metadata``. A database migrated from
Parse Server therefore serves its existing files unchanged.

PyMongo's async GridFS writes a file document only when the upload closes,
and ``abort()`` removes the chunks already written, so a failed upload is
never visible. It buffers at most its own batch size (about 32 MB) of
chunks before inserting them, whatever the file's size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from gridfs import AsyncGridFSBucket, NoFile

from bapp.storage.files.base import FileNotFound, StoredFile

BUCKET = "fs"


class GridFSFilesAdapter:
    """Stores files in the GridFS bucket of a PyMongo async database."""

    def __init__(self, db: Any, bucket_name: str = BUCKET, bucket: Any = None) -> None:
        # ``bucket`` lets tests supply a stand-in with the same methods.
        self.bucket = bucket if bucket is not None else AsyncGridFSBucket(db, bucket_name)
        self.files = db[bucket_name + ".files"] if db is not None else bucket.files

    async def save(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None,
                   metadata: dict[str, Any] | None = None) -> int:
        grid_in = self.bucket.open_upload_stream(name, metadata=metadata or {})
        if content_type:
            # Parse Server's older GridStore adapter kept the type here too.
            await grid_in.set("contentType", content_type)
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                await grid_in.write(chunk)
            await grid_in.close()
        except BaseException:
            await grid_in.abort()
            raise
        return size

    async def _newest(self, name: str) -> dict | None:
        if not isinstance(name, str) or not name:
            return None
        return await self.files.find_one({"filename": name}, sort=[("uploadDate", -1)])

    async def stat(self, name: str) -> StoredFile | None:
        doc = await self._newest(name)
        if doc is None:
            return None
        content_type = doc.get("contentType")
        metadata = doc.get("metadata")
        return StoredFile(name, int(doc.get("length", 0)),
                          content_type if isinstance(content_type, str) else None,
                          metadata if isinstance(metadata, dict) else {})

    async def open(self, name: str, start: int = 0,
                   end: int | None = None) -> tuple[AsyncIterator[bytes], int, str | None]:
        if not isinstance(name, str) or not name:
            raise FileNotFound(name)
        try:
            grid_out = await self.bucket.open_download_stream_by_name(name)
        except NoFile:
            raise FileNotFound(name) from None
        size = int(grid_out.length)
        content_type = getattr(grid_out, "contentType", None)
        stop = size if end is None else min(end, size)
        return _read_range(grid_out, start, stop), size, content_type if isinstance(content_type, str) else None

    async def delete(self, name: str) -> bool:
        if not isinstance(name, str) or not name:
            return False
        try:
            # Every revision goes, as Parse Server's adapter deletes them all.
            await self.bucket.delete_by_name(name)
        except NoFile:
            return False
        return True

    async def exists(self, name: str) -> bool:
        return await self._newest(name) is not None

    async def names(self) -> list[str]:
        return sorted(await self.files.distinct("filename"))


async def _read_range(grid_out: Any, start: int, stop: int) -> AsyncIterator[bytes]:
    """GridFS chunks trimmed to ``[start, stop)``, one chunk at a time."""
    try:
        await grid_out.seek(start)
        remaining = stop - start
        while remaining > 0:
            data = await grid_out.readchunk()
            if not data:
                break
            if len(data) > remaining:
                data = data[:remaining]
            remaining -= len(data)
            yield data
    finally:
        await grid_out.close()
