"""``bapp migrate --from URI --to URI``: copies a whole app between stores.

Everything moves through the Parse-level storage interface, so any pair of
stores works (SQLite, PostgreSQL, MongoDB, the in-memory store): class
schemas with their CLPs and indexes, every object as stored (ACL, hidden
fields such as password hashes, session tokens), relations, the config and,
for the local and GridFS files adapters, the files with their metadata.

A run can be repeated: objects, relation entries and files already on the
target are skipped, and schemas and config are overwritten with the
source's, so an interrupted migration is finished by running it again. It
ends with a count per class on both sides. Stop writes to the source while
it runs (objects changed after they were copied are not copied again)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from bapp.config import ConfigError, Settings
from bapp.core.engine import Engine
from bapp.core.schema import ClassSchema, builtin_fields, from_db
from bapp.model import types
from bapp.storage.base import FindOptions
from bapp.storage.files.base import FileNotFound, build_files_adapter

# Classes Parse keeps without a _SCHEMA entry that still hold app state.
_UNLISTED_CLASSES = ("_JobStatus", "_JobSchedule", "_PushStatus", "_Hooks")


class MigrationError(Exception):
    """A migration that cannot start or go on (message for the command line)."""


@dataclass
class Endpoint:
    """One side of a migration: a store and (optionally) its files."""

    label: str
    storage: Any
    files: Any | None
    settings: Settings

    @classmethod
    def from_uri(cls, uri: str, base: Settings, files_path: str | None = None) -> Endpoint:
        from bapp.server import build_storage

        settings = dataclasses.replace(base, database_uri=uri, files_path=files_path or base.files_path,
                                       database_name=None)
        store = settings.store  # raises ConfigError for an unknown scheme
        if store.kind == "memory":
            raise ConfigError("memory:// holds nothing between processes; migrate from or to a database")
        storage = build_storage(settings)
        return cls(store.describe(), storage, build_files_adapter(settings, storage), settings)


@dataclass
class ClassCount:
    name: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


@dataclass
class Report:
    counts: list[ClassCount] = field(default_factory=list)
    copied: int = 0
    skipped: int = 0
    files_copied: int = 0
    files_skipped: int = 0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.counts)

    def summary(self) -> str:
        width = max([len(c.name) for c in self.counts] + [5])
        lines = [f"{'class':<{width}}  {'source':>8}  {'target':>8}"]
        for c in self.counts:
            lines.append(f"{c.name:<{width}}  {c.source:>8}  {c.target:>8}{'' if c.ok else '  MISMATCH'}")
        lines.append(f"objects copied: {self.copied}, already there: {self.skipped}; "
                     f"files copied: {self.files_copied}, already there: {self.files_skipped}")
        lines.append("counts match" if self.ok else "COUNTS DIFFER: run the migration again, or check the target")
        return "\n".join(lines)


class Progress:
    """A progress bar on a terminal, a line per finished step elsewhere."""

    def __init__(self, stream: TextIO | None, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self._last = 0.0

    @classmethod
    def for_stream(cls, stream: TextIO) -> Progress:
        return cls(stream, bool(getattr(stream, "isatty", lambda: False)()))

    @classmethod
    def silent(cls) -> Progress:
        return cls(None, False)

    def update(self, step: str, done: int, total: int) -> None:
        if self.stream is None or not self.tty:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        self.stream.write(f"\r{step[:32]:<32} [{bar:<30}] {done}/{total}")
        self.stream.flush()

    def finish(self, step: str, done: int, total: int) -> None:
        if self.stream is None:
            return
        if self.tty:
            self.update(step, total, total)
            self.stream.write("\n")
        else:
            self.stream.write(f"{step}: {done}/{total}\n")
        self.stream.flush()


async def run(source: Endpoint, target: Endpoint, *, batch_size: int = 500,
              progress: Progress | None = None) -> Report:
    """Copies everything from ``source`` to ``target`` and returns the counts."""
    progress = progress or Progress.silent()
    src = Engine(source.settings, source.storage)
    dst = Engine(target.settings, target.storage)
    try:
        await src.storage.connect()
        await src.schemas.load()
        await dst.start()  # the target's system classes and unique indexes come first
    except ConfigError:
        raise
    except Exception as exc:  # an unreachable database, a locked file...
        raise MigrationError(f"cannot open the stores: {exc}") from exc
    try:
        return await copy_app(src, dst, source.files, target.files, batch_size=batch_size, progress=progress)
    finally:
        await src.stop()
        await dst.stop()


async def copy_app(src: Engine, dst: Engine, source_files: Any | None = None, target_files: Any | None = None, *,
                   batch_size: int = 500, progress: Progress | None = None) -> Report:
    """The copy itself, between two started engines' stores."""
    progress = progress or Progress.silent()
    report = Report()
    docs = await src.storage.load_schemas()
    for doc in docs:
        await dst.storage.save_schema(doc["_id"], doc)
    await dst.schemas.load()
    schemas = {doc["_id"]: from_db(doc) for doc in docs}
    for name in _UNLISTED_CLASSES:
        schemas.setdefault(name, ClassSchema(name, builtin_fields(name)))
    classes = {name: schema.fields for name, schema in schemas.items()}
    for name, schema in schemas.items():
        for index_name, spec in schema.indexes.items():
            if "_id" not in spec:  # the primary key every store has
                await dst.storage.ensure_index(name, schema.fields, spec, index_name)
    for name, schema_fields in classes.items():
        await _copy_class(src, dst, name, schema_fields, batch_size, progress, report)
    for name, schema_fields in classes.items():
        for relation in [k for k, s in schema_fields.items() if s.get("type") == "Relation"]:
            await _copy_relation(src, dst, name, schema_fields, relation, batch_size, progress, report)
    config = await src.storage.get_config()
    if config.get("params") or config.get("masterKeyOnly"):
        await dst.storage.update_config(dict(config.get("params") or {}), dict(config.get("masterKeyOnly") or {}))
    if source_files is not None and target_files is not None:
        await _copy_files(source_files, target_files, progress, report)
    return report


