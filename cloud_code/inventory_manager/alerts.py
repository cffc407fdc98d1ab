"""Low-stock alerts and their notifications.

An alert watches a SKU's total, or its quantity at one ``location``. When
that quantity is below the alert's ``threshold`` a Notification is recorded
for the alert's creator (who receives it live through a LiveQuery
subscription on Notification) and the alert is marked ``triggered``; it
fires again only after the quantity has recovered (which re-arms it) and
dropped once more. Arming and firing are conditional updates on
``triggered``, so concurrent stock changes record one notification, not
several. An alert created while the stock is already low fires at once.

Alerts belong to their creator: the schema's pointer permissions let only
``createdBy`` read (admins too), change or delete them; these hooks make
``createdBy`` the caller and keep it fixed."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

INTERNAL = "alertState"  # context flag of the hooks' own Alert writes


def _watched(alert: dict, rows: list[dict]) -> float:
    location = common.pointer_id(alert.get("location"), "Location")
    if location is None:
        return sum(row.get("quantity", 0) for row in rows)
    return sum(row.get("quantity", 0) for row in rows
               if common.pointer_id(row.get("location"), "Location") == location)


async def evaluate(alert: dict, rows: list[dict]) -> None:
    """Fires or re-arms ``alert`` for the quantity ``rows`` hold now."""
    if alert.get("active") is False:
        return
    quantity = _watched(alert, rows)
    low = quantity < alert["threshold"]
    state = {"triggered": True, "lastTriggeredAt": common.now()} if low else {"triggered": False}
    where = {"triggered": {"$ne": True}} if low else {"triggered": True}
    try:
        await cloud.update("Alert", alert["objectId"], state, where=where, master=True, context={INTERNAL: True})
    except cloud.Error as exc:
        if exc.code == cloud.Error.OBJECT_NOT_FOUND:
            return  # already in that state (or gone): nothing to record
        raise
    if low:
        await _notify(alert, quantity)


async def _notify(alert: dict, quantity: float) -> None:
    sku = await cloud.first("SKU", {"objectId": alert["sku"]["objectId"]}, master=True)
    name = (sku or {}).get("name") or alert["sku"]["objectId"]
    recipient = alert["createdBy"]
    message = alert.get("notification") or f"{name} is low: {quantity:g} left (threshold {alert['threshold']:g})"
    data = {"alert": cloud.pointer("Alert", alert["objectId"]), "recipient": recipient, "sku": alert["sku"],
            "quantity": quantity, "threshold": alert["threshold"], "message": message,
            "ACL": {recipient["objectId"]: {"read": True, "write": True}, "role:admin": {"read": True}}}
    if alert.get("location"):
        data["location"] = alert["location"]
    await cloud.create("Notification", data, master=True)


# ------------------------------------------------------------------ hooks

@cloud.before_save("Alert")
async def check_alert(req) -> None:
    if req.master and req.context.get(INTERNAL):
        return
    creating = req.original is None
    if common.changed(req, "sku"):
        await common.reference(req.object, "sku", "SKU", required=True)
    if common.changed(req, "location"):
        await common.reference(req.object, "location", "Location")
    common.number(req.object, "threshold", required=True)
    common.text(req.object, "notification")
    if req.object.get("active") is not None and not isinstance(req.object["active"], bool):
        raise common.invalid("active must be a boolean")
    if req.master:
        return
    common.server_managed(req, "triggered", "lastTriggeredAt")
    common.keep(req, "createdBy")
    if creating:
        me = cloud.pointer("_User", req.user["objectId"])
        if req.object.get("createdBy") not in (None, me):
            raise common.forbidden("An alert belongs to the user who creates it")
        req.object["createdBy"] = me
        req.object["ACL"] = {req.user["objectId"]: {"read": True, "write": True}, "role:admin": {"read": True}}


@cloud.after_save("Alert")
async def check_new_alert(req) -> None:
    """A new alert, or one whose rule changed, is checked against the stock
    now (a triggered alert stays triggered: no second notification)."""
    if req.context.get(INTERNAL):
        return
    if req.original is not None and not any(common.changed(req, k) for k in ("threshold", "location", "active",
                                                                             "sku")):
        return
    sku_id = req.object["sku"]["objectId"]
    async with common.lock(f"sku:{sku_id}"):
        alert = await cloud.first("Alert", {"objectId": req.object["objectId"]}, master=True)
        if alert is None:
            return
        rows = await common.find_all("Inventory", {"sku": cloud.pointer("SKU", sku_id)})
        await evaluate(alert, rows)


@cloud.before_save("Notification")
async def check_notification(req) -> None:
    if req.master:
        return
    # The recipient may mark it read; the rest is the server's record.
    for key in req.object:
        if key not in ("read", "objectId", "createdAt", "updatedAt", "className") and common.changed(req, key):
            raise common.forbidden(f"{key} is maintained by the server")
    if not isinstance(req.object.get("read"), bool):
        raise common.invalid("read must be a boolean")
