"""GraphQL users through HTTP: signUp, logIn, logInWith, viewer, logOut and
the e-mail mutations, with the same sessions and rules as the REST routes."""

from __future__ import annotations

from graphql_support import gql

from bapp.graphql.names import to_global_id

VIEWER = "viewer { sessionToken user { id objectId username email } }"


async def test_sign_up_then_viewer_then_log_out(api):
    reply = await gql(api, "mutation($f: CreateUserFieldsInput) { signUp(input: {fields: $f, clientMutationId: \"s\"}) "
                           f"{{ clientMutationId {VIEWER} }} }}",
                      {"f": {"username": "alice", "password": "secret", "email": "alice@example.com"}})
    assert reply.status == 200, reply.body
    viewer = reply.body["data"]["signUp"]["viewer"]
    user_id = viewer["user"]["objectId"]
    token = viewer["sessionToken"]
    assert token.startswith("r:")
    assert reply.body["data"]["signUp"] == {"clientMutationId": "s", "viewer": {"sessionToken": token, "user": {
        "id": to_global_id("_User", user_id), "objectId": user_id, "username": "alice", "email": "alice@example.com"}}}
    me = await api.get("/users/me", token=token)
    assert me.status == 200 and me.body["objectId"] == user_id

    reply = await gql(api, f"{{ {VIEWER} }}", token=token)
    assert reply.body["data"]["viewer"]["user"]["username"] == "alice"
    assert reply.body["data"]["viewer"]["sessionToken"] == token

    reply = await gql(api, 'mutation { logOut(input: {clientMutationId: "o"}) { ok clientMutationId } }', token=token)
    assert reply.body == {"data": {"logOut": {"ok": True, "clientMutationId": "o"}}}
    gone = await api.get("/users/me", token=token)
    assert gone.status == 400 and gone.body["code"] == 209


async def test_log_in(api):
    alice = await api.signup("alice", "secret")
    reply = await gql(api, f'mutation {{ logIn(input: {{username: "alice", password: "secret"}}) {{ {VIEWER} }} }}')
    viewer = reply.body["data"]["logIn"]["viewer"]
    assert viewer["user"]["objectId"] == alice["objectId"]
    assert viewer["sessionToken"] != alice["sessionToken"]
    assert (await api.get("/users/me", token=viewer["sessionToken"])).status == 200
    reply = await gql(api, 'mutation { logIn(input: {username: "alice", password: "wrong"}) { viewer { sessionToken } } }')
    assert reply.status == 200
    assert reply.body == {"errors": [{"message": "Invalid username/password.", "locations": [{"line": 1, "column": 12}],
                                      "path": ["logIn"], "extensions": {"code": 101}}], "data": {"logIn": None}}


async def test_viewer_needs_a_session(api):
    reply = await gql(api, "{ viewer { sessionToken } }")
    assert reply.body == {"errors": [{"message": "Invalid session token", "locations": [{"line": 1, "column": 3}],
                                      "path": ["viewer"], "extensions": {"code": 209}}], "data": None}
    reply = await gql(api, "{ health }", token="r:not-a-session")
    assert reply.status == 400
    assert reply.body == {"code": 209, "error": "Invalid session token"}


async def test_log_in_with_anonymous_auth_data(api):
    query = ("mutation($a: Object!) { logInWith(input: {authData: $a}) { viewer { sessionToken user { objectId "
             "authData } } } }")
    auth_data = {"anonymous": {"id": "0a4b4a87-6f0e-4bb4-a6c4-64f7e2b4ac2c"}}
    first = await gql(api, query, {"a": auth_data})
    assert first.status == 200, first.body
    again = await gql(api, query, {"a": auth_data})
    one, two = first.body["data"]["logInWith"]["viewer"], again.body["data"]["logInWith"]["viewer"]
    assert one["user"]["objectId"] == two["user"]["objectId"]
    assert one["user"]["authData"] == auth_data
    assert one["sessionToken"] != two["sessionToken"]


async def test_sign_up_errors_are_the_engines(api):
    await api.signup("alice")
    reply = await gql(api, 'mutation { signUp(input: {fields: {username: "alice", password: "x"}}) '
                           '{ viewer { sessionToken } } }')
    assert reply.body["errors"][0]["message"] == "Account already exists for this username."
    assert reply.body["errors"][0]["extensions"] == {"code": 202}


async def test_email_mutations_answer_as_the_rest_routes(api):
    await api.signup("alice", email="alice@example.com")
    rest = await api.post("/requestPasswordReset", {"email": "alice@example.com"})
    for name in ("resetPassword", "sendVerificationEmail"):
        reply = await gql(api, f'mutation {{ {name}(input: {{email: "alice@example.com"}}) {{ ok }} }}')
        assert reply.status == 200
        if rest.status == 200:
            assert reply.body == {"data": {name: {"ok": True}}}
        else:
            assert reply.body["data"] == {name: None}
            assert reply.body["errors"][0]["message"] == rest.body["error"]
            assert reply.body["errors"][0]["extensions"] == {"code": rest.body["code"]}


async def test_challenge(api):
    await api.signup("alice", "secret")
    reply = await gql(api, 'mutation { challenge(input: {username: "alice", password: "secret"}) { challengeData } }')
    assert reply.body["errors"][0]["message"] == "Nothing to challenge."
    assert reply.body["errors"][0]["extensions"] == {"code": -1}
    reply = await gql(api, 'mutation { challenge(input: {username: "alice", password: "secret", '
                           'challengeData: {anonymous: {}}}) { challengeData } }')
    assert reply.body == {"data": {"challenge": {"challengeData": {}}}}
    reply = await gql(api, 'mutation { challenge(input: {username: "alice"}) { challengeData } }')
    assert reply.body["errors"][0]["message"] == "You provided username or email, you need to also provide password."
    reply = await gql(api, 'mutation { challenge(input: {authData: {anonymous: {id: "nobody"}}, '
                           'challengeData: {anonymous: {}}}) { challengeData } }')
    assert reply.body["errors"][0]["message"] == "User not found."
    assert reply.body["errors"][0]["extensions"] == {"code": 101}
