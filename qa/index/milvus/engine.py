"""The connection to a Milvus engine, and the one place its failures become `BackendUnavailable`.

`pymilvus` is imported here, lazily: the segment store never needs it, and a missing package is
a clear `ConfigError` naming the extra to install. Every call to the engine goes through
`Engine.call`, which gives each one a timeout and turns pymilvus's and gRPC's errors (the engine
down, unreachable, timing out, failing) into `BackendUnavailable` (503, Retry-After), so a request
never hangs on the engine or ends in a 500 because of it.

The same client code talks to Milvus Lite (a `.db` path: an engine inside this process) and to a
Milvus standalone or cluster (`http://host:19530`), or to `milvus-lite server` over the network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...config import Settings
from ...errors import BackendUnavailable, ConfigError

log = logging.getLogger(__name__)

RETRY_AFTER = 2  # seconds a client is told to wait when the engine is unavailable
PARTS = ("passages", "sentences", "documents", "state", "terms")


def pymilvus() -> Any:
    """The pymilvus module, or a clear error saying how to install it."""
    try:
        import pymilvus as module
    except ImportError:
        raise ConfigError("backend milvus needs pymilvus: pip install 'qa[milvus]'") from None
    return module


def _failures() -> tuple[type[BaseException], ...]:
    """What the engine raises when it is down, unreachable, slow or failing."""
    failures: list[type[BaseException]] = [pymilvus().MilvusException, TimeoutError, ConnectionError]
    try:
        import grpc

        failures.append(grpc.RpcError)
    except ImportError:  # pragma: no cover - pymilvus depends on grpcio
        pass
    return tuple(failures)


class Engine:
    """A Milvus client for one settings' engine and collections; safe to share between threads.

    `name(part)` names a collection (`{prefix}_{part}`); `call` runs a client method with the
    settings' timeout, translating failures. A client that failed is made again on the next
    call, so the engine coming back needs no restart of qa."""

    def __init__(self, settings: Settings) -> None:
        self.uri = settings.engine_uri
        self.token, self.database = settings.milvus_token, settings.milvus_database
        self.prefix, self.timeout = settings.milvus_collection, settings.milvus_timeout
        self.local = "://" not in self.uri  # a Milvus Lite file, served from inside this process
        self._client: Any = None
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def name(self, part: str) -> str:
        return f"{self.prefix}_{part}"

    def describe(self) -> str:
        """Where the engine is, for messages (never the token)."""
        return self.uri

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                if self.local:
                    Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
                kwargs = {"db_name": self.database} if self.database else {}
                self._client = pymilvus().MilvusClient(uri=self.uri, token=self.token, timeout=self.timeout, **kwargs)
                self._loaded.clear()
            return self._client

    def forget(self) -> None:
        """Drop the client (after a failure): the next call connects again."""
        with self._lock:
            client, self._client = self._client, None
            self._loaded.clear()
        if client is not None and not self.local:
            try:
                client.close()
            except Exception:  # closing a broken connection may fail too; it is dropped either way
                log.debug("closing a failed Milvus client", exc_info=True)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`client.method(*args, **kwargs)` with the timeout; `BackendUnavailable` when it fails."""
        with self.guard(method):
            return getattr(self.client(), method)(*args, timeout=self.timeout, **kwargs)

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Turn the engine's failures inside into `BackendUnavailable` (and reconnect next time)."""
        try:
            yield
        except _failures() as e:
            self.forget()
            message = str(getattr(e, "message", "") or getattr(e, "details", lambda: "")() or e)[:300]
            log.warning("Milvus at %s failed (%s): %s", self.describe(), what, message)
            raise BackendUnavailable(
                f"the index engine (Milvus at {self.describe()}) is unavailable: {message}", retry_after=RETRY_AFTER
            ) from None

    def loaded(self, part: str) -> str:
        """A collection's name, loaded for searching first (a reopened collection must be loaded)."""
        collection = self.name(part)
        if collection not in self._loaded:
            self.call("load_collection", collection)
            self._loaded.add(collection)
        return collection

    def exists(self) -> bool:
        """Whether the state collection exists (an index was built into this engine)."""
        return bool(self.call("has_collection", self.name("state")))

    def each(self, part: str, fields: list[str], filter: str = "", batch: int = 4096) -> Iterator[dict]:
        """Every row of a collection (matching `filter`), these fields, in batches."""
        with self.guard("query_iterator"):
            iterator = self.client().query_iterator(
                self.loaded(part), batch_size=batch, filter=filter, output_fields=fields, timeout=self.timeout
            )
            try:
                while page := iterator.next():
                    yield from page
            finally:
                iterator.close()

    def by_ids(self, part: str, ids: list[str] | list[int], fields: list[str]) -> list[dict]:
        """Rows by primary key, in no particular order (in chunks the engine accepts)."""
        out: list[dict] = []
        for at in range(0, len(ids), 2048):
            out += self.call("get", self.loaded(part), ids=ids[at : at + 2048], output_fields=fields)
        return out

    def count(self, part: str, filter: str) -> int:
        rows = self.call("query", self.loaded(part), filter=filter, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0


def quoted(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