async def _pages(engine: Engine, name: str, schema_fields: dict, batch_size: int) -> AsyncIterator[list[dict]]:
    """Every stored object of a class, in objectId order, a page at a time."""
    last: str | None = None
    while True:
        where = {"objectId": {"$gt": last}} if last is not None else {}
        rows = await engine.storage.find(name, schema_fields, where, FindOptions(order=["objectId"], limit=batch_size))
        if not rows:
            return
        yield rows
        last = rows[-1]["objectId"]
        if len(rows) < batch_size:
            return


async def _copy_class(src: Engine, dst: Engine, name: str, schema_fields: dict, batch_size: int,
                      progress: Progress, report: Report) -> None:
    total = await src.storage.count(name, schema_fields, {})
    done = 0
    async for rows in _pages(src, name, schema_fields, batch_size):
        ids = [row["objectId"] for row in rows]
        present = await dst.storage.find(name, schema_fields, {"objectId": {"$in": ids}},
                                         FindOptions(keys=["objectId"], limit=len(ids)))
        have = {row["objectId"] for row in present}
        for row in rows:
            if row["objectId"] in have:
                report.skipped += 1
            else:
                await dst.storage.create(name, schema_fields, stored_form(row, schema_fields))
                report.copied += 1
        done += len(rows)
        progress.update(name, done, total)
    progress.finish(name, done, total)
    report.counts.append(ClassCount(name, total, await dst.storage.count(name, schema_fields, {})))


def stored_form(row: dict, schema_fields: dict) -> dict:
    """An object as ``find`` returns it, in the form ``create`` stores (the
    engine hands storage datetimes for the timestamps, and relations live in
    their join tables)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if schema_fields.get(key, {}).get("type") == "Relation":
            continue
        if key in ("createdAt", "updatedAt") and isinstance(value, str):
            value = types.parse_iso(value)
        out[key] = value
    return out


async def _copy_relation(src: Engine, dst: Engine, name: str, schema_fields: dict, relation: str,
                         batch_size: int, progress: Progress, report: Report) -> None:
    step = f"{name}.{relation}"
    total = await src.storage.count(name, schema_fields, {})
    done = source_pairs = target_pairs = 0
    async for rows in _pages(src, name, schema_fields, batch_size):
        for row in rows:
            owner = row["objectId"]
            wanted = await src.storage.related_ids(relation, name, [owner])
            have = set(await dst.storage.related_ids(relation, name, [owner]))
            for related in wanted:
                if related not in have:
                    await dst.storage.add_relation(relation, name, owner, related)
            source_pairs += len(wanted)
            target_pairs += len(await dst.storage.related_ids(relation, name, [owner]))
        done += len(rows)
        progress.update(step, done, total)
    progress.finish(step, done, total)
    report.counts.append(ClassCount(f"_Join:{relation}:{name}", source_pairs, target_pairs))


async def _copy_files(source: Any, target: Any, progress: Progress, report: Report) -> None:
    names = await source.names()
    for done, name in enumerate(names, 1):
        info = await source.stat(name)
        if info is None:
            continue
        existing = await target.stat(name)
        if existing is not None and existing.size == info.size:
            report.files_skipped += 1
        else:
            try:
                chunks, _, content_type = await source.open(name)
            except FileNotFound:
                continue
            await target.save(name, chunks, info.content_type or content_type, info.metadata)
            report.files_copied += 1
        progress.update("files", done, len(names))
    progress.finish("files", len(names), len(names))
    target_names = set(await target.names())
    report.counts.append(ClassCount("files", len(names), len(target_names & set(names))))
