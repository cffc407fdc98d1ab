"""The e-commerce storefront's integration flow over plain REST (Python
standard library only): login, browse products, add to cart, place order.

Start the server with the app and a first admin, then run this script:

    bapp serve --app ecommerce --admin-username admin --admin-password change-me
    python examples/ecommerce/walkthrough.py

Settings (environment): BAPP_URL (http://127.0.0.1:1337/parse), BAPP_APP_ID
(bapp), BAPP_ADMIN_USERNAME (admin), BAPP_ADMIN_PASSWORD (change-me). It
never uses the master key, creates uniquely named users and products, and
can be run again against the same server. Exits non-zero at the first
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


def refused(code: int, method: str, path: str, body: Any = None, **kw: Any) -> str:
    status, answer = call(method, path, body, **kw)
    if not isinstance(answer, dict) or answer.get("code") != code:
        sys.exit(f"FAILED {method} {path}: expected error {code}, got {status} {answer}")
    return answer["error"]


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"  ok: {what}")


def pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def sku_stock(sku_id: str) -> int:
    return ok("GET", f"/classes/SKU/{sku_id}")["stock"]


def main() -> None:
    print(f"E-commerce storefront at {URL}")

    print("1. The admin logs in and adds a product with two SKUs")
    admin = ok("POST", "/login", {"username": ADMIN[0], "password": ADMIN[1]})["sessionToken"]
    tee = ok("POST", "/classes/Product", {"name": f"Tee {RUN}", "price": 20, "description": "Cotton"}, token=admin)
    small = ok("POST", "/classes/SKU", {"product": pointer("Product", tee["objectId"]), "variation": "S", "stock": 5},
               token=admin)["objectId"]
    large = ok("POST", "/classes/SKU", {"product": pointer("Product", tee["objectId"]), "variation": "L", "stock": 1},
               token=admin)["objectId"]

    print("2. A shopper signs up (POST /users, then POST /login) and creates a profile")
    ok("POST", "/users", {"username": f"alice_{RUN}", "password": "pw", "address": "1 Main St"})
    alice = ok("POST", "/login", {"username": f"alice_{RUN}", "password": "pw"})
    token = alice["sessionToken"]
    message = refused(125, "POST", "/classes/Customer", {"name": "Alice", "email": "alice-at-example"}, token=token)
    check(message == "Email address format is invalid.", "a malformed email is refused (125)")
    profile = ok("POST", "/classes/Customer", {"name": "Alice", "email": f"alice_{RUN}@example.com"}, token=token)

    print("3. Browse products (GET /classes/Product, no login needed)")
    listed = ok("GET", "/classes/Product", params={"where": {"name": f"Tee {RUN}"}})["results"]
    check([p["price"] for p in listed] == [20], "the tee is listed at 20")
    variations = ok("GET", "/classes/SKU", params={"where": {"product": pointer("Product", tee["objectId"])},
                                                    "order": "variation"})["results"]
    check([(s["variation"], s["stock"]) for s in variations] == [("L", 1), ("S", 5)], "its SKUs: L x1, S x5")

    print("4. Add to cart (POST /classes/Cart)")
    cart = ok("POST", "/classes/Cart", {"items": [pointer("SKU", small)] * 2, "total": 0}, token=token)
    check(cart["total"] == 40, "two S tees: the server totals 40")
    added = ok("PUT", f"/classes/Cart/{cart['objectId']}", {"items": {"__op": "Add", "objects": [pointer("SKU", large)]}},
               token=token)
    check(added["total"] == 60, "one L tee more: 60 (the update answers the new total)")

    print("5. Place the order from the cart (POST /classes/Order)")
    placed = ok("POST", "/classes/Order", {"cart": pointer("Cart", cart["objectId"]), "total": 1}, token=token)
    check(placed["total"] == 60 and placed["status"] == "pending", "order confirmed at 60 (the client's 1 was ignored)")
    check((sku_stock(small), sku_stock(large)) == (3, 0), "SKU stock went to S x3, L x0")
    emptied = ok("GET", f"/classes/Cart/{cart['objectId']}", token=token)
    check(emptied["items"] == [] and emptied["total"] == 0, "the cart is empty again")
    order = ok("GET", f"/classes/Order/{placed['objectId']}", token=token)
    check(order["customer"]["objectId"] == profile["objectId"], "the order is linked to alice's profile")
    message = refused(142, "POST", "/classes/Order", {"items": [pointer("SKU", large)]}, token=token)
    check(message == f"Insufficient stock for SKU {large}", "the sold-out L tee cannot be ordered again")

    print("6. Customers see only their own orders and profile")
    ok("POST", "/users", {"username": f"bob_{RUN}", "password": "pw"})
    bob = ok("POST", "/login", {"username": f"bob_{RUN}", "password": "pw"})["sessionToken"]
    check(ok("GET", "/classes/Order", token=bob)["results"] == [], "bob sees no orders")
    check(ok("GET", "/classes/Customer", token=bob)["results"] == [], "bob sees no profiles")
    refused(101, "GET", f"/classes/Order/{placed['objectId']}", token=bob)
    print("  ok: bob cannot open alice's order (101)")

    print("7. The admin ships the order; alice sees the new status")
    refused(119, "PUT", f"/classes/Order/{placed['objectId']}", {"status": "shipped"}, token=token)
    print("  ok: alice cannot change the status herself (119)")
    ok("PUT", f"/classes/Order/{placed['objectId']}", {"status": "shipped"}, token=admin)
    check(ok("GET", f"/classes/Order/{placed['objectId']}", token=token)["status"] == "shipped", "alice sees shipped")
    print("done")


if __name__ == "__main__":
    main()
