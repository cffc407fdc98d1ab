"""Atomic stock moves on Inventory records.

Taking stock is one guarded update per product: the decrement and the
"enough left" check are the same database operation
(``cloud.update(..., where={"stock": {"$gte": n}})``), so concurrent orders
can never take more than there is. An order with several products takes
them one after the other and, when one is short, puts back what it took
(increments commute, so that is safe under concurrency too)."""

from __future__ import annotations

import logging

from bapp import cloud

from .checks import fail

log = logging.getLogger("bapp.cloud.ecommerce_admin")

# Marks the server's own guarded moves, whose result the guard keeps >= 0.
STOCK_MOVE = "ecommerceStockMove"


def product_ptr(product_id: str) -> dict:
    return cloud.pointer("Product", product_id)


async def _record(product_id: str) -> dict | None:
    return await cloud.first("Inventory", {"product": product_ptr(product_id)}, master=True)


async def _move(record_id: str, amount: int, guard: dict | None = None) -> None:
    await cloud.update("Inventory", record_id, {"stock": {"__op": "Increment", "amount": amount}},
                       where=guard, master=True, context={STOCK_MOVE: True})


async def take(units: dict[str, int]) -> None:
    """Takes ``units[product_id]`` from each product's Inventory: all or
    nothing; 142 "Insufficient stock for product <id>" when one is short."""
    taken: list[tuple[str, int]] = []
    try:
        for product_id, count in sorted(units.items()):
            record = await _record(product_id)
            if record is None:
                raise fail(f"Insufficient stock for product {product_id}")
            try:
                await _move(record["objectId"], -count, {"stock": {"$gte": count}})
            except cloud.Error as exc:
                if exc.code != cloud.Error.OBJECT_NOT_FOUND:
                    raise
                raise fail(f"Insufficient stock for product {product_id}") from None
            taken.append((record["objectId"], count))
    except BaseException:
        await _put_back(taken)
        raise


async def _put_back(taken: list[tuple[str, int]]) -> None:
    for record_id, count in taken:
        try:
            await _move(record_id, count)
        except cloud.Error as exc:  # the record was deleted meanwhile: nothing to restore
            log.warning("could not put back %s units on Inventory %s: %s", count, record_id, exc.message)


async def give_back(units: dict[str, int]) -> None:
    """Returns units to stock (a cancelled order); products without an
    Inventory record any more are skipped."""
    for product_id, count in sorted(units.items()):
        record = await _record(product_id)
        if record is not None:
            await _put_back([(record["objectId"], count)])
