"""Stand-ins for a file's reader, run in `ReaderProcess`'s worker by tests/test_hostile_files.py.

The worker imports this module to run them, under its memory limit: so it imports nothing but
what they need (tests/conftest.py alone would take more address space than the limit allows).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from qa.ingest.extracted import Extracted
from qa.ingest.reader_process import FileLimits


def worker_pid(path: Path, limits: FileLimits) -> Extracted:
    """The worker's process id, as the text read."""
    return Extracted(text=str(os.getpid()))


def worker_killed(path: Path, limits: FileLimits) -> Extracted:
    """The worker dies as the kernel's out-of-memory killer would end it."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("not reached")


def worker_sleeps(path: Path, limits: FileLimits) -> Extracted:
    """A read that never ends."""
    signal.pause()
    raise AssertionError("not reached")


def reader_fails(path: Path, limits: FileLimits) -> Extracted:
    """A reader's own bug on a malformed file, as pdfminer raises for some."""
    raise IndexError("list index out of range")
