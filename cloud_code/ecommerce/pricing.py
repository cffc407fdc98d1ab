"""Items (SKU pointers, one per unit) and their server-side total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bapp import cloud

from .checks import fail, pointer_id

MAX_UNITS = 1000


@dataclass
class Priced:
    sku_ids: list[str]  # one entry per unit, in the order given
    products: list[str]  # distinct product ids, in order of first appearance
    total: float

    def pointers(self) -> list[dict]:
        return [cloud.pointer("SKU", i) for i in self.sku_ids]

    def product_pointers(self) -> list[dict]:
        return [cloud.pointer("Product", i) for i in self.products]


async def price(items: Any, field: str = "items") -> Priced:
    """Checks ``items`` (an array of SKU pointers whose SKUs and products
    exist) and prices it with the products' prices; the total is rounded to
    cents. A client-sent total is never used."""
    if not isinstance(items, list):
        raise fail(f"{field} must be an array of pointers to SKU", cloud.Error.INCORRECT_TYPE)
    if len(items) > MAX_UNITS:
        raise fail(f"{field} holds at most {MAX_UNITS} units")
    sku_ids = [pointer_id(item, field, "SKU") for item in items]
    skus = await _by_id("SKU", sku_ids)
    missing = [i for i in dict.fromkeys(sku_ids) if i not in skus]
    if missing:
        raise fail(f"{field} points to a missing SKU: {missing[0]}")
    product_of = {i: (skus[i].get("product") or {}).get("objectId") for i in skus}
    products = await _by_id("Product", [p for p in product_of.values() if p])
    for sku_id, product_id in product_of.items():
        if product_id not in products:
            raise fail(f"SKU {sku_id} has no product")
    total = round(sum(products[product_of[i]]["price"] for i in sku_ids), 2)
    return Priced(sku_ids, list(dict.fromkeys(product_of[i] for i in sku_ids)), total)


async def _by_id(class_name: str, ids: list[str]) -> dict[str, dict]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await cloud.find(class_name, {"objectId": {"$in": wanted}}, limit=len(wanted), master=True)
    return {row["objectId"]: row for row in rows}
