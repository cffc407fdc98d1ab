"""A PostgreSQL database written by Parse Server 9, served by bapp.

The fixture reproduces the rows Parse Server 9.10 writes (observed on a
real database, see shared/reference/postgres-layout.md): its tables and
column types, ``_SCHEMA`` rows in storage form, a ``$2y$`` bcrypt hash from
@node-rs/bcrypt, an ``r:`` session, a role with its ``_Join`` rows, CLPs with
protected fields. bapp must read them identically, log the user in, honour
the permissions, answer ``GET /schemas`` as Parse Server does, and write
rows of the same shape back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import bcrypt
import pytest

from bapp.config import Settings
from tests.conftest import APP_ID, MASTER_KEY, Client, start_server
from tests.stores import PostgresStore

SINGLE_STORE = True
USER_TABLE = """CREATE TABLE "_User" ("objectId" text, "createdAt" timestamp with time zone,
 "updatedAt" timestamp with time zone, "username" text, "email" text, "emailVerified" boolean, "authData" jsonb,
 "_rperm" text[], "_wperm" text[], "_hashed_password" text, "_email_verify_token_expires_at" timestamp with time zone,
 "_email_verify_token" text, "_account_lockout_expires_at" timestamp with time zone,
 "_failed_login_count" double precision, "_perishable_token" text,
 "_perishable_token_expires_at" timestamp with time zone, "_password_changed_at" timestamp with time zone,
 "_password_history" jsonb, "displayName" text, "age" double precision, PRIMARY KEY ("objectId"))"""
DEFAULTS = '"objectId" text, "createdAt" timestamp with time zone, "updatedAt" timestamp with time zone, ' \
           '"_rperm" text[], "_wperm" text[]'
PERMS = {"type": "Array", "contents": {"type": "String"}}
BASE = {"objectId": {"type": "String"}, "createdAt": {"type": "Date"}, "updatedAt": {"type": "Date"},
        "_rperm": PERMS, "_wperm": PERMS}
SCHEMAS = {
    "_User": {"className": "_User", "fields": {
        **BASE, "username": {"type": "String"}, "email": {"type": "String"}, "emailVerified": {"type": "Boolean"},
        "authData": {"type": "Object"}, "_hashed_password": {"type": "String"}, "displayName": {"type": "String"},
        "age": {"type": "Number"}}},
    "_Role": {"className": "_Role", "fields": {
        **BASE, "name": {"type": "String"}, "users": {"type": "Relation", "targetClass": "_User"},
        "roles": {"type": "Relation", "targetClass": "_Role"}}},
    "_Session": {"className": "_Session", "fields": {
        **BASE, "user": {"type": "Pointer", "targetClass": "_User"}, "installationId": {"type": "String"},
        "sessionToken": {"type": "String"}, "expiresAt": {"type": "Date"}, "createdWith": {"type": "Object"}}},
    "Item": {"className": "Item", "fields": {
        **BASE, "str": {"type": "String"}, "num": {"type": "Number"}, "bool": {"type": "Boolean"},
        "date": {"type": "Date"}, "obj": {"type": "Object"}, "arr": {"type": "Array"},
        "ptr": {"type": "Pointer", "targetClass": "_User"}, "file": {"type": "File"},
        "geo": {"type": "GeoPoint"}, "poly": {"type": "Polygon"}, "tags": {"type": "Relation", "targetClass": "Tag"},
        "level": {"type": "Number", "defaultValue": 7}}},
    "Secret": {"className": "Secret", "fields": {
        **BASE, "title": {"type": "String"}, "secret": {"type": "String"},
        "owner": {"type": "Pointer", "targetClass": "_User"}},
        "classLevelPermissions": {
            "get": {"requiresAuthentication": True}, "find": {"requiresAuthentication": True},
            "count": {"requiresAuthentication": True}, "create": {"role:Admins": True},
            "update": {"role:Admins": True}, "delete": {"role:Admins": True}, "addField": {},
            "protectedFields": {"*": ["secret"], "role:Admins": []}}},
}
OBJ = {"kind": "box", "size": 3, "when": {"iso": "2024-01-15T10:20:30.123Z", "__type": "Date"},
       "owner": {"__type": "Pointer", "objectId": "GDnY4ruzRi", "className": "_User"},
       "nested": {"deep": {"n": 1, "when": {"iso": "2024-06-01T00:00:00.000Z", "__type": "Date"}}},
       "list": [{"iso": "2025-02-28T23:59:59.999Z", "__type": "Date"}, "text", 2.5]}
CREATED = datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
TOKEN = "r:" + "ab" * 16
ADMIN_TOKEN = "r:" + "cd" * 16


def parse_hash(password: str) -> str:
    # @node-rs/bcrypt writes the $2y$ prefix.
    return "$2y$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()[4:]


async def write_parse_server_rows(uri: str) -> None:
    conn = await asyncpg.connect(uri)
    try:
        await conn.execute('CREATE TABLE "_SCHEMA" ("className" varchar(120), "schema" jsonb, "isParseClass" boolean, '
                           'PRIMARY KEY ("className"))')
        await conn.execute(USER_TABLE)
        await conn.execute(f'CREATE TABLE "_Role" ({DEFAULTS}, "name" text, PRIMARY KEY ("objectId"))')
        await conn.execute(f'CREATE TABLE "_Session" ({DEFAULTS}, "user" text, "installationId" text, '
                           '"sessionToken" text, "expiresAt" timestamp with time zone, "createdWith" jsonb, '
                           'PRIMARY KEY ("objectId"))')
        await conn.execute(f'CREATE TABLE "Item" ({DEFAULTS}, "str" text, "num" double precision, "bool" boolean, '
                           '"date" timestamp with time zone, "obj" jsonb, "arr" jsonb, "ptr" text, "file" text, '
                           '"geo" point, "poly" polygon, "level" double precision, PRIMARY KEY ("objectId"))')
        await conn.execute(f'CREATE TABLE "Secret" ({DEFAULTS}, "title" text, "secret" text, "owner" text, '
                           'PRIMARY KEY ("objectId"))')
        for name in ("_Join:users:_Role", "_Join:roles:_Role", "_Join:tags:Item"):
            await conn.execute(f'CREATE TABLE "{name}" ("relatedId" varchar(120), "owningId" varchar(120), '
                               'PRIMARY KEY ("relatedId", "owningId"))')
        await conn.execute('CREATE UNIQUE INDEX "_User_unique_username" ON "_User" (username)')
        await conn.execute('CREATE UNIQUE INDEX "_User_unique_email" ON "_User" (email)')
        await conn.execute('CREATE UNIQUE INDEX "_Role_unique_name" ON "_Role" (name)')
        for name, schema in SCHEMAS.items():
            await conn.execute('INSERT INTO "_SCHEMA" VALUES ($1, $2::jsonb, true)', name, json.dumps(schema))
        users = [("GDnY4ruzRi", "alice", "alice@example.com", "alice-pw"), ("D2zVifIRyt", "bob", None, "bob-pw")]
        for oid, name, email, password in users:
            await conn.execute(
                'INSERT INTO "_User" ("objectId", "createdAt", "updatedAt", "username", "email", "_rperm", "_wperm", '
                '"_hashed_password", "displayName", "age") VALUES ($1, $2, $2, $3, $4, $5, $5, $6, $7, 30)',
                oid, CREATED, name, email, [oid], parse_hash(password), name.title())
        expires = datetime.now(UTC) + timedelta(days=365)
        for oid, user, token in (("S1", "GDnY4ruzRi", TOKEN), ("S2", "D2zVifIRyt", ADMIN_TOKEN)):
            await conn.execute(
                'INSERT INTO "_Session" ("objectId", "createdAt", "updatedAt", "user", "installationId", '
                '"sessionToken", "expiresAt", "createdWith") VALUES ($1, $2, $2, $3, $4, $5, $6, $7::jsonb)',
                oid, CREATED, user, "inst-" + oid, token, expires,
                json.dumps({"action": "login", "authProvider": "password"}))
        await conn.execute('INSERT INTO "_Role" VALUES (\'R1\', $1, $1, \'{*}\', \'{}\', \'Admins\')', CREATED)
        await conn.execute('INSERT INTO "_Join:users:_Role" VALUES (\'D2zVifIRyt\', \'R1\')')
        await conn.execute(
            'INSERT INTO "Item" ("objectId", "createdAt", "updatedAt", "_rperm", "_wperm", "str", "num", "bool", '
            '"date", "obj", "arr", "ptr", "file", "geo", "poly") VALUES (\'I1\', $1, $1, \'{*}\', \'{GDnY4ruzRi}\', '
            "'alpha', 4.5, true, '2024-01-15 10:20:30.123+00', $2::jsonb, '[\"x\", \"y\"]', 'GDnY4ruzRi', "
            "'4f2b_report.txt', '(-74,40)', '((0,0),(1,0),(1,1),(0,1),(0,0))')", CREATED, json.dumps(OBJ))
        await conn.execute('INSERT INTO "_Join:tags:Item" VALUES (\'T1\', \'I1\')')
        await conn.execute(
            'INSERT INTO "Secret" ("objectId", "createdAt", "updatedAt", "title", "secret", "owner") '
            "VALUES ('X1', $1, $1, 'plan', 'the code', 'GDnY4ruzRi')", CREATED)
    finally:
        await conn.close()


@pytest.fixture
def parse_db(request):
    return PostgresStore.prepare(request)


@pytest.fixture
async def bapp_on(parse_db):
    await write_parse_server_rows(parse_db)
    settings = Settings(app_id=APP_ID, master_key=MASTER_KEY, database_uri=parse_db)
    server, session = await start_server(settings)
    client = Client(session, f"http://127.0.0.1:{server.port}{settings.mount_path}", server)
    try:
        yield client
    finally:
        await session.close()
        await server.close()


async def test_objects_read_back_identical(bapp_on):
    api = bapp_on
    got = (await api.get("/classes/Item/I1", master=True)).body
    assert got == {
        "objectId": "I1", "createdAt": "2024-03-01T12:00:00.123Z", "updatedAt": "2024-03-01T12:00:00.123Z",
        "str": "alpha", "num": 4.5, "bool": True, "date": {"__type": "Date", "iso": "2024-01-15T10:20:30.123Z"},
        "obj": OBJ, "arr": ["x", "y"], "ptr": {"__type": "Pointer", "className": "_User", "objectId": "GDnY4ruzRi"},
        "file": {"__type": "File", "name": "4f2b_report.txt", "url": f"{api.url}/files/{APP_ID}/4f2b_report.txt"},
        "geo": {"__type": "GeoPoint", "latitude": 40, "longitude": -74},
        "poly": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]},
        "tags": {"__type": "Relation", "className": "Tag"},
        "ACL": {"*": {"read": True}, "GDnY4ruzRi": {"write": True}},
    }
    found = (await api.get("/classes/Item", params={"where": {"obj.nested.deep.n": 1, "arr": "x",
                                                              "date": {"$lt": {"__type": "Date",
                                                                               "iso": "2025-01-01T00:00:00Z"}}}},
                           master=True)).body
    assert [r["objectId"] for r in found["results"]] == ["I1"]
    related = (await api.get("/classes/Tag", params={"where": {"$relatedTo": {
        "object": {"__type": "Pointer", "className": "Item", "objectId": "I1"}, "key": "tags"}}}, master=True))
    assert related.status == 200 and related.body == {"results": []}  # Tag has no table yet


async def test_users_log_in_with_their_parse_server_passwords(bapp_on):
    api = bapp_on
    reply = await api.post("/login", {"username": "alice", "password": "alice-pw"})
    assert reply.status == 200, reply.body
    assert reply.body["objectId"] == "GDnY4ruzRi" and reply.body["displayName"] == "Alice"
    assert reply.body["sessionToken"].startswith("r:")
    assert (await api.post("/login", {"username": "alice", "password": "nope"})).body["code"] == 101
    me = await api.get("/users/me", token=TOKEN)
    assert me.status == 200 and me.body["username"] == "alice"


async def test_permissions_and_protected_fields_hold(bapp_on):
    api = bapp_on
    anonymous = await api.get("/classes/Secret")
    assert anonymous.body["code"] == 101  # Parse Server: "Permission denied, user needs to be authenticated."
    as_alice = (await api.get("/classes/Secret/X1", token=TOKEN)).body
    assert as_alice["title"] == "plan" and "secret" not in as_alice
    as_admin = (await api.get("/classes/Secret/X1", token=ADMIN_TOKEN)).body
    assert as_admin["secret"] == "the code"
    assert (await api.post("/classes/Secret", {"title": "x"}, token=TOKEN)).status in (400, 403)
    assert (await api.post("/classes/Secret", {"title": "x"}, token=ADMIN_TOKEN)).status == 201
    # Item I1: public read, writable by alice only.
    assert (await api.put("/classes/Item/I1", {"num": 5}, token=ADMIN_TOKEN)).body["code"] == 101
    assert (await api.put("/classes/Item/I1", {"num": 5}, token=TOKEN)).status == 200


async def test_schemas_answer_as_parse_server(bapp_on):
    api = bapp_on
    body = (await api.get("/schemas/Secret", master=True)).body
    assert body == {"className": "Secret", "fields": {
        "objectId": {"type": "String"}, "createdAt": {"type": "Date"}, "updatedAt": {"type": "Date"},
        "ACL": {"type": "ACL"}, "title": {"type": "String"}, "secret": {"type": "String"},
        "owner": {"type": "Pointer", "targetClass": "_User"}},
        "classLevelPermissions": SCHEMAS["Secret"]["classLevelPermissions"]}
    item = (await api.get("/schemas/Item", master=True)).body
    assert item["fields"]["level"] == {"type": "Number", "defaultValue": 7}
    assert item["fields"]["tags"] == {"type": "Relation", "targetClass": "Tag"}


async def test_bapp_writes_rows_of_parse_server_shape(bapp_on, parse_db):
    api = bapp_on
    reply = await api.put("/classes/Item/I1", {
        "num": {"__op": "Increment", "amount": 1}, "obj.nested.deep.n": {"__op": "Increment", "amount": 2},
        "arr": {"__op": "AddUnique", "objects": ["y", "z"]}, "date": {"__type": "Date", "iso": "2030-01-01T00:00:00.000Z"},
    }, master=True)
    assert reply.status == 200, reply.body
    created = await api.post("/classes/Item", {"str": "beta", "geo": {"__type": "GeoPoint", "latitude": 1, "longitude": 2},
                                               "ACL": {"*": {"read": True}}}, master=True)
    conn = await asyncpg.connect(parse_db)
    try:
        row = await conn.fetchrow('SELECT * FROM "Item" WHERE "objectId" = \'I1\'')
        fresh = await conn.fetchrow('SELECT * FROM "Item" WHERE "objectId" = $1', created.body["objectId"])
        schema = await conn.fetchval('SELECT "schema" FROM "_SCHEMA" WHERE "className" = \'Item\'')
    finally:
        await conn.close()
    assert row["num"] == 5.5 and json.loads(row["arr"]) == ["x", "y", "z"]
    assert json.loads(row["obj"])["nested"]["deep"] == {"n": 3, "when": {"iso": "2024-06-01T00:00:00.000Z",
                                                                           "__type": "Date"}}
    assert row["date"] == datetime(2030, 1, 1, tzinfo=UTC) and row["updatedAt"] > CREATED
    assert (fresh["geo"].x, fresh["geo"].y) == (2, 1) and fresh["level"] == 7
    assert fresh["_rperm"] == ["*"] and fresh["_wperm"] == []
    assert len(fresh["objectId"]) == 10 and fresh["createdAt"] == fresh["updatedAt"]
    assert json.loads(schema)["fields"]["_rperm"] == PERMS
