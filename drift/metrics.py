"""Drift's Prometheus metrics, served by the API at `/metrics`.

Recorded by the runtime API (apps/runs/runtime.py):
- `drift_sync_wait_seconds`: how long a sync start/resume waited for the run's stable state.

Computed at scrape time from the database (custom collectors: correct whichever process did the work, the
worker or Celery, and nothing has to be kept up to date):
- `drift_runs{status, workflow}`: runs in the Run mirror table by status and workflow definition;
- `drift_webhook_deliveries{status}` and `drift_webhook_attempts{result}`: webhook outcomes;
- `drift_definition_cache_hits_total{layer}` / `drift_definition_cache_misses_total` and
  `drift_definition_cache_hit_ratio`: read from `apps.definitions.cache.cache_stats()` of this process.

Access (issue 8.10): the run counts name every tenant's workflows, so `/metrics` is not anonymous. It answers
only `Authorization: Bearer <DRIFT_METRICS_TOKEN>` (constant-time compare); with no token configured it is
off (404). Prometheus sends the token with `authorization: {credentials: ...}` in its scrape config.

The worker's node latency (`drift_node_latency`) and the Temporal SDK metrics are served by the
worker on DRIFT_METRICS_PORT. The API runs one gunicorn process (threads), so the default
in-process registry is complete; with several processes use prometheus-client's multiprocess mode.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

SYNC_WAIT_SECONDS = Histogram(
    "drift_sync_wait_seconds",
    "Time a synchronous start/resume call waited for the run's next stable state.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


class RunsCollector(Collector):
    """Runs by status and workflow, and webhook outcomes, counted in the database at scrape time."""

    def describe(self) -> Iterable:  # without it, registering would run a query at import time
        yield GaugeMetricFamily("drift_runs", "", labels=["status", "workflow"])
        yield GaugeMetricFamily("drift_webhook_deliveries", "", labels=["status"])
        yield GaugeMetricFamily("drift_webhook_attempts", "", labels=["result"])
        yield GaugeMetricFamily("drift_runs_scrape_error", "")
        yield GaugeMetricFamily("drift_runs_scrape_seconds", "")

    def collect(self) -> Iterable:
        from django.db import connection

        families = [
            GaugeMetricFamily("drift_runs", "Runs in the Run mirror by status and workflow.",
                              labels=["status", "workflow"]),
            GaugeMetricFamily("drift_webhook_deliveries", "Webhook deliveries by status (PENDING, RETRYING, "
                              "DELIVERED, FAILED).", labels=["status"]),
            GaugeMetricFamily("drift_webhook_attempts", "Webhook delivery attempts by result (2xx = ok, else error).",
                              labels=["result"]),
        ]
        errors = GaugeMetricFamily("drift_runs_scrape_error", "1 if the last database count failed.")
        started = time.perf_counter()
        try:
            for family, rows in zip(families, _database_counts(), strict=True):
                for labels, count in rows:
                    family.add_metric(labels, count)
            errors.add_metric([], 0)
        except Exception:  # a scrape must not fail because the database is down; the error is exported
            logger.exception("runs metrics query failed")
            connection.close_if_unusable_or_obsolete()
            errors.add_metric([], 1)
        yield from families
        yield errors
        elapsed = time.perf_counter() - started
        yield GaugeMetricFamily("drift_runs_scrape_seconds", "Time spent counting for this scrape.", value=elapsed)


def _database_counts() -> tuple[list, list, list]:
    from django.db.models import Case, CharField, Count, Value, When

    from apps.runs.models import Run, WebhookAttempt, WebhookDelivery

    runs = Run.objects.order_by().values("status", "definition_key").annotate(n=Count("id"))
    deliveries = WebhookDelivery.objects.order_by().values("status").annotate(n=Count("id"))
    result = Case(When(status_code__gte=200, status_code__lt=300, then=Value("ok")), default=Value("error"),
                  output_field=CharField())
    attempts = WebhookAttempt.objects.order_by().annotate(result=result).values("result").annotate(n=Count("id"))
    return (
        [([row["status"], row["definition_key"]], row["n"]) for row in runs],
        [([row["status"]], row["n"]) for row in deliveries],
        [([row["result"]], row["n"]) for row in attempts],
    )


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


def _authorized(request) -> bool:
    token = settings.DRIFT_METRICS_TOKEN
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_view(request) -> HttpResponse:
    if not settings.DRIFT_METRICS_TOKEN:
        return JsonResponse({"error": "NOT_FOUND", "message": "Metrics are off: set DRIFT_METRICS_TOKEN."}, status=404)
    if not _authorized(request):
        response = JsonResponse({"error": "UNAUTHORIZED", "message": "Send Authorization: Bearer <metrics token>."},
                                status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
