"""The walkthroughs in examples/multi_store_inventory, examples/inventory_manager
and examples/supplier_ordering, run against ``python -m bapp serve --app <name>
--admin-username ...`` exactly as their headers say: the plain-Python one and
the Parse JS SDK one (skipped without node >= 20), each must exit 0. Both run
against the same server, one after the other, which also shows they can be
re-run on existing data."""

from __future__ import annotations

import sys

import pytest
from apps_support import spawn_app
from test_compat import _PROBLEM as NODE_PROBLEM
from test_compat import ensure_node_modules

ADMIN = ("admin", "change-me")
APPS = ("multi_store_inventory", "inventory_manager", "supplier_ordering")


def finished(out: str) -> bool:
    lines = out.rstrip().splitlines()
    return bool(lines) and lines[-1] == "done" and "FAILED" not in out and sum(" ok: " in ln for ln in lines) >= 8


@pytest.mark.parametrize("app", APPS)
def test_python_walkthrough_runs_twice(app: str) -> None:
    with spawn_app(app, admin=ADMIN) as server:
        for _ in range(2):
            out = server.run_example([sys.executable, f"examples/{app}/walkthrough.py"])
            assert finished(out), out


@pytest.mark.skipif(NODE_PROBLEM is not None, reason=str(NODE_PROBLEM))
@pytest.mark.parametrize("app", APPS)
def test_js_sdk_walkthrough_runs_after_the_python_one(app: str) -> None:
    ensure_node_modules()
    with spawn_app(app, admin=ADMIN) as server:
        server.run_example([sys.executable, f"examples/{app}/walkthrough.py"])
        out = server.run_example(["node", f"examples/{app}/walkthrough.cjs"])
        assert finished(out), out

