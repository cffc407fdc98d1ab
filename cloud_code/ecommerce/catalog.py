"""Products and their SKU variations (public to read, managed by admins)."""

from __future__ import annotations

from bapp import cloud

from .checks import existing, non_negative, unchanged
from .stock import STOCK_MOVE


@cloud.before_save("Product")
def check_product(req: cloud.Request) -> None:
    non_negative(req.object, "price")


@cloud.after_delete("Product")
async def drop_skus(req: cloud.Request) -> None:
    """A deleted product takes its SKUs with it."""
    for sku in await cloud.find("SKU", {"product": cloud.pointer(req.object)}, limit=1000, master=True):
        await cloud.delete("SKU", sku["objectId"], master=True)


@cloud.before_save("SKU")
async def check_sku(req: cloud.Request) -> None:
    if not (req.master and req.context.get(STOCK_MOVE)):
        non_negative(req.object, "stock", whole=True)
    if req.original is None:
        await existing(req.object.get("product"), "product", "Product")
    else:
        unchanged(req, "product")
