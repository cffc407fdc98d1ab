"""The schema as SDL text: the fixed part (``base.graphql``, the types every
Parse Server GraphQL schema has) plus the types, queries and mutations
generated per class from its live schema, with Parse Server's names,
descriptions and field types."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

from bapp.graphql.names import (
    GRAPHQL_NAME,
    RESERVED_QUERY_NAMES,
    RESERVED_TYPE_NAMES,
    graphql_class_name,
    lower_first,
    pluralize,
)

log = logging.getLogger("bapp.graphql")

PARSE_OBJECT_FIELDS = ("objectId", "createdAt", "updatedAt", "ACL")
_BASE = resources.files("bapp.graphql").joinpath("base.graphql").read_text()

_SCALAR_OUT = {"String": "String", "Number": "Float", "Boolean": "Boolean", "Array": "[ArrayResult]",
               "Object": "Object", "Date": "Date", "File": "FileInfo", "GeoPoint": "GeoPoint",
               "Polygon": "[GeoPoint!]", "Bytes": "Bytes"}
_SCALAR_IN = {"String": "String", "Number": "Float", "Boolean": "Boolean", "Array": "[Any]", "Object": "Object",
              "Date": "Date", "File": "FileInput", "GeoPoint": "GeoPointInput", "Polygon": "[GeoPointInput!]",
              "Bytes": "Bytes"}
_WHERE = {"String": "StringWhereInput", "Number": "NumberWhereInput", "Boolean": "BooleanWhereInput",
          "Array": "ArrayWhereInput", "Object": "ObjectWhereInput", "Date": "DateWhereInput",
          "File": "FileWhereInput", "GeoPoint": "GeoPointWhereInput", "Polygon": "PolygonWhereInput",
          "Bytes": "BytesWhereInput", "ACL": "ObjectWhereInput"}

_FIND_ARGS = '''(
    """
    These are the conditions that the objects need to match in order to be found.
    """
    where: {name}WhereInput

    """The fields to be used when sorting the data fetched."""
    order: [{name}Order!]

    """This is the number of objects that must be skipped to return."""
    skip: Int

    """Returns the items in the list that come after the specified cursor."""
    after: String

    """Returns the first n items from the list."""
    first: Int

    """Returns the items in the list that come before the specified cursor."""
    before: String

    """Returns the last n items from the list."""
    last: Int

    """The read options for the query to be executed."""
    options: ReadOptionsInput
  )'''


@dataclass
class GraphQLClass:
    """One Parse class as the GraphQL schema shows it."""

    class_name: str
    name: str  # the GraphQL type name
    fields: dict[str, dict]  # sorted by name, internal fields left out

    @property
    def query_name(self) -> str:
        return lower_first(self.name)

    @property
    def find_name(self) -> str:
        return pluralize(self.query_name)

    @property
    def custom_fields(self) -> list[str]:
        return [f for f in self.fields if f not in PARSE_OBJECT_FIELDS]

    @property
    def output_fields(self) -> list[str]:
        return [f for f in self.custom_fields if not (self.class_name == "_User" and f == "password")]


def _class_order(name: str) -> tuple[int, str]:
    # Built-in classes first, then the others, each in code-point order (as Parse Server).
    return (0 if name.startswith("_") else 1, name)


def select_classes(schemas: dict[str, dict[str, dict]]) -> list[GraphQLClass]:
    """The classes that get GraphQL types, in Parse Server's order; a class
    whose names would collide with another's (or a fixed type) is left out."""
    taken_types: set[str] = set()
    taken_queries: set[str] = set(RESERVED_QUERY_NAMES)
    out: list[GraphQLClass] = []
    for class_name in sorted(schemas, key=_class_order):
        name = graphql_class_name(class_name)
        usable = GRAPHQL_NAME.match(name) and not name.startswith("__")
        if not usable or name in RESERVED_TYPE_NAMES or name in taken_types or name.endswith("Connection"):
            log.warning("Class %s could not be added to the GraphQL schema: its type name collides", class_name)
            continue
        entry = GraphQLClass(class_name, name, _visible_fields(schemas[class_name]))
        if entry.query_name in taken_queries or entry.find_name in taken_queries:
            log.warning("Class %s could not be added to the GraphQL schema: its query name collides", class_name)
            continue
        taken_types.add(name)
        taken_queries.update((entry.query_name, entry.find_name))
        out.append(entry)
    return out


