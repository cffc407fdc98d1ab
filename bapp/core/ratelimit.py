"""Rate limits (Parse Server's ``rateLimit`` option).

Each rule counts the requests of one key (the client address, the session,
the user, or the whole app: the rule's ``zone``) in a fixed window of
``requestTimeWindow`` milliseconds that starts with the key's first request;
past ``requestCount`` the request answers 429 with the rule's message.

Counting goes through ``RateCounter``, so a counter shared by several
instances can replace the in-process one. Its contract, for such an
implementation (e.g. Redis: ``INCR key`` then ``PEXPIRE key window NX``):

- ``hit(key, window_ms)`` adds one request to ``key``'s current window and
  returns how many requests that window has counted, this one included; a
  key's window begins at its first hit and lasts ``window_ms``, after which
  the count starts again at 1.
- it must be atomic per key across every instance sharing it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Protocol

from bapp import errors
from bapp.errors import ParseError

ZONES = ("global", "session", "user", "ip")
DEFAULT_MESSAGE = "Too many requests."
MEMORY_KEY_LIMIT = 100_000


class RateLimited(ParseError):
    """Parse Server's answer past a limit: 429 with code 100."""

    def __init__(self, message: str) -> None:
        super().__init__(errors.CONNECTION_FAILED, message)

    @property
    def status(self) -> int:
        return 429


class RateCounter(Protocol):
    async def hit(self, key: str, window_ms: int) -> int: ...


class MemoryCounter:
    """The in-process counter: one instance's view only."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, window_ms: int) -> int:
        now = time.monotonic()
        reset_at, count = self._windows.get(key, (0.0, 0))
        if now >= reset_at:
            reset_at, count = now + window_ms / 1000.0, 0
        count += 1
        self._windows[key] = (reset_at, count)
        if len(self._windows) > MEMORY_KEY_LIMIT:
            self._prune(now)
        return count

    def _prune(self, now: float) -> None:
        for key in [k for k, (reset_at, _) in self._windows.items() if now >= reset_at]:
            del self._windows[key]
        while len(self._windows) > MEMORY_KEY_LIMIT:
            del self._windows[next(iter(self._windows))]


def path_pattern(request_path: str) -> re.Pattern:
    """Parse Server's route syntax: ``/*`` matches any tail, ``*`` alone every
    path, ``:name`` one segment; the rest is an Express-style path matched
    whole (a trailing slash allowed)."""
    text = request_path.replace("/*", "/(.*)")
    if text == "*":
        text = "(.*)"
    out, pos = [], 0
    for match in re.finditer(r":(\w+)|\((.*?)\)", text):
        out.append(re.escape(text[pos:match.start()]))
        out.append(r"([^/]+?)" if match.group(1) else f"(?:{match.group(2)})")
        pos = match.end()
    out.append(re.escape(text[pos:]))
    return re.compile("^" + "".join(out).rstrip("/") + "/?$", re.IGNORECASE)


@dataclass
class RateLimitRule:
    request_path: str
    request_time_window: int
    request_count: int
    error_response_message: str = DEFAULT_MESSAGE
    include_master_key: bool = False
    include_internal_requests: bool = False
    request_methods: list[str] | str | None = None
    zone: str = "ip"
    redis_url: str | None = None  # this rule counts there (bapp.cluster.ratelimit)
    pattern: re.Pattern = field(init=False, repr=False)
    counter: RateCounter | None = field(default=None, init=False, repr=False)  # None: the limiter's

    def __post_init__(self) -> None:
        self.pattern = path_pattern(self.request_path)

    def applies(self, method: str, path: str, *, master: bool, internal: bool) -> bool:
        if not self.pattern.match(path):
            return False
        if internal and not self.include_internal_requests:
            return False
        if self.include_master_key:
            # Parse Server quirk, kept: with includeMasterKey the method
            # filter is not consulted.
            return True
        if self.request_methods is not None:
            if isinstance(self.request_methods, list):
                if method not in self.request_methods:
                    return False
            elif not re.search(self.request_methods, method):
                return False
        return not master

    def key(self, index: int, app_id: str, ip: str, session_token: str | None, user_id: str | None) -> str:
        if self.zone == "global":
            who = "app:" + app_id
        elif self.zone == "session" and session_token:
            who = "session:" + session_token
        elif self.zone == "user" and user_id:
            # Parse Server 9 falls back to the address here even for a known
            # user (it tests a field that is never set); bapp counts per user
            # as the option documents.
            who = "user:" + user_id
        else:
            who = "ip:" + ip
        return f"{index}:{who}"


class RateLimiter:
    """Applies the configured rules to one request; raises 429 past a limit."""

    def __init__(self, rules: list[RateLimitRule], counter: RateCounter | None = None) -> None:
        self.rules = rules
        self.counter: RateCounter = counter or MemoryCounter()

    async def check(self, app_id: str, method: str, path: str, ip: str, *, master: bool,
                    session_token: str | None = None, user_id: str | None = None) -> None:
        # Parse Server treats 127.0.0.1 as its own cloud code calling in.
        internal = ip == "127.0.0.1"
        for index, rule in enumerate(self.rules):
            if not rule.applies(method, path, master=master, internal=internal):
                continue
            key = rule.key(index, app_id, ip, session_token, user_id)
            counter = rule.counter or self.counter
            if await counter.hit(key, rule.request_time_window) > rule.request_count:
                raise RateLimited(rule.error_response_message)
