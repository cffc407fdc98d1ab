"""The multi-store inventory app's integration flow over plain REST (Python
standard library only): login, view a store's inventory, record
transactions (in, transfer, out), update a quantity, fulfil an order, and
see that a manager reaches only their own store.

Start the server with the app and a first admin, then run this script:

    bapp serve --app multi_store_inventory --admin-username admin --admin-password change-me
    python examples/multi_store_inventory/walkthrough.py

Settings (environment): BAPP_URL (http://127.0.0.1:1337/parse), BAPP_APP_ID
(bapp), BAPP_ADMIN_USERNAME (admin), BAPP_ADMIN_PASSWORD (change-me). It
never uses the master key, creates uniquely named users, stores and
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


def inventory(store: str, product: str, token: str) -> dict | None:
    """GET /classes/Inventory (by store): the store's row for a product."""
    rows = ok("GET", "/classes/Inventory", token=token,
              params={"where": {"store": pointer("Store", store), "product": pointer("Product", product)}})
    return rows["results"][0] if rows["results"] else None


def movement(store: str, product: str, quantity: float, kind: str, **extra: Any) -> dict:
    return {"store": pointer("Store", store), "product": pointer("Product", product), "quantity": quantity,
            "transactionType": kind, **extra}


def main() -> None:
    print(f"Multi-store inventory at {URL}")
    admin = ok("POST", "/login", {"username": ADMIN[0], "password": ADMIN[1]})["sessionToken"]
    print("admin: two stores with their managers, one product")
    managers = {}
    for name in ("north", "south"):
        username = f"{name}-manager-{RUN}"
        user = ok("POST", "/users", {"username": username, "password": "pw-" + RUN})
        managers[name] = {"id": user["objectId"], "token": user["sessionToken"]}
    north = ok("POST", "/classes/Store", {"name": f"North {RUN}", "location": "Oslo",
                                          "manager": pointer("_User", managers["north"]["id"])}, token=admin)["objectId"]
    south = ok("POST", "/classes/Store", {"name": f"South {RUN}", "location": "Bergen",
                                          "manager": pointer("_User", managers["south"]["id"])}, token=admin)["objectId"]
    product = ok("POST", "/classes/Product", {"name": f"Widget {RUN}", "sku": f"W-{RUN}", "price": 2.5},
                 token=admin)["objectId"]

    print("north's manager logs in and works on their store")
    me = ok("POST", "/login", {"username": f"north-manager-{RUN}", "password": "pw-" + RUN})["sessionToken"]
    check(inventory(north, product, me) is None, "the store has no stock of the new product yet")
    ok("POST", "/classes/Transaction", movement(north, product, 10, "in", note="delivery"), token=me)
    row = inventory(north, product, me)
    check(row["quantity"] == 10, "an 'in' transaction added 10 units")
    ok("PUT", f"/classes/Inventory/{row['objectId']}", {"quantity": 12, "threshold": 3}, token=me)
    check(inventory(north, product, me)["quantity"] == 12, "a stock count set the quantity to 12")
    ok("POST", "/classes/Transaction", movement(north, product, 5, "transfer", toStore=pointer("Store", south)),
       token=me)
    check(inventory(north, product, me)["quantity"] == 7, "a transfer of 5 left 7 in north")
    refused(142, "taking 8 of 7 is refused", "POST", "/classes/Transaction", movement(north, product, 8, "out"),
            token=me)
    refused(119, "north's manager cannot move south's stock", "POST", "/classes/Transaction",
            movement(south, product, 1, "out"), token=me)

    print("south's manager sees only south")
    theirs = managers["south"]["token"]
    refused(101, "north's row is invisible to south's manager", "GET", f"/classes/Inventory/{row['objectId']}",
            token=theirs)
    check(inventory(south, product, theirs)["quantity"] == 5, "south received the 5 transferred units")

    print("an order is fulfilled from stock")
    order = ok("POST", "/classes/Order", {"store": pointer("Store", north), "product": pointer("Product", product),
                                          "quantity": 2}, token=me)
    done = ok("POST", "/functions/fulfillOrder", {"orderId": order["objectId"]}, token=me)["result"]
    check(done["status"] == "fulfilled", "fulfillOrder fulfilled the order")
    check(inventory(north, product, me)["quantity"] == 5, "and took its 2 units from north")

    print("the admin sees every store")
    stock = ok("POST", "/functions/productStock", {"productId": product}, token=admin)["result"]
    check(stock["total"] == 10 and len(stock["stores"]) == 2, "productStock: 5 + 5 = 10 across two stores")
    check(ok("GET", f"/classes/Product/{product}", token=admin)["stock"] == 10, "Product.stock is the total")
    print("done")


if __name__ == "__main__":
    main()
