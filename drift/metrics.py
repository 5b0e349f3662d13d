"""Drift's Prometheus metrics, served by the API at `/metrics`.

Other modules record into the instruments exported here:
- `SYNC_WAIT_SECONDS.observe(seconds)`: how long a sync start/resume waited for the stable state;
- `WEBHOOK_DELIVERIES.labels(outcome="delivered"|"retry"|"failed").inc()`: one per delivery attempt outcome.

Computed at scrape time (custom collectors, so nothing has to be kept up to date):
- `drift_runs{status, workflow}`: runs in the Run mirror table by status and workflow definition;
- `drift_definition_cache_hits_total{layer}` / `drift_definition_cache_misses_total` and
  `drift_definition_cache_hit_ratio`: read from `apps.definitions.cache.cache_stats()` of this process.

The worker's node latency (`drift_node_latency`) and the Temporal SDK metrics are served by the
worker on DRIFT_METRICS_PORT. The API runs one gunicorn process (threads), so the default
in-process registry is complete; with several processes use prometheus-client's multiprocess mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

SYNC_WAIT_SECONDS = Histogram(
    "drift_sync_wait_seconds",
    "Time a synchronous start/resume call waited for the run's next stable state.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
WEBHOOK_DELIVERIES = Counter(
    "drift_webhook_deliveries",
    "Webhook delivery attempts by outcome (delivered, retry, failed).",
    ["outcome"],
)


class RunsCollector(Collector):
    """Counts of Run mirror rows grouped by status and workflow definition, queried at scrape time."""

    def describe(self) -> Iterable:  # without it, registering would run a query at import time
        yield GaugeMetricFamily("drift_runs", "", labels=["status", "workflow"])
        yield GaugeMetricFamily("drift_runs_scrape_error", "")
        yield GaugeMetricFamily("drift_runs_scrape_seconds", "")

    def collect(self) -> Iterable:
        from django.db import connection
        from django.db.models import Count

        from apps.runs.models import Run

        runs = GaugeMetricFamily(
            "drift_runs", "Runs in the Run mirror by status and workflow.", labels=["status", "workflow"]
        )
        errors = GaugeMetricFamily("drift_runs_scrape_error", "1 if the last runs query failed.")
        started = time.perf_counter()
        try:
            rows = Run.objects.order_by().values("status", "definition_key").annotate(n=Count("id"))
            for row in rows:
                runs.add_metric([row["status"], row["definition_key"]], row["n"])
            errors.add_metric([], 0)
        except Exception:  # a scrape must not fail because the database is down; the error is exported
            logger.exception("runs metrics query failed")
            connection.close_if_unusable_or_obsolete()
            errors.add_metric([], 1)
        yield runs
        yield errors
        elapsed = time.perf_counter() - started
        yield GaugeMetricFamily("drift_runs_scrape_seconds", "Time spent counting runs for this scrape.", value=elapsed)


class DefinitionCacheCollector(Collector):
    """Hit/miss counters of the definitions cache of this process (apps.definitions.cache)."""

    def describe(self) -> Iterable:
        yield CounterMetricFamily("drift_definition_cache_hits", "", labels=["layer"])
        yield CounterMetricFamily("drift_definition_cache_misses", "")
        yield GaugeMetricFamily("drift_definition_cache_hit_ratio", "")

    def collect(self) -> Iterable:
        try:
            from apps.definitions.cache import cache_stats

            stats = cache_stats()
        except Exception:  # the cache module is optional for the metrics endpoint
            return
        hits = CounterMetricFamily(
            "drift_definition_cache_hits", "Definition cache hits by layer (local LRU, shared Redis).", labels=["layer"]
        )
        hits.add_metric(["local"], stats.get("local_hits", 0))
        hits.add_metric(["shared"], stats.get("shared_hits", 0))
        misses = CounterMetricFamily("drift_definition_cache_misses", "Definition cache misses (loaded from the DB).")
        misses.add_metric([], stats.get("misses", 0))
        total_hits = stats.get("local_hits", 0) + stats.get("shared_hits", 0)
        lookups = total_hits + stats.get("misses", 0)
        ratio = GaugeMetricFamily(
            "drift_definition_cache_hit_ratio", "Hits / lookups of the definition cache since process start."
        )
        ratio.add_metric([], total_hits / lookups if lookups else 0.0)
        yield hits
        yield misses
        yield ratio


RUNS_COLLECTOR = RunsCollector()
CACHE_COLLECTOR = DefinitionCacheCollector()
REGISTRY.register(RUNS_COLLECTOR)
REGISTRY.register(CACHE_COLLECTOR)


def metrics_view(request) -> HttpResponse:
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
