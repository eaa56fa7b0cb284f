"""A real server for raw-socket tests: `qa.web.server.serve` (waitress) on the fake embedder.

Run as `python -m tests.served PORT ROOT MAX_BODY_BYTES`; it serves the default corpus, indexed
in ROOT, on 127.0.0.1:PORT until SIGTERM."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .conftest import REPO

T = TypeVar("T")


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(server: subprocess.Popen, probe: Callable[[], T], seconds: float, output: Callable[[], str] | None = None) -> T:
    """What `probe` returns once it stops raising OSError. Fails, with the server's output, when
    the server exits first, or when `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, output() if output else server.communicate()[0]
        try:
            return probe()
        except OSError:
            assert time.monotonic() < deadline, f"the server did not answer within {seconds:g} s"
            time.sleep(0.2)


@contextmanager
def real_server(root: Path, max_body: int) -> Iterator[int]:
    """The port of a fresh server process, stopped on exit."""
    with module_server("tests.served", str(root), str(max_body)) as port:
        yield port


@contextmanager
def module_server(module: str, *args: str) -> Iterator[int]:
    """The port of `python -m module PORT *args`, a server process stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", module, str(port), *args]
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_up(server, lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close(), 120)
        yield port
    finally:
        server.terminate()
        server.communicate(timeout=30)


def main(port: int, root: Path, max_body: int) -> None:
    from qa.index.build import build_index
    from qa.retrieve.searcher import Searcher
    from qa.web import create_app
    from qa.web.server import listen, serve

    from .conftest import FakeEmbedder, fake_settings

    settings = fake_settings(root, max_body_bytes=max_body)
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    app = create_app(settings, Searcher.open(settings, embedder))
    serve(app, listen("127.0.0.1", port), threads=2, drain_seconds=1, max_body=settings.max_body_bytes)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
