"""LiveQuery security: a subscriber only receives what it could read through
REST at that moment (ACL with roles, CLP, pointer permissions, protected
fields), master sees everything, and bad or expired tokens get an error."""

from __future__ import annotations

from typing import Any

from test_livequery import LiveSocket, live, make_class

from bapp.core.auth import Auth
from bapp.core.schema import CLP_OPERATIONS

PUBLIC = {"*": True}


async def set_clp(api: Any, class_name: str, **ops: Any) -> None:
    """Replaces the class's CLP; operations not given stay public."""
    schema = await api.engine.schemas.get(class_name)
    clp = {op: PUBLIC for op in CLP_OPERATIONS}
    clp["protectedFields"] = {}
    clp.update(ops)
    schema.clp = clp
    await api.engine.schemas.save(schema)


async def user(api: Any, name: str, **fields: Any) -> dict:
    return await api.signup(name, **fields)


def ptr(u: dict) -> dict:
    return {"__type": "Pointer", "className": "_User", "objectId": u["objectId"]}


async def test_acl_private_object_reaches_only_its_reader(api):
    await make_class(api, "Doc")
    alice, bob = await user(api, "alice"), await user(api, "bob")
    sa = await LiveSocket.connected(api, sessionToken=alice["sessionToken"])
    sb = await LiveSocket.connected(api, sessionToken=bob["sessionToken"])
    anon = await LiveSocket.connected(api)
    for s in (sa, sb, anon):
        await s.subscribe("Doc", {})
    _, doc = await api.post("/classes/Doc", {"t": 1, "ACL": {alice["objectId"]: {"read": True}}}, master=True)
    ev = await sa.event()
    assert ev["op"] == "create" and ev["object"]["objectId"] == doc["objectId"]
    assert ev["object"]["ACL"] == {alice["objectId"]: {"read": True}}
    await sb.nothing_pending()
    await anon.nothing_pending()


async def test_subscription_token_wins_over_connect_token(api):
    await make_class(api, "Doc")
    alice, bob = await user(api, "alice"), await user(api, "bob")
    sock = await LiveSocket.connected(api, sessionToken=bob["sessionToken"])
    await sock.subscribe("Doc", {}, request_id=1, sessionToken=alice["sessionToken"])
    await sock.subscribe("Doc", {}, request_id=2)  # falls back to bob's connect token
    await api.post("/classes/Doc", {"ACL": {alice["objectId"]: {"read": True}}}, master=True)
    assert (await sock.event())["requestId"] == 1
    await sock.nothing_pending()
    await api.post("/classes/Doc", {"ACL": {bob["objectId"]: {"read": True}}}, master=True)
    assert (await sock.event())["requestId"] == 2
    await sock.nothing_pending()


async def _role(api: Any, name: str, users: list[dict] = (), roles: list[str] = ()) -> str:
    body: dict[str, Any] = {"name": name, "ACL": {"*": {"read": True}}}
    if users:
        body["users"] = {"__op": "AddRelation", "objects": [ptr(u) for u in users]}
    if roles:
        body["roles"] = {"__op": "AddRelation",
                         "objects": [{"__type": "Pointer", "className": "_Role", "objectId": r} for r in roles]}
    status, out = await api.post("/classes/_Role", body, master=True)
    assert status == 201, out
    return out["objectId"]


async def test_role_acl_with_hierarchy(api):
    await make_class(api, "Doc")
    alice, bob = await user(api, "alice"), await user(api, "bob")
    staff = await _role(api, "Staff", users=[alice])
    await _role(api, "Admins", roles=[staff])  # Staff members are Admins too
    sa = await LiveSocket.connected(api, sessionToken=alice["sessionToken"])
    sb = await LiveSocket.connected(api, sessionToken=bob["sessionToken"])
    await sa.subscribe("Doc", {})
    await sb.subscribe("Doc", {})
    _, doc = await api.post("/classes/Doc", {"ACL": {"role:Admins": {"read": True}}}, master=True)
    assert (await sa.event())["object"]["objectId"] == doc["objectId"]
    await sb.nothing_pending()


