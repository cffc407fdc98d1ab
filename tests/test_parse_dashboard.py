"""The real Parse Dashboard (npm ``parse-dashboard`` 9.x, pinned in
``tests/parse_dashboard/package-lock.json``) pointed at a live bapp with its
usual options, driven in Chromium as a new user would use it: browse the
seed app, edit a cell, add a column with a default value, read the logs,
the config and the webhooks.

The npm package is installed (``npm ci``) into a scratch directory keyed by
the lock file, once per machine. Skipped without node/npm or a browser."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import browser_problem, chromium
from server_process import ServerProcess, free_port

HERE = Path(__file__).resolve().parent / "parse_dashboard"
LOCK = HERE / "package-lock.json"
APP_ID = "pd-app"
MASTER_KEY = "pd-master-key"
APP_NAME = "Shop"
INSTALL_TIMEOUT = 400


def _problem() -> str | None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed; the Parse Dashboard test needs node and npm"
    return browser_problem()


_PROBLEM = _problem()
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=str(_PROBLEM))


def _scratch() -> Path:
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"bapp-parse-dashboard-{digest}"


@contextlib.contextmanager
def _install_lock(path: Path) -> Iterator[None]:
    import fcntl

    with open(str(path) + ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install_dashboard() -> Path:
    """``npm ci`` of the committed lock into the scratch directory (once)."""
    target = _scratch()
    with _install_lock(target):
        marker = target / ".installed"
        if marker.exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, target / name)
        command = ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"]
        try:
            done = subprocess.run(command, cwd=target, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"npm ci for parse-dashboard took longer than {INSTALL_TIMEOUT}s")
        if done.returncode != 0:
            pytest.fail(f"npm ci for parse-dashboard failed:\n{done.stdout}\n{done.stderr}")
        marker.write_text("ok")
    return target


class Dashboard:
    """``parse-dashboard --dev`` (no dashboard users: loopback only) on a free port."""

    def __init__(self, home: Path, server_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="parse-dashboard-", suffix=".log", delete=False)
        command = ["node", str(home / "node_modules" / "parse-dashboard" / "bin" / "parse-dashboard"), "--dev",
                   "--appId", APP_ID, "--masterKey", MASTER_KEY, "--serverURL", server_url,
                   "--appName", APP_NAME, "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, cwd=home, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"parse-dashboard exited: {Path(self.log.name).read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"parse-dashboard did not start: {Path(self.log.name).read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def rest(server: ServerProcess, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        server.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY,
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    home = install_dashboard()
    server = ServerProcess(["--app-id", APP_ID, "--master-key", MASTER_KEY, "--app", "supplier_ordering",
                            "--log-level", "info"], label="parse-dashboard")
    dashboard = None
    try:
        server.wait_ready()
        dashboard = Dashboard(home, server.url)
        dashboard.wait_ready()
        supplier = rest(server, "POST", "/classes/Supplier", {"name": "Acme", "email": "acme@example.com"})
        product = rest(server, "POST", "/classes/Product", {
            "name": "Widget", "sku": "W-1", "price": 9.5,
            "supplier": {"__type": "Pointer", "className": "Supplier", "objectId": supplier["objectId"]}})
        with chromium() as browser:
            page = browser.new_page()
            yield {"server": server, "dashboard": dashboard, "page": page, "product": product["objectId"]}
    finally:
        if dashboard is not None:
            dashboard.stop()
        server.stop()


def goto(stack: dict, path: str) -> Any:
    page = stack["page"]
    page.goto(f"{stack['dashboard'].url}/apps/{APP_NAME}/{path}")
    return page


def test_browse_and_edit_a_cell(stack):
    page = goto(stack, "browser/Product")
    page.wait_for_selector("text=Widget")
    body = page.locator("body").inner_text()
    for name in ("Supplier", "Inventory", "PurchaseOrder", "_Role"):
        assert name in body
    # No "server version unsupported" warning: serverInfo reports Parse 9.
    assert "not supported" not in body.lower() and "unsupported" not in body.lower()
    page.locator("text=Widget").first.dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type("Gadget")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"text=Product with id '{stack['product']}' updated")
    stored = rest(stack["server"], "GET", f"/classes/Product/{stack['product']}")
    assert stored["name"] == "Gadget"


def test_add_a_column_with_a_default_value(stack):
    page = goto(stack, "browser/Supplier")
    page.wait_for_selector("text=Acme")
    page.click("text=Edit")
    page.click("text=Add a column")
    page.fill("input[placeholder='Give it a good name...']", "region")
    page.fill("input[placeholder='Set a default value here'], textarea[placeholder='Set a default value here']",
              "EU")
    page.get_by_role("button", name="Add", exact=True).click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        fields = rest(stack["server"], "GET", "/schemas/Supplier")["fields"]
        if "region" in fields:
            break
        time.sleep(0.2)
    # The dialog offers default and required only to servers it considers >= 7.
    assert fields["region"] == {"type": "String", "required": False, "defaultValue": "EU"}


def test_logs_config_and_webhooks_pages(stack):
    server = stack["server"]
    rest(server, "PUT", "/config", {"params": {"banner": "Summer sale"}, "masterKeyOnly": {"banner": False}})
    rest(server, "POST", "/hooks/functions", {"functionName": "remoteQuote", "url": "http://127.0.0.1:9/quote"})
    page = goto(stack, "logs/info")
    page.wait_for_selector("text=schema files:")
    page = goto(stack, "config")
    page.wait_for_selector("text=Summer sale")
    page.click("text=Create a parameter")
    page.wait_for_selector("text=Requires master key?")
    page.keyboard.press("Escape")
    page = goto(stack, "webhooks")
    page.wait_for_selector("text=remoteQuote")
    assert "http://127.0.0.1:9/quote" in page.locator("body").inner_text()


def test_class_level_permissions_dialog(stack):
    page = goto(stack, "browser/Product")
    page.wait_for_selector("text=Security")
    page.click("text=Security")
    page.click("text=Class Level Permissions")
    page.wait_for_selector("text=Public")
    text = page.locator("body").inner_text()
    # Product's CLPs from the seed schema: creating is for the admin and manager roles.
    assert "admin" in text and "manager" in text
