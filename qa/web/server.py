"""Serving with waitress, and stopping gracefully: on SIGTERM or SIGINT the server stops
accepting connections, answers the requests it has already received (with `Connection: close`),
closes idle connections, and exits once every answer is out or `drain_seconds` have passed.
On SIGHUP it reloads the index on disk (as `POST /admin/reload` does) without stopping."""

from __future__ import annotations

import logging
import signal
import threading
import time

from flask import Flask

log = logging.getLogger(__name__)


def _reload(app: Flask) -> None:
    try:
        previous, current = app.extensions["qa.live"].reload()
        log.warning("SIGHUP: serving index %s (was %s)", current, previous)
    except Exception as e:  # the old index keeps serving
        log.error("SIGHUP: reload refused, still serving the old index: %s", e)


def serve(app: Flask, host: str, port: int, threads: int, drain_seconds: float = 20.0, max_body: int = 1 << 20) -> bool:
    """Serve until SIGTERM/SIGINT, then drain. True when every request in progress was answered."""
    import waitress
    from waitress import wasyncore
    from waitress.channel import HTTPChannel
    from waitress.server import BaseWSGIServer

    sockets: dict = {}  # waitress's socket map: listeners, connections and its wake-up trigger
    server = waitress.create_server(app, map=sockets, host=host, port=port, threads=threads, ident="qa",
                                    backlog=1024, max_request_body_size=max_body)  # fmt: skip
    stop, hup = threading.Event(), threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: hup.set())
    try:
        while not stop.is_set():
            wasyncore.loop(timeout=0.2, map=sockets, count=1)
            if hup.is_set():
                hup.clear()
                threading.Thread(target=_reload, args=(app,), daemon=True).start()
        log.warning("stopping: no new connections; finishing the requests in progress")
        for listener in [d for d in list(sockets.values()) if isinstance(d, BaseWSGIServer)]:
            listener.accepting = False
            wasyncore.dispatcher.close(listener)  # the socket only: its trigger still wakes this loop
        deadline = time.monotonic() + drain_seconds
        while time.monotonic() < deadline:
            connections = [d for d in list(sockets.values()) if isinstance(d, HTTPChannel)]
            busy = [c for c in connections if c.requests or c.request is not None or c.total_outbufs_len]
            for request in [r for c in busy for r in (*c.requests, c.request) if r is not None]:
                request.headers["CONNECTION"] = "close"  # waitress then answers with Connection: close
            for idle in set(connections) - set(busy):
                idle.handle_close()
            if not busy:
                return True
            wasyncore.loop(timeout=0.05, map=sockets, count=1)
        log.warning("gave up waiting for connections after %.0f s", drain_seconds)
        return False
    finally:
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(sockets)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