async def test_role_lookups_hit_the_cache_not_the_database(api):
    await make_class(api, "Doc")
    alice = await user(api, "alice")
    await _role(api, "Staff", users=[alice])
    socks = [await LiveSocket.connected(api, sessionToken=alice["sessionToken"]) for _ in range(5)]
    for s in socks:
        await s.subscribe("Doc", {})
    loads = api.engine.auth.role_loads
    for i in range(10):
        await api.post("/classes/Doc", {"i": i, "ACL": {"role:Staff": {"read": True}}}, master=True)
        for s in socks:
            assert (await s.event())["object"]["i"] == i
    assert api.engine.auth.role_loads - loads <= 1


async def test_acl_change_gives_leave_and_enter(api):
    await make_class(api, "Doc")
    alice, bob = await user(api, "alice"), await user(api, "bob")
    sb = await LiveSocket.connected(api, sessionToken=bob["sessionToken"])
    await sb.subscribe("Doc", {})
    _, doc = await api.post("/classes/Doc", {"n": 1}, master=True)
    assert (await sb.event())["op"] == "create"
    await api.put(f"/classes/Doc/{doc['objectId']}", {"ACL": {alice["objectId"]: {"read": True}}}, master=True)
    ev = await sb.event()
    assert ev["op"] == "leave" and "ACL" not in ev["original"]
    await api.put(f"/classes/Doc/{doc['objectId']}", {"n": 2}, master=True)  # hidden from bob
    await sb.nothing_pending()
    await api.put(f"/classes/Doc/{doc['objectId']}", {"ACL": {"*": {"read": True}}}, master=True)
    ev = await sb.event()
    assert ev["op"] == "enter" and ev["object"]["n"] == 2
    await api.delete(f"/classes/Doc/{doc['objectId']}", master=True)
    assert (await sb.event())["op"] == "delete"


async def test_delete_of_an_unreadable_object_is_not_announced(api):
    await make_class(api, "Doc")
    alice, bob = await user(api, "alice"), await user(api, "bob")
    sb = await LiveSocket.connected(api, sessionToken=bob["sessionToken"])
    await sb.subscribe("Doc", {})
    _, doc = await api.post("/classes/Doc", {"ACL": {alice["objectId"]: {"read": True}}}, master=True)
    await api.delete(f"/classes/Doc/{doc['objectId']}", master=True)
    await sb.nothing_pending()


async def test_master_key_client_sees_everything(api):
    await make_class(api, "Doc")
    await set_clp(api, "Doc", find={}, get={}, protectedFields={"*": ["secret"]})
    sock = await LiveSocket.connected(api, masterKey="test-master-key")
    await sock.subscribe("Doc", {"secret": "s"})
    _, doc = await api.post("/classes/Doc", {"secret": "s", "ACL": {}}, master=True)
    ev = await sock.event()
    assert ev["object"]["objectId"] == doc["objectId"] and ev["object"]["secret"] == "s"


async def test_a_wrong_master_key_is_an_ordinary_client(api):
    await make_class(api, "Doc")
    sock = await LiveSocket.connected(api, masterKey="not-the-key")
    await sock.subscribe("Doc", {})
    await api.post("/classes/Doc", {"ACL": {}}, master=True)
    await sock.nothing_pending()


async def test_master_key_from_a_disallowed_address_is_ignored(api):
    await make_class(api, "Doc")
    api.engine.settings.master_key_ips = ["10.9.9.9"]
    sock = await LiveSocket.connected(api, masterKey="test-master-key")
    await sock.subscribe("Doc", {})
    await api.engine.create("Doc", {"n": 1, "ACL": {}}, Auth.as_master())
    await sock.nothing_pending()
    _, doc = await api.post("/classes/Doc", {"n": 2}, master=False)
    assert (await sock.event())["object"]["objectId"] == doc["objectId"]


async def test_clp_requires_authentication(api):
    await make_class(api, "Doc")
    await set_clp(api, "Doc", find={"requiresAuthentication": True}, get={"requiresAuthentication": True})
    anon = await LiveSocket.connected(api)
    reply = await anon.subscribe("Doc", {}, expect="error")
    assert reply["code"] == 101 and reply["error"] == "Permission denied"
    assert reply["reconnect"] is False and reply["requestId"] == 1
    alice = await user(api, "alice")
    sa = await LiveSocket.connected(api, sessionToken=alice["sessionToken"])
    await sa.subscribe("Doc", {})
    await api.post("/classes/Doc", {"n": 1}, master=True)
    assert (await sa.event())["op"] == "create"


