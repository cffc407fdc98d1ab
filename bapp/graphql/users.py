"""``signUp``, ``logIn``, ``logInWith``, ``logOut``, ``viewer`` and the
e-mail mutations, through the same core functions as ``/users``,
``/login``, ``/logout`` and the e-mail request routes."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from bapp import errors
from bapp.core import accounts, login
from bapp.core import users as users_core
from bapp.core.auth import Auth
from bapp.errors import ParseError
from bapp.graphql import inputs, selection
from bapp.graphql.context import Context, ctx_of
from bapp.model.query import QueryOptions


async def viewer_for(ctx: Context, info: GraphQLResolveInfo, token: str | None, prefix: list[str]) -> dict:
    """``{sessionToken, user}`` for a session, the user read with that
    session's own rights and the selection under ``prefix``."""
    if not token:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
    user = await ctx.engine.auth.user_for_token(token)
    auth = Auth(user=user, session_token=token, installation_id=ctx.auth.installation_id,
                context=ctx.auth.context, headers=ctx.auth.headers, ip=ctx.auth.ip, master=ctx.auth.master)
    sets = selection.sub_selection(list(info.field_nodes), prefix, info.fragments)
    if not selection.merge(sets, info.fragments).fields:
        return {"sessionToken": token}
    c = ctx.classes["_User"]
    keys, include = selection.plan_for(c, sets, ctx.classes, info.fragments)
    found = await ctx.engine.find("_User", QueryOptions(where={"objectId": user["objectId"]}, keys=keys,
                                                         include=include, limit=1), auth)
    if not found["results"]:
        raise ParseError(errors.INVALID_SESSION_TOKEN, "Invalid session token")
    row = found["results"][0]
    row["__class"] = "_User"
    return {"sessionToken": token, "user": row}


async def resolve_viewer(_root: Any, info: GraphQLResolveInfo) -> dict:
    ctx = ctx_of(info)
    return await viewer_for(ctx, info, ctx.auth.session_token if ctx.auth.user else None, ["user"])


def _payload(viewer: dict, input: dict) -> dict:
    return {"viewer": viewer, "clientMutationId": input.get("clientMutationId")}


async def sign_up(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    ctx = ctx_of(info)
    body = await inputs.to_parse(ctx, ctx.classes["_User"], input.get("fields"))
    created = await ctx.engine.create("_User", body, ctx.auth)
    viewer = await viewer_for(ctx, info, created.get("sessionToken"), ["viewer", "user"])
    return _payload(viewer, input)


async def log_in_with(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    ctx = ctx_of(info)
    body = await inputs.to_parse(ctx, ctx.classes["_User"], input.get("fields"))
    body["authData"] = input.get("authData")
    # As POST /users: the authData of an existing user logs that user in.
    existing = await login.auth_data_login(ctx.engine, body, ctx.auth)
    result = existing if existing is not None else await ctx.engine.create("_User", body, ctx.auth)
    viewer = await viewer_for(ctx, info, result.get("sessionToken"), ["viewer", "user"])
    return _payload(viewer, input)


async def log_in(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    ctx = ctx_of(info)
    params = {"username": input.get("username"), "password": input.get("password")}
    if input.get("authData") is not None:
        params["authData"] = input["authData"]
    user = await login.login(ctx.engine, params, ctx.auth)
    viewer = await viewer_for(ctx, info, user.get("sessionToken"), ["viewer", "user"])
    return _payload(viewer, input)


async def log_out(_root: Any, info: GraphQLResolveInfo, input: dict | None = None) -> dict:
    ctx = ctx_of(info)
    await login.logout(ctx.engine, ctx.auth)
    return {"ok": True, "clientMutationId": (input or {}).get("clientMutationId")}


async def _email_route(ctx: Context, path: str, email: Any) -> None:
    """The e-mail mutations run the REST route of the same request, so they
    do whatever the server's e-mail support does (and answer its errors)."""
    await ctx.rest("POST", path, {"email": email})


async def reset_password(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    await _email_route(ctx_of(info), "/requestPasswordReset", input.get("email"))
    return {"ok": True, "clientMutationId": input.get("clientMutationId")}


async def send_verification_email(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    await _email_route(ctx_of(info), "/verificationEmailRequest", input.get("email"))
    return {"ok": True, "clientMutationId": input.get("clientMutationId")}


async def confirm_reset_password(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    if not input.get("username"):
        raise ParseError(errors.USERNAME_MISSING, "you must provide a username")
    if not input.get("password"):
        raise ParseError(errors.PASSWORD_MISSING, "you must provide a password")
    if not input.get("token"):
        raise ParseError(errors.OTHER_CAUSE, "you must provide a token")
    ctx = ctx_of(info)
    # No e-mail support: no reset token can exist (Parse Server without an email adapter).
    accounts.require_email_config(ctx.engine)
    await accounts.confirm_reset_password(ctx.engine, input["username"], input["password"], input["token"])
    return {"ok": True, "clientMutationId": input.get("clientMutationId")}


async def challenge(_root: Any, info: GraphQLResolveInfo, input: dict) -> dict:
    """As ``POST /challenge``: the caller is identified (password or
    authData) and each provider's challenge step runs; bapp's providers have
    none, so the answer is an empty ``challengeData``."""
    ctx = ctx_of(info)
    username, password, auth_data = input.get("username"), input.get("password"), input.get("authData")
    user = None
    if username:
        if not password:
            raise ParseError(errors.OTHER_CAUSE, "You provided username or email, you need to also provide password.")
        user = await login.authenticate(ctx.engine, {"username": username, "password": password}, ctx.auth)
    if not input.get("challengeData"):
        raise ParseError(errors.OTHER_CAUSE, "Nothing to challenge.")
    if auth_data is not None:
        if user is not None:
            raise ParseError(errors.OTHER_CAUSE,
                             "You cannot provide username/email and authData, only use one identification method.")
        if len([k for k, v in auth_data.items() if isinstance(v, dict) and v.get("id")]) > 1:
            raise ParseError(errors.OTHER_CAUSE, "You cannot provide more than one authData provider with an id.")
        try:
            found = await users_core.find_user_by_auth_data(ctx.engine, users_core.check_auth_data(ctx.engine,
                                                                                                  auth_data))
        except ParseError:
            found = None
        if found is None:
            # One answer for every failure, so ids cannot be probed.
            raise ParseError(errors.OBJECT_NOT_FOUND, "User not found.")
    return {"challengeData": {}, "clientMutationId": input.get("clientMutationId")}
