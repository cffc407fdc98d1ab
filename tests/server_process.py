"""``python -m bapp serve`` as a subprocess on a free loopback port, for the
tests that need a real server process (the JS SDK, the examples)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A ``bapp serve`` subprocess; its output goes to a temporary log file
    (``output()``) and uploaded files to a temporary directory."""

    def __init__(self, args: list[str], *, label: str, mount: str = "/parse",
                 env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.label = label
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{mount}"
        self.ws_url = f"ws://127.0.0.1:{self.port}{mount}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"bapp-{label}-", suffix=".log", delete=False)
        self.files_dir = tempfile.mkdtemp(prefix=f"bapp-{label}-files-")
        self.data_dir = tempfile.mkdtemp(prefix=f"bapp-{label}-data-")
        command = [sys.executable, "-m", "bapp", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--mount-path", mount, *args]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self._env(env), stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        # A developer's BAPP_* variables must not leak into the server under test.
        env = {k: v for k, v in os.environ.items() if not k.startswith("BAPP_")}
        env["BAPP_LOG_LEVEL"] = "warning"
        env["BAPP_FILES_PATH"] = self.files_dir  # uploaded files never land in the checkout
        env["BAPP_DATA_DIR"] = self.data_dir  # nor the embedded store's database
        uri = os.environ.get("BAPP_TEST_DATABASE_URI")
        if uri:  # same switch as tests/conftest.py: run against MongoDB
            env["BAPP_DATABASE_URI"] = uri
            env["BAPP_DATABASE_NAME"] = f"bapp_{self.label}_" + uuid.uuid4().hex[:12]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env.update(extra or {})
        return env

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bapp serve ({self.label}) exited with {self.process.returncode}:\n"
                                   f"{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"bapp serve ({self.label}) did not answer {self.url}/health within {timeout}s:\n"
                           f"{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)
        shutil.rmtree(self.files_dir, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)