async def test_clp_denied_find_is_refused_but_get_by_id_allowed(api):
    await make_class(api, "Doc")
    _, doc = await api.post("/classes/Doc", {"n": 1}, master=True)
    await set_clp(api, "Doc", find={}, get=PUBLIC)
    sock = await LiveSocket.connected(api)
    reply = await sock.subscribe("Doc", {}, expect="error")
    assert reply["code"] == 119 and reply["error"] == "Permission denied"
    await sock.subscribe("Doc", {"objectId": doc["objectId"]}, request_id=2)
    await api.put(f"/classes/Doc/{doc['objectId']}", {"n": 2}, master=True)
    assert (await sock.event())["op"] == "update"


async def test_clp_revoked_after_subscribing_stops_events(api):
    await make_class(api, "Doc")
    sock = await LiveSocket.connected(api)
    await sock.subscribe("Doc", {})
    await set_clp(api, "Doc", find={}, get={})
    await api.post("/classes/Doc", {"n": 1}, master=True)
    await sock.nothing_pending()


async def test_pointer_permissions_limit_events_to_the_pointed_user(api):
    await make_class(api, "Doc", owner={"__type": "Pointer", "className": "_User", "objectId": "x"})
    alice, bob = await user(api, "alice"), await user(api, "bob")
    await set_clp(api, "Doc", find={}, get={}, readUserFields=["owner"])
    sa = await LiveSocket.connected(api, sessionToken=alice["sessionToken"])
    await sa.subscribe("Doc", {})
    await api.post("/classes/Doc", {"owner": ptr(bob)}, master=True)
    await sa.nothing_pending()
    _, doc = await api.post("/classes/Doc", {"owner": ptr(alice)}, master=True)
    assert (await sa.event())["op"] == "create"
    await api.put(f"/classes/Doc/{doc['objectId']}", {"owner": ptr(bob)}, master=True)
    assert (await sa.event())["op"] == "leave"
    anon = await LiveSocket.connected(api)
    await anon.subscribe("Doc", {})
    await api.post("/classes/Doc", {"owner": ptr(alice)}, master=True)
    assert (await sa.event())["op"] == "create"
    await anon.nothing_pending()


async def test_protected_fields_are_removed_from_object_and_original(api):
    await make_class(api, "Doc")
    await set_clp(api, "Doc", protectedFields={"*": ["secret"]})
    sock = await LiveSocket.connected(api)
    await sock.subscribe("Doc", {})
    _, doc = await api.post("/classes/Doc", {"secret": "s1", "open": 1}, master=True)
    ev = await sock.event()
    assert "secret" not in ev["object"] and ev["object"]["open"] == 1
    await api.put(f"/classes/Doc/{doc['objectId']}", {"secret": "s2"}, master=True)
    ev = await sock.event()
    assert "secret" not in ev["object"] and "secret" not in ev["original"]


async def test_protected_fields_do_not_leak_between_subscribers(api):
    await make_class(api, "Doc")
    alice = await user(api, "alice")
    await set_clp(api, "Doc", protectedFields={"*": ["secret"], alice["objectId"]: []})
    sa = await LiveSocket.connected(api, sessionToken=alice["sessionToken"])
    anon = await LiveSocket.connected(api)
    await anon.subscribe("Doc", {})
    await sa.subscribe("Doc", {})
    await api.post("/classes/Doc", {"secret": "s"}, master=True)
    assert "secret" not in (await anon.event())["object"]
    assert (await sa.recv())["object"]["secret"] == "s"


async def test_where_or_watch_on_a_protected_field_is_refused(api):
    await make_class(api, "Doc")
    await set_clp(api, "Doc", protectedFields={"*": ["secret"]})
    sock = await LiveSocket.connected(api)
    for where, extra in (({"secret": "x"}, {}), ({"$or": [{"a": 1}, {"secret.x": {"$regex": "^a"}}]}, {}),
                         ({}, {"watch": ["secret"]})):
        reply = await sock.subscribe("Doc", where, expect="error", **extra)
        assert reply["code"] == 119 and reply["error"] == "Permission denied"  # sanitized, as on REST
    assert live(api).stats()["subscriptions"] == 0


