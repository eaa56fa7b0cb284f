"""Turns to use the model, weighed by cost, so that no request starves the rest.

- Every request takes one of `turns` (`QA_MAX_INFLIGHT`).
- A heavy request (a batch costing more than one longest question, see `cost`) also takes its
  cost out of `heavy_units` (`QA_MAX_HEAVY_COST`) shared by the heavy requests in progress; one
  costing more than all of them takes all of them. And it never takes the last free turn: that
  one is kept for light requests, so a single question always finds a turn within
  `QA_QUEUE_TIMEOUT` however many batches arrive (unless `turns` is 1: nothing to keep).
- Heavy requests are admitted first come, first served among themselves (a big one is not
  overtaken forever by smaller ones); light requests pass them.
- A request without a turn within `wait_seconds` is refused: 503 `overloaded`.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from ..errors import Overloaded


class Admission:
    """At most `limit` requests in progress, heavy ones weighed (see the module's docstring)."""

    def __init__(self, limit: int, wait_seconds: float, heavy_units: int) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.heavy_units = heavy_units
        self.active = 0  # requests in progress
        self.heavy_cost = 0  # units held by the heavy requests in progress
        self._changed = threading.Condition()
        self._heavy_queue: deque[object] = deque()  # heavy requests waiting, oldest first

    def enter(self, cost: int = 1, heavy: bool = False) -> int:
        """Wait for a turn; return the heavy units taken (give them back to `leave`)."""
        units = min(cost, self.heavy_units) if heavy else 0
        ticket = object()
        deadline = time.monotonic() + self.wait_seconds
        with self._changed:
            if heavy:
                self._heavy_queue.append(ticket)
            try:
                while not self._fits(units, ticket if heavy else None):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self._refusal(heavy)
                    self._changed.wait(left)
            finally:
                if heavy:
                    self._heavy_queue.remove(ticket)
                    self._changed.notify_all()  # the next heavy request may now be first
            self.active += 1
            self.heavy_cost += units
        return units

    def leave(self, units: int = 0) -> None:
        with self._changed:
            self.active -= 1
            self.heavy_cost -= units
            self._changed.notify_all()

    def _fits(self, units: int, ticket: object | None) -> bool:
        if ticket is None:
            return self.active < self.limit
        kept = 1 if self.limit > 1 else 0  # the last free turn, kept for light requests
        return self._heavy_queue[0] is ticket and self.active < self.limit - kept and self.heavy_cost + units <= self.heavy_units

    def _refusal(self, heavy: bool) -> Overloaded:
        kept = "; the last turn is kept for single questions" if heavy and self.limit > 1 else ""
        return Overloaded(
            f"the service is busy: no turn for this {'batch' if heavy else 'request'} within {self.wait_seconds:g} s "
            f"({self.active} requests in progress{kept}); retry in a second"
        )
