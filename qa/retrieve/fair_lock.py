"""A lock handed over in the order it was asked for.

`threading.Lock` lets the thread that releases it take it straight back, so a batch encoded in
chunks (each under the lock) could keep a single question waiting until the whole batch is
encoded. A `FairLock` is handed directly to the longest waiter on release, so a question that
arrives during a batch waits for one chunk, not for the batch."""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType


class FairLock:
    """A non-reentrant mutex granted first come, first served (usable as `with lock:`)."""

    def __init__(self) -> None:
        self._state = threading.Lock()  # guards `_held` and `_waiters`, held only for a moment
        self._held = False
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self) -> bool:
        with self._state:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by `release`, which hands the lock over still held
        return True

    def release(self) -> None:
        with self._state:
            if not self._held:
                raise RuntimeError("release of an unheld FairLock")
            if self._waiters:
                self._waiters.popleft().release()  # the next in line now holds it
            else:
                self._held = False

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        """How many threads wait for the lock."""
        with self._state:
            return len(self._waiters)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
