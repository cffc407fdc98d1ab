"""The ``bapp`` command: ``serve``, ``create-admin``, ``schema check|docs``,
``backup`` and ``migrate``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bapp.config import ConfigError, Settings, apply_env, apply_parse_config

_FLAGS = {
    "app_id": ("--app-id", str),
    "master_key": ("--master-key", str),
    "read_only_master_key": ("--read-only-master-key", str),
    "rest_api_key": ("--rest-api-key", str),
    "javascript_key": ("--javascript-key", str),
    "client_key": ("--client-key", str),
    "host": ("--host", str),
    "port": ("--port", int),
    "mount_path": ("--mount-path", str),
    "server_url": ("--server-url", str),
    "database_uri": ("--database-uri", str),
    "data_dir": ("--data-dir", str),
    "database_pool_size": ("--database-pool-size", int),
    "schemas_path": ("--schemas", str),
    "cloud_path": ("--cloud", str),
    "app": ("--app", str),
    "body_limit": ("--body-limit", int),
    "log_level": ("--log-level", str),
    "files_path": ("--files-path", str),
    "admin_username": ("--admin-username", str),
    "admin_password": ("--admin-password", str),
    "dashboard_role": ("--dashboard-role", str),
    "dashboard_path": ("--dashboard-path", str),
    "redis_url": ("--redis-url", str),
    "workers": ("--workers", int),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bapp", description="A Parse-compatible backend server.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the server")
    serve.add_argument("--config", help="a Parse Server JSON config file")
    for name, (flag, kind) in _FLAGS.items():
        serve.add_argument(flag, dest=name, type=kind, default=None)
    serve.add_argument("--reload", action="store_true", help="reload cloud code when it changes")
    serve.add_argument("--allow-client-class-creation", action="store_true", default=None)
    serve.add_argument("--dashboard", dest="dashboard", action="store_true", default=None,
                       help="serve the console even on a non-loopback address")
    serve.add_argument("--no-dashboard", dest="dashboard", action="store_false", help="do not serve the console")
    admin = sub.add_parser("create-admin", help="create an admin user on a running server")
    admin.add_argument("--url", default="http://127.0.0.1:1337/parse", help="the server's API URL")
    admin.add_argument("--app-id", default=None)
    admin.add_argument("--master-key", default=None)
    admin.add_argument("--username", required=True)
    admin.add_argument("--password", required=True)
    admin.add_argument("--role", default="admin")
    schema = sub.add_parser("schema", help="check or document a schema file")
    schema.add_argument("action", choices=["check", "docs"])
    schema.add_argument("file")
    backup = sub.add_parser("backup", help="write a consistent copy of the embedded (SQLite) store")
    backup.add_argument("path", help="the backup file to write (must not exist)")
    backup.add_argument("--data-dir", dest="data_dir", default=None)
    backup.add_argument("--database-uri", dest="database_uri", default=None)
    migrate = sub.add_parser("migrate", help="copy a whole app from one store to another")
    migrate.add_argument("--from", dest="source", required=True, help="source database URI")
    migrate.add_argument("--to", dest="target", required=True, help="target database URI")
    migrate.add_argument("--from-files", dest="source_files", default=None,
                         help="the source's local files folder (default: DATA_DIR/files)")
    migrate.add_argument("--to-files", dest="target_files", default=None,
                         help="the target's local files folder (default: DATA_DIR/files)")
    migrate.add_argument("--data-dir", dest="data_dir", default=None)
    migrate.add_argument("--batch-size", type=int, default=500)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = Settings()
    apply_env(settings)
    if getattr(args, "config", None):
        apply_parse_config(settings, args.config)
    for name in _FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            setattr(settings, name, value)
    if getattr(args, "reload", False):
        settings.reload = True
    if getattr(args, "allow_client_class_creation", None):
        settings.allow_client_class_creation = True
    if getattr(args, "dashboard", None) is not None:
        settings.dashboard = args.dashboard
    settings.mount_path = "/" + settings.mount_path.strip("/")
    return settings


def serve(args: argparse.Namespace, argv: list[str]) -> int:
    from aiohttp import web

    from bapp import server
    from bapp.cluster import workers
    from bapp.core.schema_apply import SchemaApplyError
    from bapp.core.schema_files import SchemaFileError

    try:
        settings = settings_from_args(args)
        logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        if settings.workers > 1 and not workers.is_worker():
            return supervise(settings, argv)
        app = server.build_app(settings)
    except (ConfigError, ValueError, SchemaFileError) as exc:
        print(f"bapp: {exc}", file=sys.stderr)
        return 2
    if workers.worker_index() == 0:
        for line in server.warnings(settings):
            print(line, file=sys.stderr)
        print(server.banner(settings), flush=True)

    async def ready(_: web.Application) -> None:
        workers.signal_ready()

    app.on_startup.append(ready)  # last: after the engine and cloud code have started
    inherited = workers.inherited_socket()
    listen = {"sock": inherited} if inherited else {
        "host": settings.host, "port": settings.port, "reuse_port": workers.is_worker() or None}
    # Long query strings (REST clients put `where` in the URL) need more than
    # aiohttp's 8 KiB request-line default.
    try:
        web.run_app(app, print=None, max_line_size=65536, max_field_size=65536, **listen)
    except SchemaApplyError as exc:  # schema files conflict with the stored schema
        print(f"bapp: {exc}", file=sys.stderr)
        return 2
    return 0


def supervise(settings: Settings, argv: list[str]) -> int:
    """``--workers N`` above 1: N worker processes on one port."""
    from bapp.cluster import workers

    if settings.in_memory:
        raise ConfigError("--workers above 1 needs a database that several processes share (SQLite or "
                          "PostgreSQL): the in-memory store lives inside one process")
    return workers.supervise(argv, settings.workers, settings.host, settings.port,
                             use_relay=not settings.redis_url)


def schema_command(args: argparse.Namespace) -> int:
    from bapp.core.schema_files import SchemaFileError, load_schema_file, render_docs

    try:
        doc = load_schema_file(args.file)
    except SchemaFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.action == "check":
        print(f"{args.file}: ok ({len(doc['classes'])} classes)")
    else:
        print(render_docs(doc))
    return 0


def create_admin(args: argparse.Namespace) -> int:
    from bapp.apps import create_admin_over_rest

    settings = Settings()
    apply_env(settings)
    try:
        user_id = create_admin_over_rest(args.url, args.app_id or settings.app_id, args.master_key or settings.master_key,
                                         args.username, args.password, args.role)
    except (ConfigError, OSError) as exc:
        print(f"bapp: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.username} ({user_id}) is in role {args.role}")
    return 0


def backup_command(args: argparse.Namespace) -> int:
    from bapp.storage.sql.sqlite_db import BackupError, backup_file

    settings = settings_from_args(args)
    try:
        store = settings.store
        if store.kind != "sqlite":
            raise ConfigError(f"backup copies the embedded SQLite store; this configuration uses {store.describe()} "
                              "(use that database's own backup tools)")
        pages = backup_file(store.path, args.path)
    except (ConfigError, BackupError) as exc:
        print(f"bapp: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {store.path} to {args.path} ({pages} pages)")
    return 0


def migrate_command(args: argparse.Namespace) -> int:
    import asyncio

    from bapp import migrate

    settings = settings_from_args(args)
    try:
        source = migrate.Endpoint.from_uri(args.source, settings, args.source_files)
        target = migrate.Endpoint.from_uri(args.target, settings, args.target_files)
        report = asyncio.run(migrate.run(source, target, batch_size=args.batch_size,
                                         progress=migrate.Progress.for_stream(sys.stderr)))
    except (ConfigError, migrate.MigrationError) as exc:
        print(f"bapp: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args, argv)
    commands = {"create-admin": create_admin, "backup": backup_command, "migrate": migrate_command}
    return commands.get(args.command, schema_command)(args)
