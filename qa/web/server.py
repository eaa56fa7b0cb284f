"""Serving with waitress, and stopping gracefully: on SIGTERM or SIGINT the server stops
accepting connections, lets the requests already received finish and their answers go out
(for up to `drain_seconds`), then exits."""

from __future__ import annotations

import logging
import signal
import threading
import time

from flask import Flask

log = logging.getLogger(__name__)


def serve(app: Flask, host: str, port: int, threads: int, drain_seconds: float = 20.0) -> None:
    import waitress
    from waitress import wasyncore

    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="qa", backlog=1024)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.is_set():
            wasyncore.loop(timeout=0.2, map=server._map, count=1)
        log.warning("stopping: no new connections; finishing the requests in progress")
        server.accepting = False
        server.del_channel()
        server.socket.close()
        deadline = time.monotonic() + drain_seconds
        while _busy(server) and time.monotonic() < deadline:
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        if _busy(server):
            log.warning("gave up waiting for %d connection(s) after %.0f s", _busy(server), drain_seconds)
    finally:
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(server._map)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _busy(server) -> int:  # type: ignore[no-untyped-def]
    """Connections with a request in progress or an answer not yet sent."""
    return sum(
        1
        for channel in list(server.active_channels.values())
        if channel.requests or channel.request is not None or channel.total_outbufs_len
    )
