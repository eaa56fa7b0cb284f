"""A Milvus engine in a process of its own (`milvus-lite server`), which tests stop and start
again; and a `qa` server on it: `python -m tests.milvus_engine PORT ROOT URI TOKEN` serves the
corpus in ROOT/corpus, indexed in that engine, with the fake embedder until SIGTERM."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .served import free_port, module_server, wait_until_up

RELOAD_INTERVAL = 0.5  # the replicas' bound in these tests (QA_RELOAD_INTERVAL)


class EngineProcess:
    """`milvus-lite server` on a free loopback port, over one data folder."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        milvus_lite = shutil.which("milvus-lite", path=str(Path(sys.executable).parent))
        assert milvus_lite, "milvus-lite (the milvus extra) is installed beside this Python"
        command = [milvus_lite, "server", "--data-dir", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_up(self.process, lambda: socket.create_connection(("127.0.0.1", self.port), timeout=1).close(), 60)

    def stop(self) -> None:
        """Kill it (as a crash would), and wait until it is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


@contextmanager
def engine_process(data: Path) -> Iterator[EngineProcess]:
    engine = EngineProcess(data)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


@contextmanager
def replica(root: Path, uri: str, token: str) -> Iterator[int]:
    """The port of a `qa` server process on the engine at `uri`, stopped on exit."""
    with module_server("tests.milvus_engine", str(root), uri, token) as port:
        yield port


def replica_settings(root: Path, uri: str, token: str):
    from .conftest import fake_settings

    return fake_settings(
        root, root / "corpus", backend="milvus", milvus_uri=uri, admin_token=token, reload_interval=RELOAD_INTERVAL,
        milvus_timeout=2.0,
    )  # fmt: skip


def main(port: int, root: Path, uri: str, token: str) -> None:
    from qa.retrieve.live import LiveSearcher
    from qa.retrieve.searcher import Searcher
    from qa.web import create_app
    from qa.web.server import listen, serve

    from .conftest import FakeEmbedder

    settings = replica_settings(root, uri, token)
    app = create_app(settings, LiveSearcher(Searcher.open(settings, FakeEmbedder())))
    serve(app, listen("127.0.0.1", port), threads=4, drain_seconds=1, max_body=settings.max_body_bytes)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4])
