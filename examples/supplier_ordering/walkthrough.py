"""The supplier ordering app's integration flow over plain REST (Python
standard library only): login, check inventory levels, the purchase order
raised automatically when stock drops below its threshold, a manual
purchase order, viewing and receiving purchase orders, and an Automation
rule switching automatic orders off.

Start the server with the app and a first admin, then run this script:

    bapp serve --app supplier_ordering --admin-username admin --admin-password change-me
    python examples/supplier_ordering/walkthrough.py

Settings (environment): BAPP_URL (http://127.0.0.1:1337/parse), BAPP_APP_ID
(bapp), BAPP_ADMIN_USERNAME (admin), BAPP_ADMIN_PASSWORD (change-me). It
never uses the master key, creates uniquely named users, suppliers and
products, and can be run again against the same server. Exits non-zero at
the first answer that is not what the app promises."""

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


def user(role: str, admin: str) -> str:
    """A new user the admin puts in ``role``; returns their session token."""
    username = f"{role}-{RUN}"
    ok("POST", "/users", {"username": username, "password": "pw-" + RUN})
    ok("POST", "/functions/assignRole", {"username": username, "role": role}, token=admin)
    return ok("POST", "/login", {"username": username, "password": "pw-" + RUN})["sessionToken"]


def orders_for(supplier: str, token: str) -> list[dict]:
    """GET /classes/PurchaseOrder (one supplier's, oldest first)."""
    return ok("GET", "/classes/PurchaseOrder", token=token,
              params={"where": {"supplier": pointer("Supplier", supplier)}, "order": "createdAt"})["results"]


def main() -> None:
    print(f"Supplier ordering at {URL}")
    admin = ok("POST", "/login", {"username": ADMIN[0], "password": ADMIN[1]})["sessionToken"]
    buyer, clerk = user("manager", admin), user("staff", admin)

    print("the buyer sets up a supplier, a product and its inventory")
    refused(142, "a malformed contact email is refused", "POST", "/classes/Supplier",
            {"name": "Nope", "contactEmail": "sales-at-acme"}, token=buyer)
    supplier = ok("POST", "/classes/Supplier", {"name": f"Acme {RUN}", "contactEmail": "sales@acme.example",
                                                "phone": "+47 555 0100"}, token=buyer)["objectId"]
    nut = ok("POST", "/classes/Product", {"name": f"Nut {RUN}", "price": 0.25,
                                          "supplier": pointer("Supplier", supplier)}, token=buyer)["objectId"]
    row = ok("POST", "/classes/Inventory", {"product": pointer("Product", nut), "quantity": 20, "threshold": 10},
             token=buyer)["objectId"]

    print("check inventory levels; stock drops below the threshold")
    level = ok("GET", f"/classes/Inventory/{row}", token=clerk)
    check((level["quantity"], level["lowStock"]) == (20, False), "GET /classes/Inventory: 20 units, not low")
    ok("PUT", f"/classes/Inventory/{row}", {"quantity": 6}, token=buyer)
    [auto] = orders_for(supplier, buyer)
    line = auto["products"][0]
    check(auto["automated"] and auto["status"] == "pending", "a purchase order was raised automatically")
    check((line["quantity"], auto["totalAmount"]) == (14, 3.5), "14 nuts (back to twice the threshold) for 3.50")
    ok("PUT", f"/classes/Inventory/{row}", {"quantity": {"__op": "Increment", "amount": -1}}, token=buyer)
    check(len(orders_for(supplier, buyer)) == 1, "never a second one while it is open")

    print("a manual purchase order is priced by the server")
    manual = ok("POST", "/classes/PurchaseOrder", {
        "supplier": pointer("Supplier", supplier), "totalAmount": 0.01,
        "products": [{"product": pointer("Product", nut), "quantity": 100}]}, token=buyer)
    check(manual["totalAmount"] == 25.0, "100 nuts at 0.25: 25.00, whatever the client sent")

    print("view and receive purchase orders")
    check(len(orders_for(supplier, clerk)) == 2, "the clerk sees both purchase orders")
    ok("PUT", f"/classes/PurchaseOrder/{auto['objectId']}", {"status": "received"}, token=buyer)
    level = ok("GET", f"/classes/Inventory/{row}", token=clerk)
    check((level["quantity"], level["lowStock"]) == (19, False), "receiving added the 14 nuts: 5 + 14 = 19")
    refused(119, "a received purchase order cannot change", "PUT", f"/classes/PurchaseOrder/{auto['objectId']}",
            {"status": "pending"}, token=buyer)

    print("an automation rule switches automatic orders off for this supplier")
    ok("POST", "/classes/Automation", {"trigger": "inventory.low_stock", "action": "create_purchase_order",
                                       "supplier": pointer("Supplier", supplier), "active": False}, token=admin)
    ok("PUT", f"/classes/Inventory/{row}", {"quantity": 2}, token=buyer)
    check(len(orders_for(supplier, buyer)) == 2, "stock is low again, but no new purchase order")

    print("the clerk places an order and sees only their own")
    mine = ok("POST", "/classes/Order", {"supplier": pointer("Supplier", supplier), "product": pointer("Product", nut),
                                         "quantity": 50}, token=clerk)
    seen = ok("GET", "/classes/Order", token=clerk)["results"]
    check([o["objectId"] for o in seen] == [mine["objectId"]], "GET /classes/Order: just the clerk's order")
    print("done")


if __name__ == "__main__":
    main()
