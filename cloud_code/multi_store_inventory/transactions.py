"""Transactions: the append-only ledger of stock movements.

Saving a Transaction moves the stock, before the ledger row is written:
``in`` adds to the store, ``out`` removes from it, ``transfer`` removes from
``store`` and adds to ``toStore``. A removal the store cannot cover is
refused (142) and nothing is recorded. Everything is validated before any
stock moves, so the row that follows cannot be refused afterwards."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

from . import inventory
from .stores import require_store_access, store_acl

TYPES = ("in", "out", "transfer")


@cloud.before_save("Transaction")
async def record_movement(req) -> None:
    if req.original is not None:
        if req.master:
            return
        raise common.forbidden("Transactions cannot be changed")  # CLP says so too; defence in depth
    store = await common.reference(req.object, "store", "Store", required=True)
    product = await common.reference(req.object, "product", "Product", required=True)
    quantity = common.number(req.object, "quantity", required=True, positive=True)
    kind = common.choice(req.object, "transactionType", TYPES, required=True)
    common.text(req.object, "note")
    if not req.master:
        common.server_managed(req, "order")  # set by fulfillOrder
    await common.reference(req.object, "order", "Order")
    target = await _destination(req, kind, store)
    await require_store_access(req, store["objectId"])
    if not req.master:
        req.object["performedBy"] = cloud.pointer("_User", req.user["objectId"])
    elif req.object.get("performedBy") is not None:
        await common.reference(req.object, "performedBy", "_User")
    stores = [store["objectId"]] + ([target["objectId"]] if target else [])
    req.object["ACL"] = store_acl(*stores, write=False)
    await _move(kind, store["objectId"], target["objectId"] if target else None, product["objectId"], quantity)


async def _destination(req, kind: str, store: dict) -> dict | None:
    if kind != "transfer":
        if req.object.get("toStore") is not None:
            raise common.invalid("toStore is only for transfers")
        return None
    target = await common.reference(req.object, "toStore", "Store", required=True)
    if target["objectId"] == store["objectId"]:
        raise common.invalid("toStore must differ from store")
    return target


async def _move(kind: str, store_id: str, target_id: str | None, product_id: str, quantity: float) -> None:
    if kind == "in":
        await inventory.give(store_id, product_id, quantity)
        return
    await inventory.take(store_id, product_id, quantity)
    if kind == "transfer" and target_id:
        try:
            await inventory.give(target_id, product_id, quantity)
        except Exception:
            # Put the stock back where it came from (an increment: safe
            # whatever else happened meanwhile), then report the failure.
            await inventory.give(store_id, product_id, quantity)
            raise
