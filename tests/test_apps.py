"""Bundled apps (--app NAME) and the first admin user."""

import json

import pytest
from conftest import make_settings, start_server

from bapp import apps
from bapp.config import ConfigError, Settings


def test_apply_app_points_at_schema_and_cloud_code():
    settings = Settings(app="supplier_ordering")
    apps.apply_app(settings)
    assert settings.schemas_path.endswith("schemas/supplier_ordering.json")
    assert "ecommerce" in apps.available_apps() and len(apps.available_apps()) == 5


def test_unknown_app_is_refused_with_the_list():
    with pytest.raises(ConfigError, match="unknown app 'nope' \\(available: ecommerce, "):
        apps.apply_app(Settings(app="nope"))
    with pytest.raises(ConfigError, match="invalid app name"):
        apps.apply_app(Settings(app="../etc"))


async def test_admin_is_created_at_start_and_is_in_the_role():
    settings = make_settings(admin_username="boss", admin_password="pw-123", app="inventory_manager")
    server, session = await start_server(settings)
    try:
        base = f"http://127.0.0.1:{server.port}/parse"
        headers = {"X-Parse-Application-Id": settings.app_id, "Content-Type": "application/json"}
        async with session.post(base + "/login", json={"username": "boss", "password": "pw-123"}, headers=headers) as resp:
            assert resp.status == 200
            user = await resp.json()
        headers["X-Parse-Master-Key"] = settings.master_key
        async with session.get(base + "/roles", params={"where": '{"name":"admin"}'}, headers=headers) as resp:
            [role] = (await resp.json())["results"]
        related = json.dumps({"$relatedTo": {"object": {"__type": "Pointer", "className": "_Role",
                                                         "objectId": role["objectId"]}, "key": "users"}})
        async with session.get(base + "/users", params={"where": related}, headers=headers) as resp:
            assert [u["objectId"] for u in (await resp.json())["results"]] == [user["objectId"]]
    finally:
        await session.close()
        await server.close()
