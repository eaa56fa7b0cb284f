"""Guessing the admin token: a client address that has sent `QA_ADMIN_FAILURES` wrong tokens
(default 10 a minute, a moving window) gets 429 `too_many_requests` with `Retry-After` from
every /admin endpoint until the window has moved on, its token unchecked, right or wrong. Other
clients are not affected. Kept in memory, per process, whether or not `QA_RATE_LIMIT` is set."""

from __future__ import annotations

import math
import time

from ..errors import ConfigError, TooManyRequests

SCOPE = "admin-token-failures"


class FailedAuthentication:
    """Counts wrong admin tokens per client address against `limit` (e.g. `10/minute`; empty: none)."""

    def __init__(self, limit: str) -> None:
        from limits import parse_many
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        try:
            self.limits = parse_many(limit) if limit.strip() else []
        except ValueError as e:
            raise ConfigError(f"QA_ADMIN_FAILURES={limit!r} is not a rate limit like '10/minute' ({e})") from None
        self._window = MovingWindowRateLimiter(MemoryStorage())

    def check(self, client: str) -> None:
        """Raise TooManyRequests if `client` has used up its wrong tokens."""
        for item in self.limits:
            if not self._window.test(item, SCOPE, client):
                reset = self._window.get_window_stats(item, SCOPE, client).reset_time
                raise TooManyRequests(
                    f"too many wrong admin tokens from this address (limit: {item}); retry after the time in Retry-After",
                    retry_after=max(1, math.ceil(reset - time.time())),
                )

    def failed(self, client: str) -> None:
        for item in self.limits:
            self._window.hit(item, SCOPE, client)
