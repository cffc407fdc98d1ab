"""Assembly: settings to storage, engine and aiohttp application."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from bapp import apps, cluster, console, livequery
from bapp.cloud import loader as cloud_loader
from bapp.config import Settings
from bapp.core.engine import Engine
from bapp.http import files as file_routes
from bapp.http import graphql as graphql_routes
from bapp.http import pages as page_routes
from bapp.http.app import create_app
from bapp.http.routes import build_router

log = logging.getLogger("bapp")


def build_storage(settings: Settings):
    store = settings.store
    if store.kind == "memory":
        from bapp.storage.mongo.memory import MemoryAdapter

        return MemoryAdapter()
    if store.kind == "sqlite":
        from bapp.storage.sql.sqlite import SqliteAdapter

        return SqliteAdapter(store.path, synchronous=settings.sqlite_synchronous)
    if store.kind == "postgres":
        from bapp.storage.sql.pg_adapter import PostgresAdapter

        return PostgresAdapter(settings.database_uri, pool_size=settings.database_pool_size)
    from pymongo import AsyncMongoClient

    from bapp.storage.mongo.adapter import MongoAdapter

    uri = settings.database_uri
    name = settings.database_name or (urlsplit(uri).path.lstrip("/").split("?")[0] or "parse")
    return MongoAdapter(AsyncMongoClient(uri, tz_aware=False), name, collection_prefix=settings.collection_prefix)


def build_engine(settings: Settings) -> Engine:
    engine = Engine(settings, build_storage(settings))
    attach_files(engine)
    return engine


def attach_files(engine: Engine) -> None:
    """Gives the engine its file service (the adapter the settings choose)."""
    from bapp.core.files import FileService
    from bapp.storage.files.base import build_files_adapter

    engine.files = FileService(engine, build_files_adapter(engine.settings, engine.storage))


def attach_mail(engine: Engine) -> None:
    """Checks the account options and loads the emailAdapter (a bad one
    stops start-up with its message)."""
    from bapp.config_accounts import validate_account_settings
    from bapp.mail import Mailer, build_mail_adapter

    validate_account_settings(engine.settings)
    adapter = build_mail_adapter(engine.settings.email.adapter)
    engine.mail = Mailer(adapter, engine.settings.app_name) if adapter is not None else None


def attach_schema_files(engine: Engine) -> None:
    """Validates the ``--schemas`` files now, so an invalid one stops start-up
    before the server listens, and applies them when the engine starts."""
    if not engine.settings.schemas_path:
        return
    from bapp.core import schema_apply, schema_files

    files = schema_files.load_schema_path(engine.settings.schemas_path)
    engine.startup_tasks.append(schema_apply.startup_task(files))


def attach_defined_schemas(engine: Engine) -> None:
    """Parse Server's ``schema`` option (definitions from the config file)."""
    if engine.settings.schema_options:
        from bapp.core import schema_defined

        engine.startup_tasks.append(schema_defined.startup_task(engine.settings.schema_options))


def attach_admin(engine: Engine) -> None:
    """Creates the first admin user at start-up when one is configured."""
    settings = engine.settings
    if settings.admin_username and settings.admin_password:
        engine.startup_tasks.append(
            apps.admin_startup_task(settings.admin_username, settings.admin_password, settings.admin_role))


def build_app(settings: Settings, engine: Engine | None = None) -> web.Application:
    apps.apply_app(settings)  # --app NAME: its schema file and cloud code
    engine = engine or build_engine(settings)
    if engine.files is None:
        attach_files(engine)
    attach_mail(engine)  # raises AccountConfigError / MailConfigError on bad account options
    attach_schema_files(engine)  # raises SchemaFileError (file and JSON path) on an invalid file
    attach_defined_schemas(engine)
    attach_admin(engine)  # after the schema files, which create the app's roles
    cloud = cloud_loader.install(engine, settings)  # raises CloudLoadError (file:line) on bad code
    bus = cluster.build_bus(settings)
    origin = cluster.new_origin()
    live = livequery.install(engine, cluster.live_hub(bus, settings, origin) if bus else None)

    def extra_routes(web_app: web.Application, mount: str) -> None:
        file_routes.register(web_app, mount)
        page_routes.register(web_app, mount)
        graphql_routes.register(web_app, mount)
        console.register(web_app, settings)

    app = create_app(engine, build_router(), websocket=live.handle, extra_routes=extra_routes)
    livequery.attach_to(app, live)
    if bus is not None:
        cluster.attach(app, engine, bus, origin)
    cluster.attach_rate_counters(app, engine)
    app.on_startup.append(cloud.on_startup)
    app.on_shutdown.append(cloud.on_shutdown)
    app.on_shutdown.append(_drain_mail)
    return app


async def _drain_mail(app: web.Application) -> None:
    from bapp.http.app import ENGINE_KEY

    engine = app[ENGINE_KEY]
    if engine.mail is not None:
        await engine.mail.drain()


def banner(settings: Settings) -> str:
    origin = f"http://{settings.host}:{settings.port}"
    text = f"bapp {settings.app_id} listening on {origin}{settings.mount_path}"
    if console.enabled(settings):
        text += f"\nconsole: {origin}{console.base_path(settings)}/"
    return text + "\n" + storage_line(settings)


def storage_line(settings: Settings) -> str:
    """Which store this server uses and where its data lives."""
    from bapp.storage.files.base import adapter_kind

    files = "GridFS" if adapter_kind(settings) == "gridfs" else str(Path(settings.local_files_path).absolute())
    return f"data: {settings.store.describe()}; files: {files}"


def warnings(settings: Settings) -> list[str]:
    out = []
    if settings.master_key_is_default:
        out.append("WARNING: using the default master key; set BAPP_MASTER_KEY or --master-key.")
    if settings.in_memory:
        out.append("WARNING: memory:// store: data lives in memory and is lost when the server stops.")
    return out
