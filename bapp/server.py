"""Assembly: settings to storage, engine and aiohttp application."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiohttp import web

from bapp.config import Settings
from bapp.core.engine import Engine
from bapp.http.app import create_app
from bapp.http.routes import build_router

log = logging.getLogger("bapp")


def build_storage(settings: Settings):
    if settings.in_memory:
        from bapp.storage.memory import MemoryAdapter

        return MemoryAdapter()
    from pymongo import AsyncMongoClient

    from bapp.storage.mongo import MongoAdapter

    uri = settings.database_uri
    name = settings.database_name or (urlsplit(uri).path.lstrip("/").split("?")[0] or "parse")
    return MongoAdapter(AsyncMongoClient(uri, tz_aware=False), name)


def build_engine(settings: Settings) -> Engine:
    return Engine(settings, build_storage(settings))


def build_app(settings: Settings, engine: Engine | None = None) -> web.Application:
    engine = engine or build_engine(settings)
    return create_app(engine, build_router())


def banner(settings: Settings) -> str:
    url = f"http://{settings.host}:{settings.port}{settings.mount_path}"
    return f"bapp {settings.app_id} listening on {url}"


def warnings(settings: Settings) -> list[str]:
    out = []
    if settings.master_key_is_default:
        out.append("WARNING: using the default master key; set BAPP_MASTER_KEY or --master-key.")
    if settings.in_memory:
        out.append("WARNING: no database URI: data lives in memory and is lost when the server stops.")
    return out
