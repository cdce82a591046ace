"""Prometheus metrics of one app process, read at scrape time (``/metrics``).

The objects that do the work count with plain attributes (``redirector.redirects += 1``:
~20 ns, no lock, no call), and this collector turns them into metric families when
Prometheus asks. Nothing of ``prometheus_client`` runs on the redirect path. Each app has
its own registry (tests build hundreds of apps in one process; the library's global
registry would mix them).

Per process: in scale-out, Prometheus scrapes every process and sums (``sum by (...)``).
Under ``codeqr serve --workers N`` the processes share one port, so a scrape reaches any one
of them: each worker writes its families to a file of the shared directory every second
(``Workers.publish``) and answers ``/metrics`` with every worker's, each sample labelled
``worker="<n>"`` (a replaced worker's counters start again from 0, which Prometheus reads as
a counter reset).

Sources are tables of one line each: a new Redis fallback or dedupe counter is a line in
``REDIS_FALLBACKS`` or ``DEDUPE_HITS``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

from codeqr.kit.batchstats import SECONDS_BUCKETS

if TYPE_CHECKING:
    from codeqr.services import Services
    from codeqr.stripe.receiver import WebhookReceiver

Count = Callable[["Services"], int]

DEDUPE_HITS: dict[str, Count] = {
    "memory": lambda s: s.redirector.dedupe_hits,
    "store": lambda s: s.recorder.stats.repeats,
    "redis": lambda s: getattr(s.redirector.shared_visitors, "repeats", 0),
}
"""Repeat clicks of the hour not stored again, by where the earlier click was found."""
REDIS_FALLBACKS: dict[str, Count] = {
    "rate_limits": lambda s: getattr(s.rate_limits.store, "fallbacks", 0),
    "dedupe": lambda s: getattr(s.redirector.shared_visitors, "fallbacks", 0),
}
"""Operations done without Redis because it could not be reached, by what fell back."""


class CutOffs(Protocol):
    """What ``codeqr serve``'s server shows: connections it closed for a slow request."""

    cut_off: int


class AppMetrics(Collector):
    """The collector of one app, registered on its own ``registry``."""

    def __init__(self, services: Services, webhooks: WebhookReceiver) -> None:
        self.services = services
        self.webhooks = webhooks
        self.server: CutOffs | None = None
        """The HTTP server, once ``codeqr serve`` (or a test) has made one."""
        self.workers: Workers | None = None
        """Under ``--workers``: every worker's families, which ``/metrics`` then answers."""
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def collect(self) -> Iterable[Metric]:
        """The metric families, from the counters as they are now (on the event loop)."""
        services = self.services
        stats = services.recorder.stats
        yield _counter(
            "codeqr_redirects",
            "Requests answered by the redirect (any status).",
            services.redirector.redirects,
        )
        yield _counter("codeqr_clicks_written", "Clicks stored.", stats.written)
        yield _counter(
            "codeqr_clicks_failed", "Clicks whose batch could not be written.", stats.failed
        )
        yield SummaryMetricFamily(
            "codeqr_click_batch_size",
            "Clicks per group-commit batch.",
            count_value=stats.batches,
            sum_value=stats.items,
        )
        yield _histogram(
            "codeqr_click_batch_seconds",
            "Time to write one batch of clicks (enrich, insert, commit): what a redirect "
            "waits for its click.",
            stats.buckets,
            stats.seconds,
        )
        yield _labelled(
            "codeqr_dedupe_hits",
            "Repeat clicks of the hour not stored again, by where they were found.",
            "where",
            {where: count(services) for where, count in DEDUPE_HITS.items()},
        )
        yield _labelled(
            "codeqr_redis_fallbacks",
            "Operations done in process because Redis could not be reached.",
            "use",
            {use: count(services) for use, count in REDIS_FALLBACKS.items()},
        )
        yield _labelled(
            "codeqr_stripe_webhooks",
            "Stripe webhook deliveries, by outcome.",
            "outcome",
            dict(self.webhooks.outcomes),
        )
        yield _labelled(
            "codeqr_rate_limited",
            "Requests refused with 429 by a rate limit, by rule.",
            "rule",
            dict(services.rate_limits.refused),
        )
        yield GaugeMetricFamily(
            "codeqr_event_streams_open",
            "Event streams open in this process.",
            value=services.feed.open_count,
        )
        yield _counter(
            "codeqr_http_cut_off",
            "Connections closed for sending a request too slowly (slowloris guard).",
            self.server.cut_off if self.server is not None else 0,
        )
        if services.invalidations is not None:
            yield _counter(
                "codeqr_link_cache_resets",
                "Times the link cache was dropped after the invalidation subscription was lost.",
                services.invalidations.resets,
            )


class Workers(Collector):
    """Every worker's families under ``--workers``, each sample labelled with its worker
    (see the module docstring); ``registry`` is what ``/metrics`` renders in a worker."""

    PUBLISH_EVERY_S = 1.0

    def __init__(self, own: AppMetrics, directory: Path, number: int) -> None:
        self.own = own
        self.directory = directory
        self.number = number
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def start(self) -> None:
        """Publish this worker's families now and every second, from a thread of its own
        (for the worker's whole life: it ends with the process)."""
        self.publish()
        threading.Thread(target=self._run, name="metrics-publisher", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.PUBLISH_EVERY_S)
            with contextlib.suppress(OSError):
                self.publish()

    def publish(self) -> None:
        """Write this worker's families, whole (written aside, then renamed over)."""
        text = generate_latest(self.own.registry)
        target = self.directory / f"{self.number}.prom"
        aside = target.with_suffix(f".{os.getpid()}.tmp")
        aside.write_bytes(text)
        aside.replace(target)

    def collect(self) -> Iterable[Metric]:
        texts = {self.number: generate_latest(self.own.registry).decode()}
        for path in self.directory.glob("*.prom"):
            worker = int(path.stem) if path.stem.isdigit() else None
            if worker is not None and worker != self.number:
                with contextlib.suppress(OSError):
                    texts[worker] = path.read_text()
        merged: dict[str, Metric] = {}
        for worker, text in sorted(texts.items()):
            for family in text_string_to_metric_families(text):
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                into.samples.extend(
                    sample._replace(labels={**sample.labels, "worker": str(worker)})
                    for sample in family.samples
                )
        yield from merged.values()


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _labelled(
    name: str, documentation: str, label: str, values: dict[str, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in values.items():
        family.add_metric([value], count)
    return family


def _histogram(
    name: str, documentation: str, buckets: list[int], total: float
) -> HistogramMetricFamily:
    cumulative: list[tuple[str, float]] = []
    seen = 0
    for bound, count in zip((*map(str, SECONDS_BUCKETS), "+Inf"), buckets, strict=True):
        seen += count
        cumulative.append((bound, seen))
    return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=total)
