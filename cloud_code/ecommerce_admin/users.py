"""Users: the ``_User.role`` label is descriptive only (permissions come
from _Role membership) and a client can only call itself a customer; every
new account is readable by admins (the user keeps read and write on itself,
nobody else reads it), so the console can list users."""

from __future__ import annotations

from bapp import cloud

from .checks import fail, one_of

ROLE_LABELS = ("customer", "manager", "admin")


@cloud.before_save("_User")
def check_role_label(req: cloud.Request) -> None:
    one_of(req.object, "role", ROLE_LABELS)
    if req.original is None:
        acl = dict(req.object.get("ACL") or {})
        acl.setdefault("role:admin", {"read": True})
        req.object["ACL"] = acl
    if req.master:
        return
    before = (req.original or {}).get("role", "customer")
    if req.object.get("role", "customer") not in ("customer", before):
        raise fail("role is a label set by administrators", cloud.Error.OPERATION_FORBIDDEN)