def _visible_fields(fields: dict[str, dict]) -> dict[str, dict]:
    return {n: fields[n] for n in sorted(fields)
            if GRAPHQL_NAME.match(n) and not n.startswith("_") and fields[n].get("type")}


def _desc(text: str, indent: str = "") -> str:
    if len(indent) + len(text) + 6 > 80:
        return f'{indent}"""\n{indent}{text}\n{indent}"""\n'
    return f'{indent}"""{text}"""\n'


def _block(kind: str, name: str, description: str | None, body: list[str], suffix: str = "") -> str:
    head = _desc(description) if description else ""
    return f"{head}{kind} {name}{suffix} {{\n" + "\n".join(body) + "\n}"


def _field(name: str, type_: str, description: str | None = None, args: str = "") -> str:
    return (_desc(description, "  ") if description else "") + f"  {name}{args}: {type_}"


class SchemaText:
    """Builds the SDL for a list of classes and cloud function names."""

    def __init__(self, classes: list[GraphQLClass], function_names: list[str]) -> None:
        self.classes = classes
        self.by_class = {c.class_name: c for c in classes}
        self.functions = [f for f in function_names if GRAPHQL_NAME.match(f) and not f.startswith("__")]

    # ---------------------------------------------------------------- types of fields
    def _target(self, spec: dict) -> GraphQLClass | None:
        return self.by_class.get(spec.get("targetClass") or "")

    def output_type(self, spec: dict) -> str | None:
        kind = spec["type"]
        target = self._target(spec)
        if kind == "Pointer":
            type_ = target.name if target else "Object"
        elif kind == "Relation":
            return f"{target.name}Connection!" if target else "Object!"
        else:
            type_ = _SCALAR_OUT.get(kind)
        if type_ and spec.get("required"):
            type_ += "!"
        return type_

    def input_type(self, spec: dict) -> str | None:
        kind = spec["type"]
        target = self._target(spec)
        if kind == "Pointer":
            return f"{target.name}PointerInput" if target else "Object"
        if kind == "Relation":
            return f"{target.name}RelationInput" if target else "Object"
        return _SCALAR_IN.get(kind)

    def where_type(self, field: str, spec: dict) -> str | None:
        if field in ("id", "objectId"):
            return "IdWhereInput"
        if spec["type"] in ("Pointer", "Relation"):
            target = self._target(spec)
            return f"{target.name}RelationWhereInput" if target else "Object"
        return _WHERE.get(spec["type"])

    # ---------------------------------------------------------------- per class
    def class_types(self, c: GraphQLClass) -> list[str]:
        n = c.name
        out = []
        for verb in ("Create", "Update"):
            body = ["  ACL: ACLInput"]
            for f in c.custom_fields:
                type_ = self.input_type(c.fields[f])
                if type_:
                    if verb == "Create" and c.fields[f].get("required"):
                        type_ += "!"
                    body.append(_field(f, type_, f"This is the object {f}."))
            out.append(_block("input", f"{verb}{n}FieldsInput",
                              f"The {verb}{n}FieldsInput input type is used in operations that involve creation of "
                              f"objects in the {n} class.", _spaced(body)))
        out.append(_block("input", f"{n}PointerInput", f"Allow to link OR add and link an object of the {n} class.", _spaced([
            _field("link", "ID", f"Link an existing object from {n} class. You can use either the global or the object id."),
            _field("createAndLink", f"Create{n}FieldsInput", f"Create and link an object from {n} class."),
        ])))
        out.append(_block("input", f"{n}RelationInput",
                          f"Allow to add, remove, createAndAdd objects of the {n} class into a relation field.", _spaced([
                              _field("add", "[ID!]", f"Add existing objects from the {n} class into the relation. "
                                     "You can use either the global or the object ids."),
                              _field("remove", "[ID!]", f"Remove existing objects from the {n} class out of the relation. "
                                     "You can use either the global or the object ids."),
                              _field("createAndAdd", f"[Create{n}FieldsInput!]",
                                     f"Create and add objects of the {n} class into the relation."),
                          ])))
        out.append(self._where_input(c))
        out.append(_block("input", f"{n}RelationWhereInput",
                          f"The {n}RelationWhereInput input type is used in operations that involve filtering objects "
                          f"of {n} class.", _spaced([
                              _field("have", f"{n}WhereInput",
                                     "Run a relational/pointer query where at least one child object can match."),
                              _field("haveNot", f"{n}WhereInput",
                                     "Run an inverted relational/pointer query where at least one child object can match."),
                              _field("exists", "Boolean", "Check if the relation/pointer contains objects."),
                          ])))
        values = []
        for f in [*c.fields, "id"]:
            values += [f"  {f}_ASC", f"  {f}_DESC"]
        out.append(_block("enum", f"{n}Order",
                          f"The {n}Order input type is used when sorting objects of the {n} class.", values))
        out.append(self._output_type(c))
        out.append(_block("type", f"{n}Edge", "An edge in a connection.", _spaced([
            _field("node", n, "The item at the end of the edge"),
            _field("cursor", "String!", "A cursor for use in pagination"),
        ])))
        out.append(_block("type", f"{n}Connection", "A connection to a list of items.", _spaced([
            _field("pageInfo", "PageInfo!", "Information to aid in pagination."),
            _field("edges", f"[{n}Edge]", "A list of edges."),
            _field("count", "Int!", "This is the total matched objecs count that is returned when the count flag is set."),
        ])))
        out += self._mutation_types(c)
        return out

    def _where_input(self, c: GraphQLClass) -> str:
        n = c.name
        body = []
        for f in [*c.fields, "id"]:
            if f in ("OR", "AND", "NOR"):
                continue
            type_ = self.where_type(f, c.fields.get(f, {"type": "String"}))
            if type_:
                body.append(_field(f, type_, f"This is the object {f}."))
        for op in ("OR", "AND", "NOR"):
            body.append(_field(op, f"[{n}WhereInput!]", f"This is the {op} operator to compound constraints."))
        return _block("input", f"{n}WhereInput",
                      f"The {n}WhereInput input type is used in operations that involve filtering objects of {n} class.",
                      _spaced(body))

    def _output_type(self, c: GraphQLClass) -> str:
        n = c.name
        body = [
            _field("id", "ID!", "The ID of an object"),
            _field("objectId", "ID!", "This is the object id."),
            _field("createdAt", "Date!", "This is the date in which the object was created."),
            _field("updatedAt", "Date!", "This is the date in which the object was las updated."),
        ]
        acl = "  ACL: ACL!"
        rest = []
        if c.class_name == "_User":
            rest.append(_field("authDataResponse", "Object", "auth provider response when triggered on signUp/logIn."))
        for f in c.output_fields:
            spec = c.fields[f]
            type_ = self.output_type(spec)
            if not type_:
                continue
            if spec["type"] == "Array":
                rest.append(_field(f, type_, "Use Inline Fragment on Array to get results: "
                                   "https://graphql.org/learn/queries/#inline-fragments"))
            elif spec["type"] == "Relation" and self._target(spec):
                rest.append(_field(f, type_, f"This is the object {f}.", _FIND_ARGS.format(name=self._target(spec).name)))
            else:
                rest.append(_field(f, type_, f"This is the object {f}."))
        lines = _spaced(body)
        lines[-1] += "\n" + acl
        if rest:
            lines.append("")
            lines += _spaced(rest)
        return _block("type", n, f"The {n} object type is used in operations that involve outputting objects of "
                      f"{n} class.", lines, " implements ParseObject & Node")

    def _mutation_types(self, c: GraphQLClass) -> list[str]:
        n, q = c.name, c.query_name
        id_field = _field("id", "ID!", "This is the object id. You can use either the global or the object id.")
        cmid = "  clientMutationId: String"
        return [
            _block("input", f"Create{n}Input", None, [
                _field("fields", f"Create{n}FieldsInput", "These are the fields that will be used to create the new object."),
                cmid]),
            _block("type", f"Create{n}Payload", None, [_field(q, f"{n}!", "This is the created object."), cmid]),
            _block("input", f"Update{n}Input", None, [
                id_field, "",
                _field("fields", f"Update{n}FieldsInput", "These are the fields that will be used to update the object."),
                cmid]),
            _block("type", f"Update{n}Payload", None, [_field(q, f"{n}!", "This is the updated object."), cmid]),
            _block("input", f"Delete{n}Input", None, [id_field, cmid]),
            _block("type", f"Delete{n}Payload", None, [_field(q, f"{n}!", "This is the deleted object."), cmid]),
        ]

    # ---------------------------------------------------------------- the whole schema
    def user_types(self) -> list[str]:
        user = self.by_class.get("_User")
        if user is None:
            return []
        body = ["  ACL: ACLInput"]
        for f in user.custom_fields:
            if f in ("password", "username", "authData"):
                continue
            type_ = self.input_type(user.fields[f])
            if type_:
                body.append(_field(f, type_ + ("!" if user.fields[f].get("required") else ""), f"This is the object {f}."))
        return [
            _block("type", "Viewer", "The Viewer object type is used in operations that involve outputting the current "
                   "user data.", _spaced([_field("sessionToken", "String!", "The current user session token."),
                                          _field("user", "User!", "This is the current user.")])),
            _block("input", "UserLoginWithInput", None, _spaced(body)),
        ]

    def function_types(self) -> list[str]:
        if not self.functions:
            return []
        return [
            _block("enum", "CloudCodeFunction", "The CloudCodeFunction enum type contains a list of all available "
                   "cloud code functions.", [f"  {f}" for f in self.functions]),
            _block("input", "CallCloudCodeInput", None, [
                _field("functionName", "CloudCodeFunction!", "This is the function to be called."), "",
                _field("params", "Object", "These are the params to be passed to the function."), "  clientMutationId: String"]),
            _block("type", "CallCloudCodePayload", None, [
                _field("result", "Any", "This is the result value of the cloud code function execution."),
                "  clientMutationId: String"]),
        ]

    def query_type(self) -> str:
        body = [_field("node", "Node", "Fetches an object given its ID", '(\n    """The ID of an object"""\n    id: ID!\n  )')]
        for c in self.classes:
            n = c.name
            body.append(_field(c.query_name, f"{n}!", f"The {c.query_name} query can be used to get an object of the "
                               f"{n} class by its id.", '(\n    """This is the object id. You can use either the global '
                               'or the object id."""\n    id: ID!\n\n    """The read options for the query to be '
                               'executed."""\n    options: ReadOptionsInput\n  )'))
            body.append(_field(c.find_name, f"{n}Connection!", f"The {c.find_name} query can be used to find objects "
                               f"of the {n} class.", _FIND_ARGS.format(name=n)))
        body.append(_field("health", "Boolean!", "The health query can be used to check if the server is up and running."))
        if "_User" in self.by_class:
            body.append(_field("viewer", "Viewer!", "The viewer query can be used to return the current user data."))
        body.append(_field("class", "Class!", "The class query can be used to retrieve an existing object class.",
                           '(\n    """This is the name of the object class."""\n    name: String!\n  )'))
        body.append(_field("classes", "[Class!]!", "The classes query can be used to retrieve the existing object classes."))
        body.append(_field("cloudConfig", "ConfigValue!", "Returns the value of a specific parameter from GlobalConfig.",
                           "(paramName: String!)"))
        return _block("type", "Query", "Query is the top level type for queries.", _spaced(body))

    def mutation_type(self) -> str:
        body = []
        for c in self.classes:
            n = c.name
            for verb, text in (("create", "create a new object of"), ("update", "update an object of"),
                               ("delete", "delete an object of")):
                cap = verb.capitalize()
                body.append(_field(f"{verb}{n}(input: {cap}{n}Input!)", f"{cap}{n}Payload",
                                   f"The {verb}{n} mutation can be used to {text} the {n} class."))
        body.append(_field("createFile(input: CreateFileInput!)", "CreateFilePayload",
                           "The createFile mutation can be used to create and upload a new file."))
        if "_User" in self.by_class:
            body += [
                _field("signUp(input: SignUpInput!)", "SignUpPayload",
                       "The signUp mutation can be used to create and sign up a new user."),
                _field("logInWith(input: LogInWithInput!)", "LogInWithPayload",
                       "The logInWith mutation can be used to signup, login user with 3rd party authentication system. "
                       "This mutation create a user if the authData do not correspond to an existing one."),
                _field("logIn(input: LogInInput!)", "LogInPayload", "The logIn mutation can be used to log in an existing user."),
                _field("logOut(input: LogOutInput!)", "LogOutPayload",
                       "The logOut mutation can be used to log out an existing user."),
                _field("resetPassword(input: ResetPasswordInput!)", "ResetPasswordPayload",
                       "The resetPassword mutation can be used to reset the password of an existing user."),
                _field("confirmResetPassword(input: ConfirmResetPasswordInput!)", "ConfirmResetPasswordPayload",
                       "The confirmResetPassword mutation can be used to reset the password of an existing user."),
                _field("sendVerificationEmail(input: SendVerificationEmailInput!)", "SendVerificationEmailPayload",
                       "The sendVerificationEmail mutation can be used to send the verification email again."),
                _field("challenge(input: ChallengeInput!)", "ChallengePayload",
                       "The challenge mutation can be used to initiate an authentication challenge when an auth "
                       "adapter needs it."),
            ]
        if self.functions:
            body.append(_field("callCloudCode(input: CallCloudCodeInput!)", "CallCloudCodePayload",
                               "The callCloudCode mutation can be used to invoke a cloud code function."))
        body += [
            _field("createClass(input: CreateClassInput!)", "CreateClassPayload",
                   "The createClass mutation can be used to create the schema for a new object class."),
            _field("updateClass(input: UpdateClassInput!)", "UpdateClassPayload",
                   "The updateClass mutation can be used to update the schema for an existing object class."),
            _field("deleteClass(input: DeleteClassInput!)", "DeleteClassPayload",
                   "The deleteClass mutation can be used to delete an existing object class."),
            _field("updateCloudConfig(input: UpdateCloudConfigInput!)", "UpdateCloudConfigPayload",
                   "Updates the value of a specific parameter in GlobalConfig."),
        ]
        return _block("type", "Mutation", "Mutation is the top level type for mutations.", _spaced(body))

    def chunks(self) -> list[str]:
        """The SDL in independent pieces (the fixed types, one piece per
        class, the rest), so an unchanged piece need not be parsed again."""
        rest = ['"""\nUse Inline Fragment on Array to get results: '
                'https://graphql.org/learn/queries/#inline-fragments\n"""\n'
                "union ArrayResult = " + " | ".join(["Element", *[c.name for c in self.classes]])]
        rest += self.user_types()
        rest += self.function_types()
        rest += [self.query_type(), self.mutation_type()]
        return [_BASE, *("\n\n".join(self.class_types(c)) + "\n" for c in self.classes), "\n\n".join(rest) + "\n"]

    def text(self) -> str:
        return "\n".join(self.chunks())


def _spaced(lines: list[str]) -> list[str]:
    """Fields with descriptions are separated by a blank line (as printed)."""
    out: list[str] = []
    for line in lines:
        if out and line and line.lstrip().startswith('"""') and out[-1] != "":
            out.append("")
        out.append(line)
    return out
