"""Parse error codes and the exceptions that carry them.

Errors are API: clients switch on these codes, so every failure the server
reports goes through ``ParseError`` (``{"code": N, "error": "..."}``) or, for the
few places where Parse Server answers with a bare HTTP error, ``HTTPError``.
"""

from __future__ import annotations

import logging

log = logging.getLogger("bapp.errors")

OTHER_CAUSE = -1
INTERNAL_SERVER_ERROR = 1
CONNECTION_FAILED = 100
OBJECT_NOT_FOUND = 101
INVALID_QUERY = 102
INVALID_CLASS_NAME = 103
MISSING_OBJECT_ID = 104
INVALID_KEY_NAME = 105
INVALID_POINTER = 106
INVALID_JSON = 107
COMMAND_UNAVAILABLE = 108
NOT_INITIALIZED = 109
INCORRECT_TYPE = 111
INVALID_CHANNEL_NAME = 112
PUSH_MISCONFIGURED = 115
OBJECT_TOO_LARGE = 116
OPERATION_FORBIDDEN = 119
CACHE_MISS = 120
INVALID_NESTED_KEY = 121
INVALID_FILE_NAME = 122
INVALID_ACL = 123
TIMEOUT = 124
INVALID_EMAIL_ADDRESS = 125
MISSING_CONTENT_TYPE = 126
MISSING_CONTENT_LENGTH = 127
INVALID_CONTENT_LENGTH = 128
FILE_TOO_LARGE = 129
FILE_SAVE_ERROR = 130
DUPLICATE_VALUE = 137
INVALID_ROLE_NAME = 139
EXCEEDED_QUOTA = 140
SCRIPT_FAILED = 141
VALIDATION_ERROR = 142
INVALID_IMAGE_DATA = 143
UNSAVED_FILE_ERROR = 151
INVALID_PUSH_TIME_ERROR = 152
FILE_DELETE_ERROR = 153
FILE_DELETE_UNKNOWN_ERROR = 161
REQUEST_LIMIT_EXCEEDED = 155
DUPLICATE_REQUEST = 159
INVALID_EVENT_NAME = 160
INVALID_VALUE = 162
USERNAME_MISSING = 200
PASSWORD_MISSING = 201
USERNAME_TAKEN = 202
EMAIL_TAKEN = 203
EMAIL_MISSING = 204
EMAIL_NOT_FOUND = 205
SESSION_MISSING = 206
MUST_CREATE_USER_THROUGH_SIGNUP = 207
ACCOUNT_ALREADY_LINKED = 208
INVALID_SESSION_TOKEN = 209
MFA_ERROR = 210
MFA_TOKEN_REQUIRED = 211
LINKED_ID_MISSING = 250
INVALID_LINKED_SESSION = 251
UNSUPPORTED_SERVICE = 252
INVALID_SCHEMA_OPERATION = 255
AGGREGATE_ERROR = 600
FILE_READ_ERROR = 601
X_DOMAIN_REQUEST = 602


# What clients read instead of a permission error's details when sanitized
# errors are on (Parse Server 9's enableSanitizedErrorResponse, default on).
PERMISSION_DENIED = "Permission denied"


class ParseError(Exception):
    """A failure reported to the client as ``{"code": code, "error": message}``.

    ``sanitized`` marks a permission refusal whose message explains more
    than a client should learn (which class, field or rule refused): with
    sanitized errors on, the client reads "Permission denied" and the
    message goes to the server log only."""

    def __init__(self, code: int, message: str = "", *, sanitized: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.sanitized = sanitized

    @property
    def status(self) -> int:
        # Parse Server maps only two codes to other statuses; everything a
        # client did wrong is a 400 (a 5xx would make the SDKs retry).
        if self.code == OBJECT_NOT_FOUND:
            return 404
        if self.code == INTERNAL_SERVER_ERROR:
            return 500
        return 400

    def to_json(self, sanitize: bool = False) -> dict:
        return {"code": self.code, "error": client_message(self, sanitize)}

    def __repr__(self) -> str:
        return f"ParseError({self.code}, {self.message!r})"


class HTTPError(Exception):
    """A bare HTTP error (``{"error": message}``, no code), as Parse Server
    answers for a wrong application id or a master-only route."""

    def __init__(self, status: int, message: str, *, sanitized: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.sanitized = sanitized


def client_message(exc: ParseError | HTTPError, sanitize: bool) -> str:
    """The message a client reads; a sanitized refusal's details are logged
    (not the master-key-only 403s, whose detail is always the same)."""
    if exc.sanitized and sanitize:
        if isinstance(exc, ParseError):
            log.error("%s", exc.message)
        return PERMISSION_DENIED
    return exc.message


def denied(code: int, detail: str) -> ParseError:
    """A permission refusal (its code is kept; its detail may be sanitized)."""
    return ParseError(code, detail, sanitized=True)


def unauthorized() -> HTTPError:
    return HTTPError(403, "unauthorized")


def master_key_required() -> HTTPError:
    return HTTPError(403, "unauthorized: master key is required", sanitized=True)
