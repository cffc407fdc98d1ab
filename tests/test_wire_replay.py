"""Replays the traffic captured between the Parse JS SDK and Parse Server
(``shared/reference/wire-examples.md``) against bapp, byte-for-byte bodies
as the SDK sent them, and compares each answer's status and shape.

Ids and session tokens differ between servers, so captured ones are mapped
to the ones bapp handed out, in order. Where Parse Server's captured answer
is PostgreSQL-specific, the MongoDB answer is expected instead (noted)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest
from conftest import make_settings, start_server

WIRE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "wire-examples.md"

pytestmark = pytest.mark.skipif(not WIRE.is_file(), reason="shared/reference/wire-examples.md not beside the repo")

CLOUD = '''
from bapp import cloud

@cloud.define("hello")
def hello(req):
    return "Hello world!"

@cloud.define("failWithCode")
def fail_with_code(req):
    raise cloud.Error(3001, "failWithCode: deliberate failure")

@cloud.before_save("AccValidated")
def validate(req):
    if req.object.get("amount", 0) < 0:
        raise cloud.Error(142, "amount must not be negative")
'''

# Parse Server on PostgreSQL answers an unknown operator with 119; on MongoDB
# (bapp's reference) it is 107 "bad constraint".
MONGO_ANSWERS = {"11": (400, {"code": 107, "error": "bad constraint: $bogus"})}

_STEP = re.compile(r"^#{2,3} (\w+)(?: —|:)", re.M)
_REQUEST = re.compile(r"\*\*Request\*\* `(\w+) ([^`]+)`")
_RESPONSE = re.compile(r"\*\*Response\*\* `(\d+)`")
_JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)
_FULL_BODY = re.compile(r"full body on one line:\)_ `(.*)`\s*$", re.M)


def load_steps() -> list[dict]:
    text = WIRE.read_text()
    starts = [(m.start(), m.group(1)) for m in _STEP.finditer(text)]
    steps = []
    for (start, name), end in zip(starts, [s for s, _ in starts[1:]] + [len(text)], strict=True):
        section = text[start:end]
        request, response = _REQUEST.search(section), _RESPONSE.search(section)
        if not request or not response:
            continue  # LiveQuery frames and the compact cleanup table
        blocks = _JSON_BLOCK.findall(section)
        request_body = json.loads(blocks[0]) if blocks and section.index("```json") < response.start() else None
        after = section[response.end():]
        full = _FULL_BODY.search(after)
        response_blocks = _JSON_BLOCK.findall(after)
        body = json.loads(full.group(1)) if full else (json.loads(response_blocks[0]) if response_blocks else None)
        steps.append({"name": name, "method": request.group(1), "path": request.group(2),
                      "body": request_body, "status": int(response.group(1)), "expected": body})
    # The appendix's probe was made before step 01.
    return [s for s in steps if s["name"] == "Appendix"] + [s for s in steps if s["name"] != "Appendix"]


def _translate(value, mapping: dict[str, str]):
    text = json.dumps(value) if not isinstance(value, str) else value
    for old, new in mapping.items():
        text = text.replace(old, new)
    return json.loads(text) if not isinstance(value, str) else text


def _learn(expected, got, mapping: dict[str, str]) -> None:
    """Pairs captured ids/tokens with bapp's, walking both answers alike."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in ("objectId", "sessionToken"):
            if isinstance(expected.get(key), str) and isinstance(got.get(key), str):
                mapping.setdefault(expected[key], got[key])
        for key in expected.keys() & got.keys():
            _learn(expected[key], got[key], mapping)
    elif isinstance(expected, list) and isinstance(got, list):
        for a, b in zip(expected, got, strict=False):
            _learn(a, b, mapping)


def _shape(value):
    """What must agree: keys of objects (recursively), lengths of arrays,
    error codes."""
    if isinstance(value, dict):
        out = {k: _shape(v) for k, v in value.items() if k not in ("error",)}
        if "code" in value:
            out["code"] = value["code"]
        if isinstance(value.get("ACL"), dict):  # keyed by user ids, which differ
            out["ACL"] = sorted(k if k == "*" or k.startswith("role:") else "<user>" for k in value["ACL"])
        return out
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__ if not isinstance(value, (int, float)) or isinstance(value, bool) else "number"


async def test_captured_sdk_traffic_replays_with_the_same_answers(tmp_path):
    (tmp_path / "main.py").write_text(CLOUD)
    settings = make_settings(app_id="acc-app", master_key="acc-master", javascript_key="acc-js",
                             allow_client_class_creation=True, cloud_path=str(tmp_path))
    server, session = await start_server(settings)
    base = f"http://127.0.0.1:{server.port}"
    mapping: dict[str, str] = {}
    mismatches = []
    try:
        for step in load_steps():
            path = _translate(step["path"], mapping)
            body = _translate(step["body"], mapping) if step["body"] is not None else None
            async with session.request(step["method"], base + path, data=orjson.dumps(body) if body is not None else None,
                                       headers={"Content-Type": "text/plain"}) as resp:
                status, raw = resp.status, await resp.read()
            got = orjson.loads(raw) if raw else None
            want_status, want = MONGO_ANSWERS.get(step["name"], (step["status"], step["expected"]))
            _learn(want, got, mapping)
            if status != want_status or _shape(got) != _shape(want):
                mismatches.append((step["name"], step["method"], path, want_status, status, want, got))
    finally:
        await session.close()
        await server.close()
    assert not mismatches, "\n".join(map(str, mismatches))
