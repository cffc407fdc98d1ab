"""The e-commerce admin console's integration flow over plain REST (Python
standard library only): login, view products, place an order, log access.

Start the server with the app and a first admin, then run this script:

    bapp serve --app ecommerce_admin --admin-username admin --admin-password change-me
    python examples/ecommerce_admin/walkthrough.py

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


def main() -> None:
    print(f"E-commerce admin console at {URL}")

    print("1. The admin logs in and stocks the catalogue")
    admin = ok("POST", "/login", {"username": ADMIN[0], "password": ADMIN[1]})["sessionToken"]
    mug = ok("POST", "/classes/Product", {"name": f"Mug {RUN}", "price": 9.5, "category": "kitchen"}, token=admin)
    lamp = ok("POST", "/classes/Product", {"name": f"Lamp {RUN}", "price": 30, "category": "home"}, token=admin)
    mug_stock = ok("POST", "/classes/Inventory", {"product": pointer("Product", mug["objectId"]), "stock": 3},
                   token=admin)
    ok("POST", "/classes/Inventory", {"product": pointer("Product", lamp["objectId"]), "stock": 5}, token=admin)
    message = refused(142, "POST", "/classes/Product", {"name": "Broken", "price": -1}, token=admin)
    check(message == "price must be a non-negative number", "a negative price is refused (142)")

    print("2. A customer signs up and logs in")
    ok("POST", "/users", {"username": f"alice_{RUN}", "password": "pw", "email": f"alice_{RUN}@example.com"})
    alice = ok("POST", "/login", {"username": f"alice_{RUN}", "password": "pw"})
    token = alice["sessionToken"]
    refused(119, "POST", "/classes/Product", {"name": "Mine", "price": 1}, token=token)
    print("  ok: customers cannot create products (119)")

    print("3. The customer views products (GET /classes/Product)")
    listed = ok("GET", "/classes/Product", token=token, params={"where": {"name": {"$regex": RUN}}, "order": "name"})
    check([p["name"] for p in listed["results"]] == [f"Lamp {RUN}", f"Mug {RUN}"], "both products are listed")
    viewed = ok("GET", f"/classes/Product/{mug['objectId']}", token=token)
    check(viewed["price"] == 9.5, "one product is opened (recorded in AccessLog)")
    stock = ok("GET", f"/classes/Inventory/{mug_stock['objectId']}", token=token)["stock"]
    check(stock == 3, "the customer sees 3 mugs in stock")

    print("4. The customer places an order (POST /classes/Order)")
    placed = ok("POST", "/classes/Order", {"products": [pointer("Product", mug["objectId"])] * 2,
                                           "totalAmount": 0.01}, token=token)
    check(placed["totalAmount"] == 19 and placed["status"] == "pending",
          "the server priced it at 19 (the client's 0.01 was ignored)")
    stock = ok("GET", f"/classes/Inventory/{mug_stock['objectId']}", token=token)["stock"]
    check(stock == 1, "stock went from 3 to 1")
    message = refused(142, "POST", "/classes/Order", {"products": [pointer("Product", mug["objectId"])] * 2},
                      token=token)
    check(message == f"Insufficient stock for product {mug['objectId']}", "a second order for 2 mugs is refused")

    print("5. The app logs the access (POST /classes/AccessLog)")
    logged = ok("POST", "/classes/AccessLog", {"product": pointer("Product", mug["objectId"]), "action": "order"},
                token=token)
    check(bool(logged.get("objectId")), f"AccessLog {logged['objectId']} recorded")

    print("6. Customers see only their own orders")
    mine = ok("GET", "/classes/Order", token=token)["results"]
    check([o["objectId"] for o in mine] == [placed["objectId"]], "alice sees her order")
    ok("POST", "/users", {"username": f"bob_{RUN}", "password": "pw"})
    bob = ok("POST", "/login", {"username": f"bob_{RUN}", "password": "pw"})["sessionToken"]
    check(ok("GET", "/classes/Order", token=bob)["results"] == [], "bob sees none of them")
    refused(101, "GET", f"/classes/Order/{placed['objectId']}", token=bob)
    print("  ok: bob cannot open alice's order (101)")

    print("7. The admin reviews the access log and ships the order")
    where = {"user": pointer("_User", alice["objectId"])}
    entries = ok("GET", "/classes/AccessLog", token=admin, params={"where": where, "order": "createdAt"})["results"]
    check([e["action"] for e in entries] == ["view", "order"], "the log holds alice's view and her order")
    refused(119, "GET", "/classes/AccessLog", token=token)
    print("  ok: customers cannot read the log (119)")
    ok("PUT", f"/classes/Order/{placed['objectId']}", {"status": "shipped"}, token=admin)
    message = refused(142, "PUT", f"/classes/Order/{placed['objectId']}", {"status": "teleported"}, token=admin)
    check(message.startswith("status must be one of"), "a status outside the fixed set is refused (142)")
    shipped = ok("GET", f"/classes/Order/{placed['objectId']}", token=token)
    check(shipped["status"] == "shipped", "alice sees her order shipped")
    print("done")


if __name__ == "__main__":
    main()
