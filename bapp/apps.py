"""Bundled apps: ``bapp serve --app NAME`` and the first admin user.

An app is a schema file ``schemas/NAME.json`` plus its cloud code
``cloud_code/NAME/`` (a package directory) or ``cloud_code/NAME.py``. They
are looked up in the current directory first, then next to the installed
package (a source checkout), so the command works from anywhere in a clone
and in the Docker image."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from bapp.config import ConfigError, Settings
from bapp.core.auth import Auth
from bapp.model import types
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine


def _roots() -> list[Path]:
    return [Path.cwd(), Path(__file__).resolve().parent.parent]


def available_apps() -> list[str]:
    for root in _roots():
        folder = root / "schemas"
        if folder.is_dir():
            return sorted(p.stem for p in folder.glob("*.json"))
    return []


def apply_app(settings: Settings) -> None:
    """Points ``schemas_path`` and ``cloud_path`` at the app's files."""
    name = settings.app
    if not name:
        return
    if not types.FIELD_NAME_RE.match(name):
        raise ConfigError(f"invalid app name: {name!r}")
    for root in _roots():
        schema = root / "schemas" / f"{name}.json"
        if schema.is_file():
            settings.schemas_path = settings.schemas_path or str(schema)
            for cloud in (root / "cloud_code" / name, root / "cloud_code" / f"{name}.py"):
                if cloud.exists():
                    settings.cloud_path = settings.cloud_path or str(cloud)
                    break
            return
    known = ", ".join(available_apps()) or "none found"
    raise ConfigError(f"unknown app {name!r} (available: {known})")


async def ensure_admin(engine: Engine, username: str, password: str, role: str = "admin") -> str:
    """Creates the user (if missing) and puts it in ``role`` (created if
    missing); returns the user's objectId. Goes through the engine, so hooks
    and validation apply as for any other write."""
    master = Auth(master=True)
    users = await engine.storage.find("_User", engine.schemas.fields_of("_User"),
                                      {"username": username}, FindOptions(limit=1))
    if users:
        user_id = users[0]["objectId"]
    else:
        data: dict = {"username": username, "password": password}
        if engine.settings.email.verify_user_emails:
            data["emailVerified"] = True  # the operator's admin has no address to verify
        created = await engine.create("_User", data, master)
        user_id = created["objectId"]
    roles = await engine.storage.find("_Role", engine.schemas.fields_of("_Role"), {"name": role}, FindOptions(limit=1))
    if roles:
        role_id = roles[0]["objectId"]
    else:
        role_id = (await engine.create("_Role", {"name": role, "ACL": {"*": {"read": True}}}, master))["objectId"]
    await engine.update("_Role", role_id, {"users": {"__op": "AddRelation",
                                                      "objects": [types.pointer("_User", user_id)]}}, master)
    return user_id


def admin_startup_task(username: str, password: str, role: str):
    async def task(engine: Engine) -> None:
        await ensure_admin(engine, username, password, role)

    return task


def create_admin_over_rest(url: str, app_id: str, master_key: str, username: str, password: str,
                           role: str = "admin") -> str:
    """The same as ``ensure_admin`` against a running server (any store),
    through the REST API with the master key."""
    def call(method: str, path: str, body: dict | None = None, params: str = "") -> dict:
        request = urllib.request.Request(
            url.rstrip("/") + path + params, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Parse-Application-Id": app_id, "X-Parse-Master-Key": master_key,
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise ConfigError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}") from None

    def where(query: dict) -> str:
        return "?" + urllib.parse.urlencode({"where": json.dumps(query), "limit": "1"})

    found = call("GET", "/classes/_User", params=where({"username": username}))["results"]
    user_id = found[0]["objectId"] if found else call("POST", "/users", {"username": username, "password": password})["objectId"]
    roles = call("GET", "/roles", params=where({"name": role}))["results"]
    role_id = roles[0]["objectId"] if roles else call("POST", "/roles", {"name": role, "ACL": {"*": {"read": True}}})["objectId"]
    call("PUT", f"/roles/{role_id}", {"users": {"__op": "AddRelation", "objects": [types.pointer("_User", user_id)]}})
    return user_id
