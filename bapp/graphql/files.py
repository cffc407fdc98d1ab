"""``createFile`` and file uploads inside mutations: a multipart GraphQL
request's file goes through the same file service (and its hooks, type
and size rules) as ``POST /files/:name``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from bapp import errors
from bapp.core.files import Upload as FileUpload
from bapp.errors import ParseError
from bapp.graphql.context import Context, ctx_of
from bapp.graphql.scalars import Upload


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def store(ctx: Context, upload: Any) -> dict:
    """Stores an Upload; ``{"name", "url"}``."""
    if not isinstance(upload, Upload):
        raise ParseError(errors.FILE_SAVE_ERROR, "Invalid file upload.")
    if ctx.engine.files is None:
        raise ParseError(errors.FILE_SAVE_ERROR, "Could not store file.")
    item = FileUpload(filename=upload.filename, chunks=_chunks(upload.data), content_type=upload.content_type,
                      length=len(upload.data))
    saved = await ctx.engine.files.create(ctx.auth, item, ctx.mount_url)
    return {"name": saved["name"], "url": saved["url"]}


async def create_file(_root: Any, info: Any, input: dict) -> dict:
    ctx = ctx_of(info)
    return {"fileInfo": await store(ctx, input.get("upload")), "clientMutationId": input.get("clientMutationId")}
