"""Atomic stock moves on SKUs.

Taking stock is one guarded update per SKU: the decrement and the "enough
left" check are the same database operation
(``cloud.update(..., where={"stock": {"$gte": n}})``), so concurrent orders
can never take more than there is. An order with several SKUs takes them
one after the other and, when one is short, puts back what it took
(increments commute, so that is safe under concurrency too)."""

from __future__ import annotations

import logging

from bapp import cloud

from .checks import fail

log = logging.getLogger("bapp.cloud.ecommerce")

# Marks the server's own guarded moves, whose result the guard keeps >= 0.
STOCK_MOVE = "ecommerceStockMove"


async def _move(sku_id: str, amount: int, guard: dict | None = None) -> None:
    await cloud.update("SKU", sku_id, {"stock": {"__op": "Increment", "amount": amount}},
                       where=guard, master=True, context={STOCK_MOVE: True})


async def take(units: dict[str, int]) -> None:
    """Takes ``units[sku_id]`` from each SKU: all or nothing; 142
    "Insufficient stock for SKU <id>" when one is short."""
    taken: list[tuple[str, int]] = []
    try:
        for sku_id, count in sorted(units.items()):
            try:
                await _move(sku_id, -count, {"stock": {"$gte": count}})
            except cloud.Error as exc:
                if exc.code != cloud.Error.OBJECT_NOT_FOUND:
                    raise
                raise fail(f"Insufficient stock for SKU {sku_id}") from None
            taken.append((sku_id, count))
    except BaseException:
        await give_back(dict(taken))
        raise


async def give_back(units: dict[str, int]) -> None:
    """Returns units to their SKUs; SKUs deleted meanwhile are skipped."""
    for sku_id, count in sorted(units.items()):
        try:
            await _move(sku_id, count)
        except cloud.Error as exc:
            log.warning("could not put back %s units on SKU %s: %s", count, sku_id, exc.message)
