"""Python modules a deployment names in its config (auth providers, the push
adapter): loading a file by path, and calling its functions whether they
are plain or ``async``."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bapp.config import ConfigError

_counter = itertools.count()


def load_module(path: str, what: str) -> ModuleType:
    """Imports the file at ``path``; any failure stops start-up naming ``what``."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{what}: module {path} does not exist")
    name = f"bapp_plugin_{next(_counter)}_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{what}: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the module's own error, reported at start-up
        sys.modules.pop(name, None)
        raise ConfigError(f"{what}: {path} failed to load: {type(exc).__name__}: {exc}") from exc
    return module


def function(module: ModuleType, name: str, what: str, *, required: bool) -> Callable[..., Any] | None:
    fn = getattr(module, name, None)
    if fn is None:
        if required:
            raise ConfigError(f"{what}: {module.__file__} must define {name}()")
        return None
    if not callable(fn):
        raise ConfigError(f"{what}: {name} in {module.__file__} is not a function")
    return fn


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    """Awaits an ``async def``; runs a plain function in a thread, since a
    provider or push adapter may block on the network."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await asyncio.to_thread(fn, *args)
    if inspect.isawaitable(result):
        return await result
    return result