async def test_invalid_session_token_gets_an_error_not_a_silent_stream(api):
    sock = await LiveSocket.connected(api)
    reply = await sock.subscribe("Doc", {}, request_id=3, sessionToken="r:nope", expect="error")
    assert reply == {"op": "error", "error": "Invalid session token", "code": 209, "reconnect": False,
                     "requestId": 3}
    bad = await LiveSocket.connected(api, sessionToken="r:nope")  # connect itself is accepted, as Parse
    reply = await bad.subscribe("Doc", {}, expect="error")
    assert reply["code"] == 209
    assert live(api).stats()["subscriptions"] == 0


async def test_logout_ends_the_subscription_with_an_error(api):
    await make_class(api, "Doc")
    alice = await user(api, "alice")
    sock = await LiveSocket.connected(api, sessionToken=alice["sessionToken"])
    await sock.subscribe("Doc", {}, request_id=6)
    await api.post("/classes/Doc", {"n": 1}, master=True)
    assert (await sock.event())["op"] == "create"
    status, _ = await api.post("/logout", {}, token=alice["sessionToken"])
    assert status == 200
    await api.post("/classes/Doc", {"n": 2}, master=True)
    reply = await sock.event()
    assert reply == {"op": "error", "error": "Invalid session token", "code": 209, "reconnect": False,
                     "requestId": 6}
    assert live(api).stats()["subscriptions"] == 0
    await api.post("/classes/Doc", {"n": 3}, master=True)
    await sock.nothing_pending()


async def test_user_events_never_carry_secrets(api):
    alice = await user(api, "alice", email="a@example.com")
    sa = await LiveSocket.connected(api, sessionToken=alice["sessionToken"])
    master = await LiveSocket.connected(api, masterKey="test-master-key")
    await sa.subscribe("_User", {})
    await master.subscribe("_User", {})
    await api.put(f"/users/{alice['objectId']}", {"nick": "al"}, token=alice["sessionToken"])
    own = (await sa.event())["object"]
    assert own["nick"] == "al" and own["email"] == "a@example.com" and own["className"] == "_User"
    seen = (await master.recv())["object"]
    for obj in (own, seen):
        assert not {"sessionToken", "password", "_hashed_password"} & set(obj)


async def test_other_users_email_is_protected_in_events(api):
    alice = await user(api, "alice", email="a@example.com")
    bob = await user(api, "bob")
    await api.put(f"/users/{alice['objectId']}", {"ACL": {"*": {"read": True}}}, master=True)
    sb = await LiveSocket.connected(api, sessionToken=bob["sessionToken"])
    await sb.subscribe("_User", {"username": "alice"})
    await api.put(f"/users/{alice['objectId']}", {"nick": "al"}, master=True)
    obj = (await sb.event())["object"]
    assert obj["nick"] == "al" and "email" not in obj


async def test_session_subscriptions_see_only_own_sessions(api):
    anon = await LiveSocket.connected(api)
    reply = await anon.subscribe("_Session", {}, expect="error")
    assert reply["code"] == 209
    alice = await user(api, "alice")
    await user(api, "bob")
    sa = await LiveSocket.connected(api, sessionToken=alice["sessionToken"])
    await sa.subscribe("_Session", {})
    await api.post("/login", {"username": "bob", "password": "pw"})
    await sa.nothing_pending()
    status, _ = await api.post("/login", {"username": "alice", "password": "pw"})
    assert status == 200
    ev = await sa.event()
    assert ev["op"] == "create" and ev["object"]["user"]["objectId"] == alice["objectId"]


async def test_system_classes_follow_rest_access_rules(api):
    sock = await LiveSocket.connected(api)
    for class_name in ("_JobStatus", "_Installation", "_Join:users:_Role"):
        reply = await sock.subscribe(class_name, {}, expect="error")
        assert reply["code"] in (103, 119), reply
    assert (await sock.subscribe("_JobStatus", {}, expect="error"))["code"] == 119
    master = await LiveSocket.connected(api, masterKey="test-master-key")
    await master.subscribe("_Installation", {})
