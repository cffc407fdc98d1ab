"""The ``_Installation`` rules mobile SDKs rely on.

The iOS and Android SDKs save their installation at every launch with a
POST; Parse Server turns that POST into an update when the installation
(by installationId, or by device token) already exists, lower-cases ids,
keeps ids and device type immutable, and cleans up rows that claim the same
device token. bapp follows that logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bapp import errors
from bapp.core.auth import Auth
from bapp.errors import ParseError
from bapp.storage.base import FindOptions

if TYPE_CHECKING:
    from bapp.core.engine import Engine


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(errors.INCORRECT_TYPE, f"{key} must be a string")
    return value


async def prepare(engine: Engine, body: dict, auth: Auth, object_id: str | None) -> str | None:
    """Normalises ``body`` in place; on create returns the objectId of the
    existing installation this save should update instead (or None)."""
    device_token = _text(body, "deviceToken")
    body_installation = _text(body, "installationId")
    if object_id is None and not device_token and not body_installation and not auth.installation_id:
        raise ParseError(135, "at least one ID field (deviceToken, installationId) must be specified in this operation")
    if device_token and len(device_token) == 64:
        device_token = body["deviceToken"] = device_token.lower()
    if body_installation:
        body_installation = body["installationId"] = body_installation.lower()
    installation_id = body_installation
    if not installation_id and not auth.master:
        installation_id = (auth.installation_id or "").lower() or None
    if object_id is not None and not device_token and not installation_id and "deviceType" not in body:
        return None
    ors: list[dict] = []
    if object_id:
        ors.append({"objectId": object_id})
    if installation_id:
        ors.append({"installationId": installation_id})
    if device_token:
        ors.append({"deviceToken": device_token})
    if not ors:
        return None
    fields = engine.schemas.fields_of("_Installation")
    rows = await engine.storage.find("_Installation", fields, {"$or": ors}, FindOptions(limit=1000))
    by_id = next((r for r in rows if object_id and r["objectId"] == object_id), None)
    by_installation = next((r for r in rows if installation_id and r.get("installationId") == installation_id), None)
    token_matches = [r for r in rows if device_token and r.get("deviceToken") == device_token]
    if object_id:
        _check_immutables(body, by_id)
    match = by_installation or by_id
    if object_id is None and not match and not body.get("deviceType"):
        raise ParseError(135, "deviceType must be specified in this operation")
    if object_id is None and installation_id and "installationId" not in body:
        body["installationId"] = installation_id
    return await _dedupe(engine, fields, body, match, token_matches, device_token, installation_id)


def _check_immutables(body: dict, current: dict | None) -> None:
    if current is None:
        raise ParseError(errors.OBJECT_NOT_FOUND, "Object not found for update.")
    if body.get("installationId") and current.get("installationId") and body["installationId"] != current["installationId"]:
        raise ParseError(136, "installationId may not be changed in this operation")
    if (body.get("deviceToken") and current.get("deviceToken") and body["deviceToken"] != current["deviceToken"]
            and not body.get("installationId") and not current.get("installationId")):
        raise ParseError(136, "deviceToken may not be changed in this operation")
    if body.get("deviceType") and body["deviceType"] != current.get("deviceType"):
        raise ParseError(136, "deviceType may not be changed in this operation")


async def _dedupe(engine: Engine, fields: dict, body: dict, match: dict | None, token_matches: list[dict],
                  device_token: str | None, installation_id: str | None) -> str | None:
    """Which row a save lands on, removing rows that claim the same device."""
    if match is None:
        if not token_matches:
            return None
        if len(token_matches) == 1 and (not token_matches[0].get("installationId") or not installation_id):
            return token_matches[0]["objectId"]
        if not body.get("installationId"):
            raise ParseError(132, "Must specify installationId when deviceToken matches multiple Installation objects")
        await _delete(engine, fields, {"deviceToken": device_token, "installationId": {"$ne": installation_id}}, body)
        return None
    if len(token_matches) == 1 and not token_matches[0].get("installationId") and token_matches[0]["objectId"] != match["objectId"]:
        # The same device saved once without an installation id: keep one row.
        await _delete(engine, fields, {"objectId": token_matches[0]["objectId"]}, body)
    elif device_token and match.get("deviceToken") != device_token and body.get("installationId"):
        await _delete(engine, fields, {"deviceToken": device_token, "installationId": {"$ne": body["installationId"]}}, body)
    return match["objectId"]


async def _delete(engine: Engine, fields: dict, where: dict, body: dict) -> None:
    if body.get("appIdentifier"):
        where = {**where, "appIdentifier": body["appIdentifier"]}
    await engine.storage.delete_many("_Installation", fields, where)
