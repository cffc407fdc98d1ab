"""What every resolver receives: the engine, the caller and the schema the
request runs against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bapp import errors
from bapp.errors import ParseError

if TYPE_CHECKING:
    from bapp.core.auth import Auth
    from bapp.core.engine import Engine
    from bapp.graphql.sdl import GraphQLClass


@dataclass
class Context:
    engine: Engine
    auth: Auth
    classes: dict[str, GraphQLClass]  # by Parse class name
    mount_url: str
    schema: Any = None  # the GraphQLSchema being executed
    variables: dict | None = None
    rest: Any = None  # async (method, path, body) -> body: a REST route run in-process, same caller

    def require_master(self) -> None:
        # Parse Server answers 119 "unauthorized: master key is required";
        # sanitized errors turn it into the generic refusal.
        if not self.auth.master:
            raise ParseError(errors.OPERATION_FORBIDDEN, "Permission denied")

    def class_of(self, name: str) -> GraphQLClass:
        return self.classes[name]


def ctx_of(info: Any) -> Context:
    return info.context
