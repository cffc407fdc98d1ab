"""The walkthroughs in examples/multi_store_inventory, examples/inventory_manager
and examples/supplier_ordering, run against ``python -m bapp serve --app <name>
--admin-username ...`` exactly as their headers say: the plain-Python one and
the Parse JS SDK one (skipped without node >= 20), each must exit 0. Both run
against the same server, one after the other, which also shows they can be
re-run on existing data."""

from __future__ import annotations

import subprocess
import sys

import pytest
from apps_support import ROOT, spawn_app
from test_compat import _PROBLEM as NODE_PROBLEM
from test_compat import ensure_node_modules

ADMIN = ("admin", "change-me")
TIMEOUT = 120
APPS = ("multi_store_inventory", "inventory_manager", "supplier_ordering")


def run(command: list[str], env: dict[str, str], server) -> str:
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(command)} did not finish in {TIMEOUT}s\n{exc.stdout}\n{exc.stderr}\n"
                    f"--- server log ---\n{server.output()}")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited with {done.returncode}\n{done.stdout}\n{done.stderr}\n"
                    f"--- server log ---\n{server.output()}", pytrace=False)
    return done.stdout


def example_env(server) -> dict[str, str]:
    env = server.example_env()
    env.update({"BAPP_ADMIN_USERNAME": ADMIN[0], "BAPP_ADMIN_PASSWORD": ADMIN[1],
                "NODE_PATH": str(ROOT / "tests" / "compat" / "node_modules")})
    return env


def finished(out: str) -> bool:
    lines = out.rstrip().splitlines()
    return bool(lines) and lines[-1] == "done" and "FAILED" not in out and sum(" ok: " in ln for ln in lines) >= 8


@pytest.mark.parametrize("app", APPS)
def test_python_walkthrough_runs_twice(app: str) -> None:
    with spawn_app(app, admin=ADMIN) as server:
        for _ in range(2):
            out = run([sys.executable, f"examples/{app}/walkthrough.py"], example_env(server), server)
            assert finished(out), out


@pytest.mark.skipif(NODE_PROBLEM is not None, reason=str(NODE_PROBLEM))
@pytest.mark.parametrize("app", APPS)
def test_js_sdk_walkthrough_runs_after_the_python_one(app: str) -> None:
    ensure_node_modules()
    with spawn_app(app, admin=ADMIN) as server:
        env = example_env(server)
        run([sys.executable, f"examples/{app}/walkthrough.py"], env, server)
        out = run(["node", f"examples/{app}/walkthrough.cjs"], env, server)
        assert finished(out), out

