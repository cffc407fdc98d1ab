"""The inventory manager app's integration flow over plain REST (Python
standard library only): login, view SKUs, update inventory, set an alert,
the notification it records once, and a SKU's stock at every location in
one call.

Start the server with the app and a first admin, then run this script:

    bapp serve --app inventory_manager --admin-username admin --admin-password change-me
    python examples/inventory_manager/walkthrough.py

Settings (environment): BAPP_URL (http://127.0.0.1:1337/parse), BAPP_APP_ID
(bapp), BAPP_ADMIN_USERNAME (admin), BAPP_ADMIN_PASSWORD (change-me). It
never uses the master key, creates uniquely named users, locations and SKUs,
and can be run again against the same server. Exits non-zero at the first
answer that is not what the app promises."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

URL = os.environ.get("BAPP_URL", "http://127.0.0.1:1337/parse").rstrip("/")
APP_ID = os.environ.get("BAPP_APP_ID", "bapp")
ADMIN = (os.environ.get("BAPP_ADMIN_USERNAME", "admin"), os.environ.get("BAPP_ADMIN_PASSWORD", "change-me"))
RUN = format(int(time.time() * 1000), "x")


def call(method: str, path: str, body: Any = None, token: str | None = None,
         params: dict | None = None) -> tuple[int, Any]:
    """One REST call; returns (HTTP status, decoded JSON body)."""
    query = "?" + urllib.parse.urlencode({k: v if isinstance(v, str) else json.dumps(v)
                                          for k, v in params.items()}) if params else ""
    headers = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
    if token:
        headers["X-Parse-Session-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(URL + path + query, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def ok(method: str, path: str, body: Any = None, **kw: Any) -> Any:
    status, answer = call(method, path, body, **kw)
    if status not in (200, 201):
        sys.exit(f"FAILED {method} {path}: {status} {answer}")
    return answer


def refused(code: int, what: str, method: str, path: str, body: Any = None, **kw: Any) -> str:
    status, answer = call(method, path, body, **kw)
    if not isinstance(answer, dict) or answer.get("code") != code:
        sys.exit(f"FAILED {what}: {method} {path}: expected error {code}, got {status} {answer}")
    print(f"  ok: {what} ({code} {answer['error']})")
    return answer["error"]


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"  ok: {what}")


def pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def notes(token: str) -> list[dict]:
    return ok("GET", "/classes/Notification", token=token, params={"order": "createdAt"})["results"]


def set_quantity(row: str, quantity: Any, token: str) -> None:
    """PUT /classes/Inventory/:objectId"""
    ok("PUT", f"/classes/Inventory/{row}", {"quantity": quantity}, token=token)


def main() -> None:
    print(f"Inventory manager at {URL}")
    admin = ok("POST", "/login", {"username": ADMIN[0], "password": ADMIN[1]})["sessionToken"]
    print("admin: two locations and a stock keeper")
    north = ok("POST", "/classes/Location", {"name": f"North {RUN}", "address": "1 Fjord Rd"}, token=admin)["objectId"]
    south = ok("POST", "/classes/Location", {"name": f"South {RUN}"}, token=admin)["objectId"]
    ok("POST", "/users", {"username": f"keeper-{RUN}", "password": "pw-" + RUN})
    ok("POST", "/functions/assignRole", {"username": f"keeper-{RUN}", "role": "manager"}, token=admin)
    keeper = ok("POST", "/login", {"username": f"keeper-{RUN}", "password": "pw-" + RUN})["sessionToken"]

    print("the keeper records a SKU at both locations")
    sku = ok("POST", "/classes/SKU", {"name": f"Bolt {RUN}", "identifier": f"B-{RUN}"}, token=keeper)["objectId"]
    rows = {}
    for location, quantity in ((north, 10), (south, 6)):
        rows[location] = ok("POST", "/classes/Inventory", {"sku": pointer("SKU", sku), "quantity": quantity,
                                                           "location": pointer("Location", location)},
                            token=keeper)["objectId"]
    refused(142, "a negative quantity is refused", "PUT", f"/classes/Inventory/{rows[north]}", {"quantity": -1},
            token=keeper)

    print("alice signs up, views SKUs and sets an alert")
    alice = ok("POST", "/users", {"username": f"alice-{RUN}", "password": "pw-" + RUN})["sessionToken"]
    listed = ok("GET", "/classes/SKU", token=alice, params={"where": {"identifier": f"B-{RUN}"}})["results"]
    check(listed[0]["stockLevel"] == 16, "GET /classes/SKU: the bolt, 16 in stock")
    alert = ok("POST", "/classes/Alert", {"sku": pointer("SKU", sku), "threshold": 12,
                                          "notification": f"Bolts below 12 ({RUN})"}, token=alice)
    check(alert["triggered"] is False, "the alert is armed (16 is not below 12)")

    print("stock drops below the threshold: one notification")
    set_quantity(rows[north], 4, keeper)
    check([n["quantity"] for n in notes(alice)] == [10], "a drop to 10 recorded one notification")
    set_quantity(rows[north], {"__op": "Increment", "amount": -2}, keeper)
    check(len(notes(alice)) == 1, "a further drop to 8 records nothing new")
    set_quantity(rows[north], 9, keeper)
    set_quantity(rows[north], 1, keeper)
    check([n["quantity"] for n in notes(alice)] == [10, 7], "recovered to 15, dropped to 7: a second one")

    print("alerts and notifications are alice's")
    bob = ok("POST", "/users", {"username": f"bob-{RUN}", "password": "pw-" + RUN})["sessionToken"]
    check(notes(bob) == [], "bob sees none of alice's notifications")
    refused(101, "bob cannot delete alice's alert", "DELETE", f"/classes/Alert/{alert['objectId']}", token=bob)

    print("sync across locations: one call")
    stock = ok("POST", "/functions/skuStock", {"identifier": f"B-{RUN}"}, token=bob)["result"]
    here = {entry["location"]["objectId"]: entry["quantity"] for entry in stock["locations"]}
    check((here[north], here[south], stock["total"]) == (1, 6, 7), "skuStock: north 1, south 6, total 7")
    print("done")


if __name__ == "__main__":
    main()
