"""One GraphQL request: parse, limits, validation, execution, and errors
shaped as Parse Server's (Apollo's ``extensions.code``: the Parse error
code for a refused operation, ``GRAPHQL_PARSE_FAILED`` /
``GRAPHQL_VALIDATION_FAILED`` / ``BAD_USER_INPUT`` for a bad request).
Deliberately, no error ever carries a stack trace."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import GraphQLError, execute, parse, specified_rules, validate
from graphql.error import GraphQLSyntaxError

from bapp import errors
from bapp.errors import HTTPError, ParseError
from bapp.graphql import limits as limits_mod
from bapp.graphql.context import Context
from bapp.graphql.schema import Built

log = logging.getLogger("bapp.graphql")


@dataclass
class Answer:
    status: int
    body: dict


def _error(message: str, code: Any, *, locations: Any = None, path: Any = None) -> dict:
    out: dict[str, Any] = {"message": message}
    if locations:
        out["locations"] = locations
    if path:
        out["path"] = path
    out["extensions"] = {"code": code}
    return out


def _locations(err: GraphQLError) -> list[dict] | None:
    if not err.locations:
        return None
    return [{"line": loc.line, "column": loc.column} for loc in err.locations]


def format_error(err: GraphQLError, default_code: str = "INTERNAL_SERVER_ERROR") -> dict:
    cause = err.original_error
    if isinstance(cause, ParseError):
        return _error(cause.message, cause.code, locations=_locations(err), path=err.path)
    if isinstance(cause, HTTPError):
        code = errors.OPERATION_FORBIDDEN if cause.status == 403 else errors.INTERNAL_SERVER_ERROR
        return _error(cause.message, code, locations=_locations(err), path=err.path)
    if cause is not None and not isinstance(cause, GraphQLError):
        log.error("GraphQL resolver failed", exc_info=(type(cause), cause, cause.__traceback__))
        return _error("Internal server error", errors.INTERNAL_SERVER_ERROR, locations=_locations(err), path=err.path)
    code = (err.extensions or {}).get("code", default_code)
    return _error(js_quotes(err.message), code, locations=_locations(err), path=err.path)


_QUOTED = re.compile(r"'([^'\n]*)'")


def js_quotes(message: str) -> str:
    """graphql-core quotes names with ' where graphql-js (Parse Server) uses "."""
    return _QUOTED.sub(lambda m: '"' + m.group(1) + '"', message)


def bad_request(message: str, code: str = "BAD_REQUEST") -> Answer:
    return Answer(400, {"errors": [_error(message, code)]})


def read_body(body: Any) -> tuple[str, dict | None, str | None] | Answer:
    if not isinstance(body, dict):
        return bad_request("POST body missing, invalid Content-Type, or JSON object has no keys.")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        return bad_request("GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.")
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return bad_request("`variables` in a POST body should be an object if provided.")
    name = body.get("operationName")
    if name is not None and not isinstance(name, str):
        return bad_request("`operationName` in a POST body should be a string if provided.")
    return query, variables, name


async def run(built: Built, ctx: Context, body: Any, limits: limits_mod.GraphQLLimits,
              allow_mutations: bool = True) -> Answer:
    parsed = read_body(body)
    if isinstance(parsed, Answer):
        return parsed
    query, variables, operation_name = parsed
    checked = built.documents.get(query)
    if checked is None:
        checked = _check(built, query, limits)
        built.documents.put(query, checked)
    if isinstance(checked, Answer):
        return checked
    document = checked
    if not allow_mutations and _is_mutation(document, operation_name):
        return Answer(405, {"errors": [_error("Mutations can only be sent with POST.", "BAD_REQUEST")]})
    ctx.schema = built.schema
    ctx.variables = variables or {}
    result = execute(built.schema, document, context_value=ctx, variable_values=variables,
                     operation_name=operation_name)
    if isawaitable(result):
        result = await result
    if result.data is None and result.errors and all(not e.path for e in result.errors):
        # Nothing ran: the variables or the operation name were refused.
        return Answer(400, {"errors": [format_error(e, "BAD_USER_INPUT") for e in result.errors]})
    out: dict[str, Any] = {}
    if result.errors:
        out["errors"] = [format_error(e) for e in result.errors]
    out["data"] = result.data
    return Answer(200, out)


def _check(built: Built, query: str, limits: limits_mod.GraphQLLimits) -> Any:
    """The parsed document of a valid query, or the 400 answer of an invalid one."""
    try:
        document = parse(query, max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as exc:
        return Answer(400, {"errors": [format_error(exc, "GRAPHQL_PARSE_FAILED")]})
    refused = limits_mod.check(document, limits)
    if refused:
        return Answer(400, {"errors": [format_error(e, "GRAPHQL_VALIDATION_FAILED") for e in refused]})
    invalid = validate(built.schema, document, specified_rules)
    if invalid:
        return Answer(400, {"errors": [format_error(e, "GRAPHQL_VALIDATION_FAILED") for e in invalid]})
    return document


def _is_mutation(document: Any, operation_name: str | None) -> bool:
    from graphql import OperationDefinitionNode, OperationType

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if operation_name is None or (definition.name and definition.name.value == operation_name):
                return definition.operation != OperationType.QUERY
    return False
