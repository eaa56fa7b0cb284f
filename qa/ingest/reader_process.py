"""PDF and DOCX files read in a separate process, under per-file limits.

A hostile or broken file can make its reader work for hours (pdfminer's layout analysis of a
page of scattered words grows faster than the square of their number: 1,000 words took 9 s
here, 3,000 words, 20 KB of PDF, 200 s and 1.3 GB), follow objects thousands deep, or inflate a
few hundred KB into gigabytes. So the readers
run in a worker process that a build starts on its first PDF or DOCX and keeps for the files
after it (a process per file would cost a start and pdfminer's import each time), and:

- a read that takes more than `FileLimits.seconds` is ended by killing the worker (pebble's
  `ProcessPool` does that and starts a fresh worker for the next file);
- the worker's address space is capped (RLIMIT_AS) at `FileLimits.memory`, so a blow-up raises
  MemoryError there, or kills it, instead of swapping the machine;
- `FileLimits.bytes` and `FileLimits.pages` are passed to the readers, which stop at them.

A file over a limit raises `Unreadable` with a reason that names the setting.

Workers are started by spawn, never by fork: the building process has threads and torch
loaded, which fork copies into an inconsistent state. Not by forkserver either: a worker holds
the forkserver's lifeline, so a worker busy with a file would outlive a build that was killed.
A spawned worker's parent is the build, and on Linux the kernel kills it when the build ends
(strictly, when the thread that started it ends: the build's, or pebble's pool manager when it
replaces a worker; both outlive the worker).
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import importlib
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ..config import Settings
from ..errors import QAError
from .extracted import Extracted, Unreadable

if TYPE_CHECKING:  # pebble is imported when the first PDF or DOCX is read
    from pebble import ProcessPool

log = logging.getLogger(__name__)

MB = 1 << 20
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): the signal a process gets when its parent ends
READER_MODULES = ("pdfminer.converter", "pdfminer.layout", "pdfminer.pdfinterp", "docx")  # what the readers import


@dataclass(frozen=True)
class FileLimits:
    """What reading one PDF or DOCX may take: seconds, pages (PDF), bytes unpacked, memory (bytes).
    The defaults are the settings' defaults."""

    seconds: float = Settings.file_max_seconds
    pages: int = Settings.pdf_max_pages
    bytes: int = Settings.file_max_bytes
    memory: int = Settings.file_max_memory

    @classmethod
    def of(cls, settings: Settings) -> FileLimits:
        return cls(**{name: getattr(settings, setting) for name, setting in SETTING_OF.items()})

    def record(self) -> dict[str, float | int]:
        """The limits by their settings' names, as a build's manifest records them."""
        return {setting: getattr(self, name) for name, setting in SETTING_OF.items()}


SETTING_OF = {"seconds": "file_max_seconds", "pages": "pdf_max_pages", "bytes": "file_max_bytes", "memory": "file_max_memory"}


def read_binary(path: Path, limits: FileLimits) -> Extracted:
    """A PDF's or DOCX's reader, by its suffix, with the page and size limits (no time or memory
    limit: this is what the worker runs)."""
    if path.suffix.lower() == ".pdf":
        from .pdf_text import read_pdf  # pdfminer.six

        return read_pdf(path, limits.pages, limits.bytes)
    from .docx_text import read_docx  # python-docx

    return read_docx(path, limits.bytes)


class ReaderProcess:
    """A worker process that reads PDF and DOCX files one at a time, started on the first `read`
    and kept until `close` (or the end of a `with` block)."""

    def __init__(self, limits: FileLimits, read: Callable[[Path, FileLimits], Extracted] = read_binary) -> None:
        self.limits = limits
        self.read_with = read  # what the worker runs: a module-level function, which it imports by name
        self._pool: ProcessPool | None = None

    def read(self, path: Path) -> Extracted:
        """The file read by `read_with` (`read_binary`) in the worker; Unreadable when it cannot
        be read or goes over a limit (a worker that timed out or died is replaced). QAError when
        no worker can start."""
        from pebble import ProcessExpired

        future = self._started().schedule(self.read_with, (path.resolve(), self.limits), timeout=self.limits.seconds)
        try:
            return future.result()
        except concurrent.futures.TimeoutError:
            raise Unreadable(f"took more than {self.limits.seconds:g} s to read (the file_max_seconds setting)") from None
        except MemoryError:
            self.close()  # its heap may stay bloated: the next file gets a fresh worker
            raise Unreadable(f"needed more than {self.limits.memory // MB} MB to read (the file_max_memory setting)") from None
        except ProcessExpired as e:  # killed: by the kernel when out of memory, or by a crash in C code
            raise Unreadable(
                f"needed more than {self.limits.memory // MB} MB to read? (the file_max_memory setting; "
                f"the reading process died of {_exit_name(e.exitcode)})"
            ) from None
        except concurrent.futures.process.BrokenProcessPool as e:
            self.close()
            raise QAError(f"the process that reads PDF and DOCX files could not run: {e}") from None
        except Unreadable:
            raise
        except Exception as e:  # the reader's own failure on a malformed file (pdfminer's AssertionError...)
            raise Unreadable(f"could not be read: its reader failed ({type(e).__name__}: {e})") from None

    def _started(self) -> ProcessPool:
        if self._pool is None:
            from pebble import ProcessPool

            self._pool = ProcessPool(
                max_workers=1,
                initializer=_start_worker,
                initargs=(self.limits.memory, os.getpid()),
                context=multiprocessing.get_context("spawn"),
            )
        return self._pool

    def close(self) -> None:
        """Stop the worker (a new one starts if `read` is called again)."""
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> ReaderProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _start_worker(memory: int, parent: int) -> None:
    """In a new worker: import the readers (before the clock of a first file starts), then cap
    the address space, where the platform can (the `resource` module is POSIX only)."""
    _die_with_parent(parent)
    for module in READER_MODULES:
        importlib.import_module(module)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError) as e:
        log.warning("reading PDF and DOCX files without a memory limit: %s", e)


def _die_with_parent(parent: int) -> None:
    """On Linux, have the kernel kill the worker when its parent (the build, `parent`) ends: a
    read in progress never outlives a build that was killed. A build that ended before this ran
    left the worker to another parent: it ends at once."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)


def _exit_name(code: int | None) -> str:
    """'SIGKILL' for a process ended by signal 9 (exit code -9), else 'exit code N'."""
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            pass
    return f"exit code {code}"
