"""The built-in console (``<mount>/dashboard``) in a real Chromium against a
live ``bapp serve --app supplier_ordering``: sign-in with the master key and
as a member of the admin role, browse the seed app's data, filter, edit a
value and see it stored, bulk delete, add a field, watch a LiveQuery event
arrive after a REST write, run a cloud function; at phone width too.

One browser for the module; each test opens its own page (its own
sessionStorage). Set ``BAPP_SCREENSHOTS=<dir>`` to save the main screens."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import PHONE, browser_problem, chromium
from server_process import ServerProcess

pytestmark = pytest.mark.skipif(browser_problem() is not None, reason=str(browser_problem()))

APP_ID = "console-app"
MASTER_KEY = "console-master-key"
ADMIN = ("boss", "boss-password")
SHOTS = os.environ.get("BAPP_SCREENSHOTS")


def rest(server: ServerProcess, method: str, path: str, body: Any = None, *, master: bool = True,
         token: str | None = None) -> Any:
    headers = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
    if master:
        headers["X-Parse-Master-Key"] = MASTER_KEY
    if token:
        headers["X-Parse-Session-Token"] = token
    request = urllib.request.Request(server.url + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


@pytest.fixture(scope="module")
def env() -> Iterator[dict[str, Any]]:
    server = ServerProcess(["--app-id", APP_ID, "--master-key", MASTER_KEY, "--app", "supplier_ordering",
                            "--admin-username", ADMIN[0], "--admin-password", ADMIN[1]], label="console")
    try:
        server.wait_ready()
        supplier = rest(server, "POST", "/classes/Supplier", {"name": "Acme", "contactEmail": "acme@example.com"})
        products = {}
        for name, price in (("Widget", 9.5), ("Gadget", 20), ("Bolt", 0.25), ("Nut", 0.1), ("Washer", 0.05)):
            created = rest(server, "POST", "/classes/Product", {
                "name": name, "sku": name.upper(), "price": price, "supplier": pointer("Supplier", supplier["objectId"])})
            products[name] = created["objectId"]
        rest(server, "POST", "/users", {"username": "clerk", "password": "clerk-password"}, master=False)
        problems: list[str] = []
        with chromium() as browser:
            yield {"server": server, "browser": browser, "products": products, "supplier": supplier["objectId"],
                   "problems": problems, "base": server.url + "/dashboard/"}
        assert not problems, problems
    finally:
        server.stop()


def expect(locator: Any) -> Any:
    # Playwright's string predicates (wait_for_function) are eval, which the
    # console's Content-Security-Policy refuses: wait with locators instead.
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def new_page(env: dict, viewport: dict | None = None) -> Any:
    page = env["browser"].new_page()
    if viewport:
        page.set_viewport_size(viewport)

    def watch(message: Any) -> None:
        # A violated Content-Security-Policy or a script error is a failure.
        if message.type == "error" and ("Content Security Policy" in message.text or "Uncaught" in message.text):
            env["problems"].append(message.text)

    page.on("console", watch)
    page.on("pageerror", lambda exc: env["problems"].append(str(exc)))
    page.goto(env["base"])
    return page


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def sign_in_master(page: Any) -> None:
    page.fill("input[name=masterKey]", MASTER_KEY)
    page.click("text=Sign in with the master key")
    page.wait_for_selector("#class-list")


def test_master_key_sign_in_and_browse(env):
    page = new_page(env)
    shot(page, "sign-in")
    page.fill("input[name=masterKey]", "wrong-key")
    page.click("text=Sign in with the master key")
    page.wait_for_selector("text=That master key was refused.")
    sign_in_master(page)
    assert page.evaluate("JSON.stringify(Object.assign({}, sessionStorage, localStorage))") == "{}"
    page.goto(env["base"] + "#/data/Product")
    page.wait_for_selector("#grid tbody tr[data-id]")
    product_count = page.locator("#class-list a", has_text="Product").locator(".count")
    assert product_count.inner_text() == "5"
    assert page.locator("#page-info").inner_text() == "1–5 of 5"
    names = page.locator("#grid td[data-field=name]").all_inner_texts()
    assert sorted(names) == ["Bolt", "Gadget", "Nut", "Washer", "Widget"]
    supplier_link = page.locator("#grid td[data-field=supplier] a").first
    assert supplier_link.inner_text() == env["supplier"]
    page.click("#grid th[data-field=price] button")
    page.wait_for_selector("#grid tbody tr:first-child td[data-field=name]:text-is('Washer')")
    shot(page, "data-browser")
    supplier_link.click()
    page.wait_for_selector("#object-editor")
    assert page.locator("#object-editor input[name=name]").input_value() == "Acme"


def test_filter_shows_the_where_and_narrows_rows(env):
    page = new_page(env)
    sign_in_master(page)
    page.goto(env["base"] + "#/data/Product")
    page.wait_for_selector("#grid tbody tr[data-id]")
    page.click("#add-filter")
    page.select_option(".filter-field", "price")
    page.select_option(".filter-op", "$lt")
    page.fill(".filter-value", "1")
    page.click("#apply-filter")
    expect(page.locator("#grid tbody tr")).to_have_count(3)
    assert page.locator("#where-json").inner_text() == 'where = {"price":{"$lt":1}}'
    page.click("#add-filter")
    page.locator(".filter-field").nth(1).select_option("name")
    page.locator(".filter-op").nth(1).select_option("starts")
    page.locator(".filter-value").nth(1).fill("B")
    page.click("#apply-filter")
    expect(page.locator("#grid tbody tr")).to_have_count(1)
    assert page.locator("#where-json").inner_text() == 'where = {"price":{"$lt":1},"name":{"$regex":"^B"}}'
    shot(page, "filter")


def test_edit_a_value_and_see_it_stored(env):
    page = new_page(env)
    sign_in_master(page)
    widget = env["products"]["Widget"]
    page.goto(env["base"] + "#/data/Product")
    page.click(f"#grid tr[data-id='{widget}'] td[data-field=name]")
    page.fill("#object-editor input[name=price]", "12.75")
    page.click(".dialog button:text-is('Save')")
    page.wait_for_selector(f"text=Saved {widget}")
    assert rest(env["server"], "GET", f"/classes/Product/{widget}")["price"] == 12.75
    page.wait_for_selector(f"#grid tr[data-id='{widget}'] td[data-field=price]:text-is('12.75')")
    # A create the server refuses keeps the form open with the server's message.
    page.click("#new-object")
    page.fill("#object-editor input[name=sku]", "NO-NAME")
    page.click(".dialog button:text-is('Create')")
    page.wait_for_selector("#editor-error:has-text('is required (code 142)')")
    shot(page, "edit-object")
    page.click(".dialog button:text-is('Cancel')")


def test_bulk_delete_with_confirmation(env):
    page = new_page(env)
    sign_in_master(page)
    server = env["server"]
    ids = [rest(server, "POST", "/classes/Automation", {"trigger": "inventory.low_stock", "action": "create_purchase_order", "active": False})
           ["objectId"] for _ in range(3)]
    page.goto(env["base"] + "#/data/Automation")
    page.wait_for_selector(f"#grid tr[data-id='{ids[0]}']")
    for object_id in ids[:2]:
        page.check(f"#grid tr[data-id='{object_id}'] input[type=checkbox]")
    assert page.locator("#bulk-delete").inner_text() == "Delete selected (2)"
    page.click("#bulk-delete")
    page.wait_for_selector("text=Delete 2 object(s) of Automation? This cannot be undone.")
    page.click(".dialog button:text-is('Delete')")
    page.wait_for_selector("text=2 deleted")
    left = rest(server, "GET", "/classes/Automation")["results"]
    assert [row["objectId"] for row in left] == [ids[2]]


def test_add_a_field_in_the_schema_editor(env):
    page = new_page(env)
    sign_in_master(page)
    page.goto(env["base"] + "#/schema/Supplier")
    page.wait_for_selector("#add-field")
    page.fill("#add-field input[name=fieldName]", "region")
    page.select_option("#add-field select[name=fieldType]", "String")
    page.fill("#add-field input[name=defaultValue]", '"EU"')
    page.check("#add-field input[name=required]")
    page.click("#add-field button[type=submit]")
    page.wait_for_selector("#fields tr[data-field=region]")
    fields = rest(env["server"], "GET", "/schemas/Supplier")["fields"]
    assert fields["region"] == {"type": "String", "required": True, "defaultValue": "EU"}
    assert "protectedFields" in page.locator("#clp-editor").input_value()
    shot(page, "schema-editor")
    page.goto(env["base"] + "#/schema")
    page.wait_for_selector("#er-diagram svg .entity[data-class=PurchaseOrder]")
    assert 'Supplier ||--o{ Product : "supplier"' in page.locator("#mermaid-source").text_content()
    shot(page, "er-diagram")


def test_live_event_arrives_after_a_rest_write(env):
    page = new_page(env)
    sign_in_master(page)
    page.goto(env["base"] + "#/live/Product")
    page.fill("#live-where", '{"price": {"$gt": 100}}')
    page.click("#live-start")
    page.wait_for_selector("#live-status[data-state=subscribed]")
    server = env["server"]
    rest(server, "POST", "/classes/Product", {"name": "Cheap", "sku": "CHEAP", "price": 1,
                                              "supplier": pointer("Supplier", env["supplier"])})
    created = rest(server, "POST", "/classes/Product", {"name": "Crane", "sku": "CRANE", "price": 5000,
                                                        "supplier": pointer("Supplier", env["supplier"])})
    page.wait_for_selector(f"#live-events li[data-op=create][data-id='{created['objectId']}']")
    rest(server, "PUT", f"/classes/Product/{created['objectId']}", {"price": 50})
    page.wait_for_selector(f"#live-events li[data-op=leave][data-id='{created['objectId']}']")
    assert page.locator("#live-events li").count() == 2  # the cheap product never matched
    shot(page, "live-view")


def test_admin_role_sign_in_and_cloud_function(env):
    page = new_page(env)
    page.fill("input[name=username]", "clerk")
    page.fill("input[name=password]", "clerk-password")
    page.click("#user-form button[type=submit]")
    page.wait_for_selector("text=clerk is not in the admin role.")
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("#user-form button[type=submit]")
    page.wait_for_selector("text=Signed in with boss")
    # The admin acts with their own session: the schema API stays master-only.
    page.goto(env["base"] + "#/schema")
    page.wait_for_selector("text=The schema API needs the master key")
    page.goto(env["base"] + "#/cloud")
    page.fill("#function-name", "assignRole")
    page.fill("#function-params", '{"username": "clerk", "role": "staff"}')
    page.click("#run-function")
    page.wait_for_selector("#function-result:has-text('staff')")
    result = json.loads(page.locator("#function-result").inner_text())
    assert result["role"] == "staff" and result["member"] is True
    staff = rest(env["server"], "GET", "/roles", None)["results"]
    staff_id = next(r["objectId"] for r in staff if r["name"] == "staff")
    members = rest(env["server"], "GET",
                   "/users?where=" + urllib.request.quote(json.dumps(
                       {"$relatedTo": {"object": pointer("_Role", staff_id), "key": "users"}})))["results"]
    assert [m["username"] for m in members] == ["clerk"]
    page.fill("#function-params", '{"username": "nobody", "role": "staff"}')
    page.click("#run-function")
    page.wait_for_selector("#function-result.error")
    # A reload keeps the admin's session (sessionStorage), never a master key.
    page.reload()
    page.wait_for_selector("text=Signed in with boss")
    page.click("#sign-out")
    page.wait_for_selector("#master-form")


def test_cloud_code_screen_with_the_master_key(env):
    page = new_page(env)
    sign_in_master(page)
    page.goto(env["base"] + "#/cloud")
    page.wait_for_selector("text=beforeSave:PurchaseOrder")
    shot(page, "cloud-code")
    page.goto(env["base"] + "#/users")
    page.wait_for_selector("#roles tr[data-role=admin]")
    assert ADMIN[0] in page.locator("#roles tr[data-role=admin]").inner_text()
    shot(page, "users-roles")


def test_phone_width(env):
    page = new_page(env, PHONE)
    sign_in_master(page)
    page.goto(env["base"] + "#/data/Product")
    page.wait_for_selector("#grid")
    assert not page.locator("nav.nav").is_visible()
    page.click(".menu-toggle")
    assert page.locator("nav.nav").is_visible()
    page.click("nav.nav a:text-is('Config')")
    page.wait_for_selector("#add-param")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.fill("#param-name", "welcome")
    page.fill("#param-value", '"hello"')
    page.click("#add-param button[type=submit]")
    page.wait_for_selector("#config-params tr[data-param=welcome]")
    assert rest(env["server"], "GET", "/config", master=False) == {"params": {"welcome": "hello"}}
    shot(page, "phone-config")


JOB_CLOUD = '''
import asyncio

from bapp import cloud


@cloud.job("rebuildTotals")
async def rebuild(req):
    await req.message("halfway")
    await asyncio.sleep(0.5)
    return "totals rebuilt"
'''


def test_start_a_job_and_watch_its_status(env, tmp_path):
    cloud_file = tmp_path / "jobs.py"
    cloud_file.write_text(JOB_CLOUD)
    server = ServerProcess(["--app-id", APP_ID, "--master-key", MASTER_KEY, "--cloud", str(cloud_file)],
                           label="console-jobs")
    try:
        server.wait_ready()
        page = env["browser"].new_page()
        page.on("pageerror", lambda exc: env["problems"].append(str(exc)))
        page.goto(server.url + "/dashboard/")
        sign_in_master(page)
        page.goto(server.url + "/dashboard/#/cloud")
        page.select_option("#job-name", "rebuildTotals")
        page.click("#start-job")
        page.wait_for_selector("#job-status [data-status=succeeded]")
        assert "totals rebuilt" in page.locator("#job-status").inner_text()
        page.wait_for_selector("#job-history tr[data-status=succeeded]")
        statuses = rest(server, "GET", "/classes/_JobStatus")["results"]
        assert [(s["jobName"], s["status"], s["message"]) for s in statuses] == \
            [("rebuildTotals", "succeeded", "totals rebuilt")]
        page.close()
    finally:
        server.stop()
