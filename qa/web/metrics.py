"""Prometheus metrics (prometheus-client), off unless `QA_METRICS=1` (at `GET /metrics`) or
`QA_METRICS_PORT` (on a listener of their own, started by `qa serve`).

Counted as requests are answered (read from `outcome`'s notes): requests by route (the Flask
endpoint, never the path, so the label set stays small) and status, their latency by route,
questions answered, abstained (by reason), and requests answered 503 `backend_unavailable`.
Read from the served searcher at each scrape, so they follow reloads: documents and passages
served, the question encoder's tier, reloads (`LiveSearcher.swaps`), requests using the model.

Each app has its own registry, so two apps in one process do not share (or clash over) series.
`qa serve` is one process (waitress threads), so each server is one scrape target: replicas are
scraped one by one, as Prometheus scrapes any fleet, and no multiprocess mode is needed.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from ..errors import BackendUnavailable
from ..retrieve.live import LiveSearcher
from ..retrieve.results import ABSTAIN_REASONS
from .admission import Admission
from .outcome import answered, error_code, route, seconds_taken

# A search answers in 3 to 30 ms here; batches, cold starts and waits for a turn take longer
LATENCY_BUCKETS = (0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The app's registry and the metrics counted as requests are answered."""

    def __init__(self, live: LiveSearcher, admission: Admission | None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("qa_http_requests", "Requests answered, by route and status.", ["route", "status"], registry=r)
        self.latency = Histogram(
            "qa_http_request_duration_seconds", "Time to answer, by route.", ["route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.questions = Counter("qa_questions", "Questions answered (each question of a batch counts).", registry=r)
        self.abstained = Counter("qa_questions_abstained", "Questions abstained, by reason.", ["reason"], registry=r)
        for reason in filter(None, ABSTAIN_REASONS):
            self.abstained.labels(reason)  # every reason is a series from the start, at 0
        self.backend_errors = Counter(
            "qa_backend_errors", f"Requests answered 503 {BackendUnavailable.code}: the index engine unreachable.", registry=r
        )
        r.register(ServedCollector(live, admission))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def observe(self, status: int) -> None:
        """Count the request being answered with `status`."""
        where = route()
        self.requests.labels(where, str(status)).inc()
        self.latency.labels(where).observe(seconds_taken())
        if searches := answered():
            self.questions.inc(searches.questions)
            for reason in searches.abstained:
                self.abstained.labels(reason).inc()
        if error_code() == BackendUnavailable.code:
            self.backend_errors.inc()

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)


class ServedCollector(Collector):
    """What the server serves now, read at each scrape."""

    def __init__(self, live: LiveSearcher, admission: Admission | None) -> None:
        self.live = live
        self.admission = admission

    def collect(self) -> Iterator[Metric]:
        searcher = self.live.searcher
        manifest = searcher.index.manifest
        yield GaugeMetricFamily("qa_documents", "Documents in the served index.", value=manifest.documents)
        yield GaugeMetricFamily("qa_passages", "Passages in the served index.", value=manifest.passages)
        yield CounterMetricFamily("qa_reloads", "Indexes swapped in since start (reloads and rebuilds).", value=self.live.swaps)
        encoder = searcher.encoder_info()
        yield InfoMetricFamily("qa_encoder", "What encodes questions.", value={"tier": encoder["tier"], "model": manifest.model})
        if self.admission is not None:
            yield GaugeMetricFamily("qa_requests_in_progress", "Requests holding a model turn.", value=self.admission.active)


def init_metrics(app: Flask, live: LiveSearcher, serve_route: bool) -> Metrics:
    """Count every request of `app`; with `serve_route`, answer `GET /metrics` too."""
    metrics = Metrics(live, app.extensions.get("qa.admission"))
    app.extensions["qa.metrics"] = metrics

    @app.after_request
    def count(response: Response) -> Response:
        metrics.observe(response.status_code)
        return response

    if serve_route:
        app.add_url_rule("/metrics", "metrics", metrics.exposition, methods=["GET"])
    return metrics
