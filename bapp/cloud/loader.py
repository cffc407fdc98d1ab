"""Loading cloud code: a module file or a package directory (every module in
it), into a fresh Registry per load.

Each load imports the code under a new private package name, so two
servers in one process, or a reload, never share module state or hooks.
A syntax error, an import error or a bad registration stops start-up with
the file and line. ``--reload`` polls file modification times (no extra
dependency) and swaps the engine's registry when a reload succeeds; a
broken edit is logged and the previous code keeps running."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import itertools
import logging
import sys
import traceback
import types as pytypes
import weakref
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import TYPE_CHECKING

from bapp.cloud import runtime as cloud_runtime
from bapp.config import ConfigError, Settings
from bapp.core.triggers import Registry

if TYPE_CHECKING:
    from bapp.core.engine import Engine

log = logging.getLogger("bapp.cloud")

_counter = itertools.count(1)
_PREFIX = "_bapp_cloud_"
RELOAD_INTERVAL = 1.0  # seconds between two looks at the files (--reload)


class CloudLoadError(ConfigError):
    """Cloud code that cannot be loaded; the message names file and line."""


def cloud_files(root: Path) -> list[Path]:
    """The Python files a load imports (and ``--reload`` watches)."""
    if root.is_file():
        return [root]
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p == "__pycache__" for p in parts):
            continue
        found.append(path)
    return found


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source on every load: a cached .pyc could hide an edit
    made within the same second (``--reload``)."""

    def get_code(self, fullname: str) -> pytypes.CodeType:
        return self.source_to_code(self.get_data(self.path), self.path)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the modules of each load under its private package name."""

    def __init__(self) -> None:
        self.roots: dict[str, Path] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        top, _, rest = fullname.partition(".")
        root = self.roots.get(top)
        if root is None:
            return None
        if root.is_file():
            return self._file_spec(fullname, root) if not rest else None
        base = root.joinpath(*rest.split(".")) if rest else root
        if base.is_dir():
            init = base / "__init__.py"
            if init.is_file():
                return importlib.util.spec_from_file_location(
                    fullname, init, loader=_SourceLoader(fullname, str(init)),
                    submodule_search_locations=[str(base)])
            spec = ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(base)]
            return spec
        file = base.with_suffix(".py")
        return self._file_spec(fullname, file) if file.is_file() else None

    @staticmethod
    def _file_spec(fullname: str, file: Path) -> ModuleSpec | None:
        return importlib.util.spec_from_file_location(fullname, file, loader=_SourceLoader(fullname, str(file)))


_finder = _Finder()


def load(path: str | Path) -> Registry:
    """Imports the cloud code at ``path`` into a new Registry."""
    from bapp import cloud

    root = Path(path).expanduser().resolve()
    if not root.exists():
        raise CloudLoadError(f"{path}: cloud code not found")
    if root.is_file() and root.suffix != ".py":
        raise CloudLoadError(f"{path}: cloud code must be a .py file or a directory")
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    if root.is_file() and str(root.parent) not in sys.path:
        # Sibling helper modules of a single file are importable by name.
        sys.path.append(str(root.parent))
    registry = Registry()
    package = f"{_PREFIX}{next(_counter)}"
    _finder.roots[package] = root
    registry.modules.append(package)
    try:
        with cloud.registering(registry):
            _run(lambda: importlib.import_module(package), root, root / "__init__.py" if root.is_dir() else root)
            if root.is_dir():
                _import_all(root, package)
    except BaseException:
        unload(registry)
        raise
    return registry


def _import_all(root: Path, package: str) -> None:
    for path in cloud_files(root):
        rel = path.relative_to(root).with_suffix("").parts
        if rel[-1] == "__init__":
            rel = rel[:-1]
        if not rel:
            continue
        if not all(part.isidentifier() for part in rel):
            raise CloudLoadError(f"{path}: not an importable module name")
        name = ".".join((package, *rel))
        _run(lambda name=name: importlib.import_module(name), root, path)


def _run(action, root: Path, path: Path) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except SyntaxError as exc:
        where = f"{exc.filename or path}:{exc.lineno}" if exc.lineno else str(exc.filename or path)
        raise CloudLoadError(f"{where}: {type(exc).__name__}: {exc.msg}") from None
    except (Exception, SystemExit) as exc:
        raise CloudLoadError(f"{_location(exc, root, path)}: {type(exc).__name__}: {exc}") from None


def _location(exc: BaseException, root: Path, path: Path) -> str:
    """file:line of the deepest frame inside the cloud code."""
    best = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(path) or Path(frame.filename).is_relative_to(root):
            best = frame
    if best is None:
        return str(path)
    return f"{best.filename}:{best.lineno}"


def unload(registry: Registry) -> None:
    """Forgets the modules of a load (after a reload replaced it)."""
    for name in registry.modules:
        _finder.roots.pop(name, None)
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            sys.modules.pop(key, None)


# ------------------------------------------------------------------ server wiring

class CloudCode:
    """Cloud code of one server: what is loaded, the reloader and jobs."""

    def __init__(self, engine: Engine, path: str | None, reload: bool, interval: float | None = None) -> None:
        # Weak: the engine -> CloudCode map below must not keep engines alive.
        self._engine = weakref.ref(engine)
        self.path = path
        self.reload_enabled = bool(reload and path)
        self.interval = interval
        self._stamp: dict[str, tuple[int, int]] = {}
        self._watcher: asyncio.Task | None = None

    @property
    def engine(self) -> Engine:
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the engine of this cloud code is gone")
        return engine

    def stamp(self) -> dict[str, tuple[int, int]]:
        root = Path(self.path or "").expanduser().resolve()
        out = {}
        if not root.exists():
            return out
        for path in cloud_files(root):
            with contextlib.suppress(OSError):
                info = path.stat()
                out[str(path)] = (info.st_mtime_ns, info.st_size)
        return out

    async def start(self) -> None:
        if self.reload_enabled:
            self._stamp = self.stamp()
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await cloud_runtime.stop_jobs(self.engine)

    async def on_startup(self, app: object) -> None:
        """aiohttp startup signal."""
        await self.start()

    async def on_shutdown(self, app: object) -> None:
        """aiohttp shutdown signal: before the engine closes its storage."""
        await self.stop()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval or RELOAD_INTERVAL)
            self.check()

    def check(self) -> bool:
        """Reloads when a file changed; True when new code was installed."""
        current = self.stamp()
        if current == self._stamp:
            return False
        self._stamp = current
        return self.reload()

    def reload(self) -> bool:
        try:
            fresh = load(self.path or "")
        except CloudLoadError as exc:
            log.error("cloud code not reloaded: %s", exc)
            return False
        fresh.adopt_webhooks(self.engine.triggers)
        old, self.engine.triggers = self.engine.triggers, fresh
        unload(old)
        log.info("cloud code reloaded from %s", self.path)
        return True


def install(engine: Engine, settings: Settings) -> CloudCode:
    """Loads ``settings.cloud_path`` (if any) into ``engine`` and makes the
    engine run hooks through the cloud layer."""
    if settings.cloud_path:
        fresh = load(settings.cloud_path)
        fresh.adopt_webhooks(engine.triggers)
        engine.triggers = fresh
    cloud_runtime.install(engine)
    code = _installed[engine] = CloudCode(engine, settings.cloud_path, settings.reload)
    return code


_installed: weakref.WeakKeyDictionary[Engine, CloudCode] = weakref.WeakKeyDictionary()


def of(engine: Engine) -> CloudCode | None:
    """The cloud code installed in ``engine`` (for tools and tests)."""
    return _installed.get(engine)
