"""Stores, products and users: validation, and the per-store role.

Each store has a role ``manager_<storeId>`` whose only member is the store's
manager. Inventory, Transaction and Order objects of the store carry it in
their ACL, which is how a manager sees and changes only their own store
(CLPs cannot say "rows of my store"); the role is a child of ``manager``,
so its member also passes the classes' ``role:manager`` CLPs. Changing a
store's manager changes the role's member, not thousands of ACLs."""

from __future__ import annotations

from bapp import cloud
from bapp import cloudkit as common

ADMIN = "admin"


def store_role(store_id: str) -> str:
    return f"manager_{store_id}"


def store_acl(*store_ids: str, write: bool = True) -> dict:
    """ACL of a store's records: admins and the stores' managers."""
    acl = {"role:admin": {"read": True, "write": True} if write else {"read": True}}
    for store_id in store_ids:
        acl[f"role:{store_role(store_id)}"] = {"read": True, "write": True} if write else {"read": True}
    return acl


async def can_manage(user: dict | None, store_id: str) -> bool:
    """Admins manage every store; a manager only their own."""
    roles = await common.roles_of(user)
    return ADMIN in roles or store_role(store_id) in roles


async def require_store_access(req, store_id: str) -> None:
    if req.master:
        return
    if not await can_manage(req.user, store_id):
        raise common.forbidden("You do not manage this store")


# ------------------------------------------------------------------ Store

@cloud.before_save("Store")
async def check_store(req) -> None:
    common.text(req.object, "name", required=True)
    common.text(req.object, "location")
    if common.changed(req, "manager"):
        await common.reference(req.object, "manager", "_User")
        # The store's manager may edit the store (pointer permission), but
        # handing it to someone else is an admin's decision.
        if not req.master and ADMIN not in await common.roles_of(req.user):
            raise common.forbidden("Only an admin can change a store's manager")


@cloud.after_save("Store")
async def sync_store_role(req) -> None:
    if req.original is not None and not common.changed(req, "manager"):
        return
    role = await common.ensure_role(store_role(req.object["objectId"]), {"role:admin": {"read": True}})
    if req.original is None:
        parent = await common.ensure_role("manager", {})
        await cloud.update("_Role", parent["objectId"],
                           {"roles": {"__op": "AddRelation", "objects": [cloud.pointer(role)]}}, master=True)
    await _set_members(role, common.pointer_id(req.object.get("manager"), "_User"))


async def _set_members(role: dict, user_id: str | None) -> None:
    members = await common.find_all("_User", {"$relatedTo": {"object": cloud.pointer(role), "key": "users"}})
    gone = [cloud.pointer("_User", u["objectId"]) for u in members if u["objectId"] != user_id]
    if gone:
        await cloud.update("_Role", role["objectId"], {"users": {"__op": "RemoveRelation", "objects": gone}},
                           master=True)
    if user_id and all(u["objectId"] != user_id for u in members):
        await cloud.update("_Role", role["objectId"],
                           {"users": {"__op": "AddRelation", "objects": [cloud.pointer("_User", user_id)]}},
                           master=True)


@cloud.after_delete("Store")
async def drop_store_role(req) -> None:
    role = await cloud.first("_Role", {"name": store_role(req.object["objectId"])}, master=True)
    if role is not None:
        await cloud.delete("_Role", role["objectId"], master=True)


# ------------------------------------------------------------------ Product

@cloud.before_save("Product")
async def check_product(req) -> None:
    common.text(req.object, "name", required=True)
    common.text(req.object, "sku")
    common.text(req.object, "category")
    common.number(req.object, "price")
    if not req.master:
        # The total of the stores' inventory, kept by the inventory hooks.
        common.server_managed(req, "stock")


# ------------------------------------------------------------------ _User

@cloud.before_save("_User")
async def check_user(req) -> None:
    # Emails are checked by the server itself (125, as Parse Server). The
    # role label is descriptive; access comes from _Role membership, but a
    # user may not label themself admin or manager.
    if not req.master and req.object.get("role", "staff") != "staff":
        common.server_managed(req, "role")
