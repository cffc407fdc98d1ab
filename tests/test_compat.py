"""Compatibility run: the real Parse JS SDK (npm ``parse``, pinned in
``tests/compat/package-lock.json``) against a bapp server started here as a
subprocess, exactly as an app would reach it.

One pytest test per ``tests/compat/*.test.mjs`` file, so a failure names the
file and shows node's spec report. Skipped when node/npm are missing; the
npm package is installed (``npm ci``) whenever ``node_modules`` is missing or
was installed from a different lock file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "tests" / "compat"
LOCK_FILE = COMPAT / "package-lock.json"
HASH_FILE = COMPAT / "node_modules" / ".bapp-lock-hash"
APP_ID = "compat-app"
MASTER_KEY = "compat-master-key"
JS_KEY = "compat-js-key"
MOUNT = "/parse"
# Seconds; node's own per-file budget. The whole run normally takes a few seconds.
FILE_TIMEOUT = float(os.environ.get("BAPP_COMPAT_TIMEOUT", "90"))
INSTALL_TIMEOUT = 300
# Settings without a command-line flag go to the server as BAPP_* variables.
SERVER_ENV = {
    "BAPP_LOG_LEVEL": "warning",
}
# The SDK suite checks MongoDB's semantics, which include a stored null
# reading back as null; the SQL stores (the embedded default among them)
# read a null column back as a missing field, as Parse Server on PostgreSQL.
if not os.environ.get("BAPP_TEST_DATABASE_URI"):
    SERVER_ENV["BAPP_DATABASE_URI"] = "memory://"
MIN_NODE = 20

TEST_FILES = sorted(p.name for p in COMPAT.glob("*.test.mjs"))


def _tool_problem() -> str | None:
    """Why the compat run cannot happen on this machine, or None."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed; the Parse JS SDK compatibility tests need node >= {MIN_NODE} and npm"
    try:
        version = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return f"cannot run node: {exc}"
    if major < MIN_NODE:
        return f"node {version} is too old; the compatibility tests need node >= {MIN_NODE}"
    return None


_PROBLEM = _tool_problem()
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=str(_PROBLEM))


def _text(value: str | bytes | None) -> str:
    """Captured output; a timeout hands it back as bytes even in text mode."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


# ---------------------------------------------------------------- npm install

def _lock_hash() -> str:
    return hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest() if LOCK_FILE.exists() else "no-lock"


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Serialises installs between concurrent pytest processes."""
    path = Path(tempfile.gettempdir()) / f"bapp-compat-{hashlib.sha1(str(COMPAT).encode()).hexdigest()[:12]}.lock"
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking, installs are rare anyway
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_node_modules() -> None:
    """``npm ci`` (``npm install`` without a lock) unless node_modules
    already matches package-lock.json."""
    wanted = _lock_hash()
    with _install_lock():
        if HASH_FILE.exists() and HASH_FILE.read_text().strip() == wanted:
            return
        command = ["npm", "ci"] if LOCK_FILE.exists() else ["npm", "install"]
        command += ["--no-audit", "--no-fund"]
        try:
            done = subprocess.run(command, cwd=COMPAT, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{' '.join(command)} timed out after {INSTALL_TIMEOUT}s\n{_text(exc.stdout)}{_text(exc.stderr)}")
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed in {COMPAT} (exit {done.returncode}):\n"
                        f"{done.stdout}\n{done.stderr}")
        HASH_FILE.write_text(_lock_hash())


# ---------------------------------------------------------------- the server

def _server_args() -> list[str]:
    args = ["--app-id", APP_ID, "--master-key", MASTER_KEY, "--javascript-key", JS_KEY]
    if (COMPAT / "cloud").is_dir():
        args += ["--cloud", str(COMPAT / "cloud")]
    if (COMPAT / "schemas").is_dir():
        args += ["--schemas", str(COMPAT / "schemas")]
    if (COMPAT / "parse-config.json").is_file():
        # Parse Server options the SDK's own specs rely on (idempotency, auth providers, push).
        args += ["--config", str(COMPAT / "parse-config.json")]
    return args


class Server(ServerProcess):
    """The ``bapp serve`` the SDK tests talk to."""

    def __init__(self) -> None:
        super().__init__(_server_args(), label="compat", mount=MOUNT, env=SERVER_ENV)


@pytest.fixture(scope="module")
def compat_server() -> Iterator[Server]:
    ensure_node_modules()
    server = Server()
    try:
        server.wait_ready()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- the tests

def node_env(server: Server) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"BAPP_URL": server.url, "BAPP_APP_ID": APP_ID, "BAPP_MASTER_KEY": MASTER_KEY,
                "BAPP_JS_KEY": JS_KEY, "NODE_NO_WARNINGS": "1"})
    return env


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_sdk_compat(compat_server: Server, test_file: str) -> None:
    command = ["node", "--test", "--test-reporter=spec", f"--test-timeout={int(FILE_TIMEOUT * 1000)}", test_file]
    try:
        done = subprocess.run(command, cwd=COMPAT, env=node_env(compat_server), capture_output=True,
                              text=True, timeout=FILE_TIMEOUT + 15)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{test_file} did not finish within {FILE_TIMEOUT}s\n{_text(exc.stdout)}{_text(exc.stderr)}\n"
                    f"--- server log ---\n{compat_server.output()}")
    if done.returncode != 0:
        pytest.fail(f"{test_file}: node --test exited with {done.returncode}\n{done.stdout}\n{done.stderr}\n"
                    f"--- server log ---\n{compat_server.output()}", pytrace=False)


def test_compat_files_exist() -> None:
    """The parametrised test above silently vanishes without test files."""
    assert "objects.test.mjs" in TEST_FILES
