"""Giving freed memory back to the operating system after a large piece of work.

glibc's malloc keeps what a thread frees in that thread's arena (up to eight arenas per core)
for reuse, and returns little of it: the top of a heap only, and only when nothing above is in
use. A server answers each request in whichever of its threads is free, so the large,
short-lived buffers of batch searches (tokens, activations, scores, result dictionaries, JSON)
end up spread over every arena, each keeping its high-water mark: a server's RSS climbs with
each batch and never comes back. Worse, glibc raises its mmap threshold to the size of each
large block freed (up to 32 MB), and its trim threshold to twice that: after a few batches, big
buffers come from the arenas too, and an arena's free top is never returned (`malloc_trim`
skips the tops of threads' arenas). Measured on `bench/load.py --batch-soak` (int8 encoder, 64
threads): 16 arenas of ~13 MB each holding 0.3-2 MB in use, RSS 263 -> 414 MB in 4 rounds.

A server therefore fixes the thresholds at glibc's own starting values (`keep_heaps_small`):
large buffers are mapped and unmapped, tops over 128 KB are trimmed; and after a batch it
hands every arena's free pages back (`give_back`, `malloc_trim(0)`).

Elsewhere (musl, macOS, Windows) there are no such calls and both do nothing.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)
THRESHOLD = 128 * 1024  # glibc's default for both; setting them stops them from growing


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)  # the C library the process runs on
    except OSError:
        return None


@functools.cache
def _glibc(name: str) -> Callable[..., int] | None:
    """glibc's malloc_trim or mallopt, or None where the C library has none."""
    function = getattr(_libc(), name, None)
    if function is None:
        log.debug("no %s in this C library: freed memory is left to the allocator", name)
        return None
    function.argtypes = [ctypes.c_size_t] if name == "malloc_trim" else [ctypes.c_int, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def keep_heaps_small() -> bool:
    """Fix glibc's mmap and trim thresholds (see above); True when set. For servers: call once
    at start, before the request threads run."""
    mallopt = _glibc("mallopt")
    return mallopt is not None and all(mallopt(p, THRESHOLD) == 1 for p in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD))


def give_back() -> bool:
    """Return the free pages of every malloc arena to the operating system (a few milliseconds);
    True when some memory was released."""
    trim = _glibc("malloc_trim")
    return bool(trim(0)) if trim is not None else False
