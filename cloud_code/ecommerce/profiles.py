"""Accounts, customer profiles and carts: each belongs to one user, who
alone (with admins) reads and changes it."""

from __future__ import annotations

from bapp import cloud

from .checks import email, fail, owner, owner_acl, unchanged
from .pricing import price


@cloud.before_save("_User")
def user_defaults(req: cloud.Request) -> None:
    """New accounts are readable by admins (the user keeps read and write on
    itself; nobody else reads it), so admins can list customers."""
    if req.original is None:
        acl = dict(req.object.get("ACL") or {})
        acl.setdefault("role:admin", {"read": True})
        req.object["ACL"] = acl


def _owned(req: cloud.Request, user_id: str | None) -> None:
    """The ACL of a new owned object; later only the master key changes it."""
    if user_id is not None:
        if not (req.master and "ACL" in req.object):
            req.object["ACL"] = owner_acl(user_id)
    elif not req.master:
        unchanged(req, "ACL")


@cloud.before_save("Customer")
async def check_customer(req: cloud.Request) -> None:
    obj = req.object
    email(obj)
    if req.original is not None:
        unchanged(req, "user")
        _owned(req, None)
        return
    user_id = await owner(req, "A customer profile")
    if await cloud.first("Customer", {"user": cloud.pointer("_User", user_id)}, master=True):
        raise fail(f"user {user_id} already has a customer profile", cloud.Error.DUPLICATE_VALUE)
    _owned(req, user_id)


@cloud.before_save("Cart")
async def check_cart(req: cloud.Request) -> None:
    """Items are SKU pointers (one per unit); the total is the server's."""
    obj = req.object
    if req.original is not None:
        unchanged(req, "user")
        _owned(req, None)
    else:
        _owned(req, await owner(req, "A cart"))
    priced = await price(obj.get("items") or [])
    obj["total"] = priced.total
