"""Serving with waitress, and stopping gracefully: on SIGTERM or SIGINT the server stops
accepting connections, answers the requests it has already received (with `Connection: close`),
closes idle connections, and exits once every answer is out or `drain_seconds` have passed.
On SIGHUP, or when another process has built the index again (CURRENT moved: `qa add`, `qa
build`), it reloads the index on disk (as `POST /admin/reload` does) without stopping."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable

from flask import Flask

from ..index import servers
from ..index.servers import WATCH_SECONDS

log = logging.getLogger(__name__)
NEW_BUILD = "a new build on disk"  # (or in the engine, for a remote index)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, taken before anything slow, so that a port in use is one
    clear error at once. Raises OSError (EADDRINUSE, EACCES...)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT of a previous run is fine
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def serve_metrics(app: Flask, host: str, port: int) -> Callable[[], None]:
    """Answer the app's metrics on host:port, on prometheus_client's own server (a daemon
    thread): off the API's port, so a load balancer in front of the API never exposes them.
    Returns the function that stops it. Raises OSError when the port cannot be taken."""
    from prometheus_client import start_http_server

    httpd, _ = start_http_server(port, host, registry=app.extensions["qa.metrics"].registry)

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()

    return stop


def _reload(app: Flask, why: str, done: threading.Event) -> None:
    live = app.extensions["qa.live"]
    try:
        previous, current = live.reload(only_if_changed=why == NEW_BUILD)
        if current != previous or why != NEW_BUILD:
            log.info("%s: serving index %s (was %s)", why, current, previous)
    except Exception as e:  # the old index keeps serving
        log.error("%s: reload refused, still serving the old index: %s", why, e)
    finally:
        done.set()


def _register(app: Flask) -> None:
    index = app.extensions["qa.live"].searcher.index
    if index.folder is not None:
        servers.register(index.folder.parent, app.config.get("QA_URL", ""), index.folder.name, index.version)


def serve(app: Flask, listener: socket.socket, threads: int, drain_seconds: float = 20.0, max_body: int = 1 << 20) -> bool:
    """Serve on `listener` (see `listen`) until SIGTERM/SIGINT, then drain. True when every request
    in progress was answered. A build written by another process (CURRENT moved) is served
    within WATCH_SECONDS; SIGHUP reloads at once."""
    import waitress
    from waitress.server import BaseWSGIServer

    from .waitress_errors import QAChannel

    sockets: dict = {}  # waitress's socket map: listeners, connections and its wake-up trigger
    # waitress refuses a body of max_request_body_size bytes or more; the app allows max_body itself
    server = waitress.create_server(
        app, map=sockets, sockets=[listener], threads=threads, ident="qa", backlog=1024, max_request_body_size=max_body + 1
    )
    for listening in [d for d in sockets.values() if isinstance(d, BaseWSGIServer)]:
        listening.channel_class = QAChannel  # its own refusals are JSON with the security headers
    stop, hup = threading.Event(), threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: hup.set())
    live = app.extensions["qa.live"]
    _register(app)
    try:
        _watch(app, sockets, stop, hup)
        log.warning("stopping: no new connections; finishing the requests in progress")
        return _drain(sockets, drain_seconds)
    finally:
        index = live.searcher.index
        if index.folder is not None:
            servers.unregister(index.folder.parent)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        from waitress import wasyncore

        wasyncore.close_all(sockets)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(app: Flask, sockets: dict, stop: threading.Event, hup: threading.Event) -> None:
    """Answer requests until `stop`; reload on SIGHUP (`hup`) or when a new build is on disk,
    one reload at a time, and say again which build is served after an admin rebuild."""
    from waitress import wasyncore

    live, next_look = app.extensions["qa.live"], time.monotonic() + WATCH_SECONDS
    registered = live.searcher.index.folder
    idle = threading.Event()
    idle.set()  # no reload running
    while not stop.is_set():
        wasyncore.loop(timeout=0.2, map=sockets, count=1)
        why = "SIGHUP" if hup.is_set() else ""
        if not why and time.monotonic() >= next_look:
            next_look = time.monotonic() + WATCH_SECONDS
            why = NEW_BUILD if idle.is_set() and live.behind() else ""
            if idle.is_set() and live.searcher.index.folder != registered:  # an admin rebuild swapped it
                registered = live.searcher.index.folder
                _register(app)
        if why and idle.is_set():
            hup.clear()
            idle.clear()
            threading.Thread(target=_reload, args=(app, why, idle), daemon=True).start()


def _drain(sockets: dict, drain_seconds: float) -> bool:
    """Stop accepting, close idle connections, and finish the requests in progress (each told
    Connection: close) within `drain_seconds`. True when none was left unanswered."""
    from waitress import wasyncore
    from waitress.channel import HTTPChannel
    from waitress.server import BaseWSGIServer

    for accepting in [d for d in list(sockets.values()) if isinstance(d, BaseWSGIServer)]:
        accepting.accepting = False
        wasyncore.dispatcher.close(accepting)  # the socket only: its trigger still wakes this loop
    deadline = time.monotonic() + drain_seconds
    while time.monotonic() < deadline:
        connections = [d for d in list(sockets.values()) if isinstance(d, HTTPChannel)]
        busy = [c for c in connections if c.requests or c.request is not None or c.total_outbufs_len]
        for request in [r for c in busy for r in (*c.requests, c.request) if r is not None]:
            request.headers["CONNECTION"] = "close"  # waitress then answers with Connection: close
        for unused in set(connections) - set(busy):
            unused.handle_close()
        if not busy:
            return True
        wasyncore.loop(timeout=0.05, map=sockets, count=1)
    log.warning("gave up waiting for connections after %.0f s", drain_seconds)
    return False
