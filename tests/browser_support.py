"""A real Chromium for the browser tests: Debian's ``chromium`` package
driven by Playwright (Playwright's own browser download is not used).

``.ci/run`` installs the package when it is missing, so CI always runs the
browser tests; elsewhere they skip with a clear message when no browser (or
no Playwright) exists."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = os.environ.get("BAPP_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def browser_problem() -> str | None:
    """Why no browser test can run here, or None."""
    if not os.path.exists(CHROMIUM):
        return (f"no Chromium at {CHROMIUM}: install Debian's chromium package "
                "(apt-get install -y chromium) to run the browser tests")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def chromium(viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """One browser context (a fresh profile directory), closed afterwards."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="bapp-chromium-")
    try:
        with sync_playwright() as driver:
            context = driver.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=FLAGS, headless=True,
                viewport=viewport or LAPTOP)
            context.set_default_timeout(20_000)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
