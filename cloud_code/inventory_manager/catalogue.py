"""SKUs and locations: validation (the catalogue's writes are limited to
admins and managers by the schema's CLPs)."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common


@cloud.before_save("SKU")
async def check_sku(req) -> None:
    common.text(req.object, "name", required=True)
    common.text(req.object, "identifier")
    common.text(req.object, "description")
    if common.changed(req, "location"):
        await common.reference(req.object, "location", "Location")
    if not req.master:
        # The total over all locations, kept by the stock hooks.
        common.server_managed(req, "stockLevel")


@cloud.before_save("Location")
async def check_location(req) -> None:
    common.text(req.object, "name", required=True)
    common.text(req.object, "address")


# An admin makes stock keepers: {"username": "...", "role": "manager"}.
common.role_function("assignRole", ("manager",))
