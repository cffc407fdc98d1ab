"""The JS SDK's e-mail flows (``Parse.User.requestPasswordReset``,
``requestEmailVerification``, login refused for an unverified e-mail)
against a bapp server of their own, started from a Parse Server config file
with ``verifyUserEmails`` and a mailer module (tests/compat/mail/)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from server_process import ServerProcess, free_port
from test_compat import _PROBLEM, APP_ID, COMPAT, FILE_TIMEOUT, JS_KEY, MASTER_KEY, _text, ensure_node_modules

pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=str(_PROBLEM))
APP_NAME = "Compat Mail"


def test_sdk_email_flows(tmp_path) -> None:
    ensure_node_modules()
    out = tmp_path / "mails.jsonl"
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "appName": APP_NAME, "publicServerURL": f"http://127.0.0.1:{port}/parse",
        "verifyUserEmails": True, "preventLoginWithUnverifiedEmail": True,
        "emailAdapter": {"module": str(COMPAT / "mail" / "mailer.py"), "options": {"out": str(out)}},
        "passwordPolicy": {"resetTokenValidityDuration": 3600},
    }))
    # The public URL names the port, so the server listens on the one chosen here.
    server = ServerProcess(["--app-id", APP_ID, "--master-key", MASTER_KEY, "--javascript-key", JS_KEY,
                            "--config", str(config)], label="compat-mail", port=port)
    try:
        server.wait_ready()
        env = {**_node_env(server.url), "BAPP_MAIL_OUT": str(out), "BAPP_APP_NAME": APP_NAME}
        command = ["node", "--test", "--test-reporter=spec", f"--test-timeout={int(FILE_TIMEOUT * 1000)}",
                   "mail/email.test.mjs"]
        try:
            done = subprocess.run(command, cwd=COMPAT, env=env, capture_output=True, text=True,
                                  timeout=FILE_TIMEOUT + 15)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the mail spec did not finish\n{_text(exc.stdout)}{_text(exc.stderr)}\n{server.output()}")
        if done.returncode != 0:
            pytest.fail(f"node --test exited with {done.returncode}\n{done.stdout}\n{done.stderr}\n"
                        f"--- server log ---\n{server.output()}", pytrace=False)
        assert "pass 4" in done.stdout and "fail 0" in done.stdout, done.stdout
    finally:
        server.stop()


def _node_env(url: str) -> dict[str, str]:
    return {**os.environ, "BAPP_URL": url, "BAPP_APP_ID": APP_ID, "BAPP_MASTER_KEY": MASTER_KEY,
            "BAPP_JS_KEY": JS_KEY, "NODE_NO_WARNINGS": "1"}
