"""Which column a Parse key lives in, and of which kind.

Parse Server's SQL layout: one column per field, named like the field;
``objectId``, ``createdAt``, ``updatedAt``, ``_rperm`` and ``_wperm`` on every
class; the hidden ``_User`` columns below; no column for a Relation."""

from __future__ import annotations

from dataclasses import dataclass

# Parse Server's hidden _User columns and their kinds.
USER_INTERNAL: dict[str, str] = {
    "_hashed_password": "String",
    "_email_verify_token_expires_at": "Date",
    "_email_verify_token": "String",
    "_account_lockout_expires_at": "Date",
    "_failed_login_count": "Number",
    "_perishable_token": "String",
    "_perishable_token_expires_at": "Date",
    "_password_changed_at": "Date",
    "_password_history": "Array",
}
SYSTEM: dict[str, str] = {
    "objectId": "String", "createdAt": "Date", "updatedAt": "Date", "_rperm": "Perms", "_wperm": "Perms",
}
# Kinds stored as JSON documents.
JSON_KINDS = frozenset({"Object", "Array", "Bytes"})
# Kinds whose column holds text (compared and ordered as text).
TEXT_KINDS = frozenset({"String", "Pointer", "File"})
SCALAR_KINDS = frozenset({"String", "Number", "Boolean", "Date", "Pointer", "File"})


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    target: str | None = None  # a Pointer's class

    @property
    def is_json(self) -> bool:
        return self.kind in JSON_KINDS


def column_for(class_name: str, fields: dict[str, dict], key: str) -> Column | None:
    """The column of top-level key ``key`` (None: the class has no such
    column, so the value is missing everywhere)."""
    if key in SYSTEM:
        return Column(key, SYSTEM[key])
    if class_name == "_User" and key in USER_INTERNAL:
        return Column(key, USER_INTERNAL[key])
    spec = fields.get(key)
    if not spec or key == "ACL":
        return None
    kind = spec.get("type")
    if kind in (None, "Relation", "ACL"):
        return None
    return Column(key, kind, spec.get("targetClass"))


def table_columns(class_name: str, fields: dict[str, dict]) -> list[Column]:
    """Every column of a class table, in Parse Server's order."""
    out = [Column("objectId", "String"), Column("createdAt", "Date"), Column("updatedAt", "Date")]
    names = {"objectId", "createdAt", "updatedAt", "ACL"}
    if class_name == "_User":
        for key in ("username", "email", "emailVerified", "authData"):
            if key in fields:
                out.append(column_for(class_name, fields, key))  # type: ignore[arg-type]
                names.add(key)
    out += [Column("_rperm", "Perms"), Column("_wperm", "Perms")]
    if class_name == "_User":
        out += [Column(k, v) for k, v in USER_INTERNAL.items()]
        names.add("password")
    for key in fields:
        if key in names:
            continue
        col = column_for(class_name, fields, key)
        if col is not None:
            out.append(col)
    return out
