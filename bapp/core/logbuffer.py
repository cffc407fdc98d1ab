"""Recent log records kept in memory for ``GET /scriptlog`` (Parse Server's
logs API, what Parse Dashboard's Logs page reads).

Parse Server queries its winston log files; bapp keeps a bounded ring of
the records its ``bapp`` loggers emit instead (nothing is written to disk,
and memory stays bounded however long the server runs)."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_CAPACITY = 1000
# Parse Server's LoggerController truncates long messages the same way.
MESSAGE_LIMIT = 1000
TRUNCATION_MARKER = "... (truncated)"
_WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Entry:
    moment: datetime
    level: str
    message: str

    def to_json(self) -> dict[str, str]:
        stamp = self.moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.moment.microsecond // 1000:03d}Z"
        return {"level": self.level, "message": self.message, "timestamp": stamp}


def _level_name(record: logging.LogRecord) -> str:
    if record.levelno >= logging.ERROR:
        return "error"
    if record.levelno >= logging.WARNING:
        return "warn"
    if record.levelno >= logging.INFO:
        return "info"
    return "verbose"


class LogBuffer(logging.Handler):
    """A logging handler holding the last ``capacity`` records."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(level=logging.DEBUG)
        self.entries: deque[Entry] = deque(maxlen=max(1, capacity))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.levelno >= logging.ERROR:
                # The exception's type and text, never the traceback (it may
                # quote source lines and local values).
                exc = record.exc_info[1]
                if exc is not None:
                    message = f"{message}: {type(exc).__name__}: {exc}"
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        if len(message) > MESSAGE_LIMIT:
            message = message[:MESSAGE_LIMIT] + TRUNCATION_MARKER
        moment = datetime.fromtimestamp(record.created, UTC).replace(tzinfo=None)
        self.entries.append(Entry(moment, _level_name(record), message))

    def query(self, options: dict[str, Any]) -> list[dict[str, str]]:
        """Parse Server's semantics: ``from`` defaults to a week ago,
        ``until`` to now, ``size`` (or ``n``) to 10, ``order`` to ``desc``;
        ``level=error`` returns errors only, any other level everything
        (the two winston files Parse Server reads)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        start = _moment(options.get("from")) or now - _WEEK
        end = _moment(options.get("until")) or now
        size = _size(options.get("n") or options.get("size"))
        errors_only = options.get("level") == "error"
        found = [e for e in self.entries
                 if start <= e.moment <= end and (not errors_only or e.level == "error")]
        if options.get("order") == "asc":
            return [e.to_json() for e in found[:size]]
        return [e.to_json() for e in reversed(found[-size:])] if found else []


def _moment(value: Any) -> datetime | None:
    """A date as JavaScript's ``new Date(value)`` reads the usual forms
    (ISO strings, epoch milliseconds); None when invalid, as Parse Server
    then falls back to the default."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            return datetime.fromtimestamp(float(value) / 1000, UTC).replace(tzinfo=None)
        text = str(value).strip().replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _size(value: Any) -> int:
    # Number(size) || 10 in Parse Server; negative or huge values are bounded here.
    try:
        size = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 10
    return 10 if size == 0 else max(1, min(abs(size), DEFAULT_CAPACITY))


def attach(buffer: LogBuffer, logger_name: str = "bapp") -> None:
    logging.getLogger(logger_name).addHandler(buffer)


def detach(buffer: LogBuffer, logger_name: str = "bapp") -> None:
    logging.getLogger(logger_name).removeHandler(buffer)
