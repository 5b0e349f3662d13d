"""Celery tasks of the runs app: webhook delivery, at-least-once with exponential backoff."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests
from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from apps.runs.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from apps.runs.webhooks import (
    webhook_backoff,
    webhook_body,
    webhook_headers,
    webhook_pending,
    webhook_setting,
    webhook_stale_ids,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptOutcome:
    status_code: int | None
    error: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _session() -> requests.Session:
    """Webhook URLs obey the HTTP nodes' SSRF policy when the guard is available."""
    try:
        from apps.nodes.http_guard import guarded_session
    except ImportError:  # pragma: no cover - the guard lands with apps/nodes
        session = requests.Session()
        session.trust_env = False
        return session
    return guarded_session(max_redirects=0)


def _post(delivery: WebhookDelivery) -> AttemptOutcome:
    body = webhook_body(delivery.payload)
    timeout = webhook_setting("DRIFT_WEBHOOK_TIMEOUT_SECONDS", 10)
    started = time.perf_counter()
    try:
        with _session() as session:
            response = session.post(delivery.url, data=body, headers=webhook_headers(delivery, body),
                                    timeout=timeout, allow_redirects=False)
        status_code, error = response.status_code, "" if response.ok else response.text[:500]
    except (requests.RequestException, ValueError) as exc:  # ValueError: the SSRF guard refused the address
        status_code, error = None, f"{type(exc).__name__}: {exc}"[:1000]
    return AttemptOutcome(status_code, error, (time.perf_counter() - started) * 1000)


def _record(delivery: WebhookDelivery, outcome: AttemptOutcome) -> int:
    """Log the attempt and count it; returns its number."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    delivery.refresh_from_db(fields=["attempts"])
    WebhookAttempt.objects.create(
        delivery=delivery, number=delivery.attempts, status_code=outcome.status_code, error=outcome.error,
        duration_ms=outcome.duration_ms,
    )
    return delivery.attempts


@shared_task(bind=True, max_retries=None, acks_late=True, name="apps.runs.tasks.deliver_webhook")
def deliver_webhook(self, delivery_id: str) -> str | None:
    delivery = webhook_pending(delivery_id)
    if delivery is None:
        return None
    outcome = _post(delivery)
    number = _record(delivery, outcome)
    if outcome.ok:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DELIVERED,
                                                              delivered_at=timezone.now())
        return DeliveryStatus.DELIVERED
    if number >= webhook_setting("DRIFT_WEBHOOK_MAX_ATTEMPTS", 8):
        logger.warning("webhook delivery failed for good", extra={"workflow_id": delivery.run.workflow_id})
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
        return DeliveryStatus.FAILED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.RETRYING)
    raise self.retry(countdown=webhook_backoff(number))


@shared_task(name="apps.runs.tasks.redeliver_stale_webhooks")
def redeliver_stale_webhooks() -> int:
    """Periodic (Celery beat): enqueue deliveries whose task was lost, e.g. a crash between the commit of
    the state change and the hand-over to the broker. Delivery is at-least-once; receivers dedupe by id."""
    return _reenqueue(deliver_webhook, webhook_stale_ids(), "stale webhook deliveries")


def _reenqueue(task, ids: list[str], what: str) -> int:
    for item_id in ids:
        task.delay(item_id)
    if ids:
        logger.warning("re-enqueued %d %s", len(ids), what)
    return len(ids)


@shared_task(name="apps.runs.tasks.purge_idempotency_keys", time_limit=300)
def purge_idempotency_keys() -> int:
    """Periodic (Celery beat): forget Idempotency-Keys older than the TTL (bounded batch per run)."""
    from apps.runs.idempotency import idempotency_purge_expired

    return idempotency_purge_expired()


@shared_task(bind=True, name="apps.runs.tasks.work_bulk_job", max_retries=None, acks_late=True,
             time_limit=settings.DRIFT_BULK_TASK_SECONDS + 120)
def work_bulk_job(self, job_id: str) -> str:
    """Work a bulk job for one bounded slice; enqueue the next slice while items remain."""
    from apps.runs.bulk import Progress, bulk_job_work
    from drift.errors import ServiceUnavailable

    try:
        progress = bulk_job_work(job_id)
    except ServiceUnavailable as exc:
        raise self.retry(countdown=15, exc=exc) from exc
    if progress is Progress.MORE:
        work_bulk_job.delay(job_id)
    return progress.value


@shared_task(name="apps.runs.tasks.resume_stalled_bulk_jobs", time_limit=60)
def resume_stalled_bulk_jobs() -> int:
    """Periodic (Celery beat): hand jobs whose worker died (lease lapsed) or whose task was lost to a worker."""
    from apps.runs.bulk import bulk_stalled_job_ids

    return _reenqueue(work_bulk_job, bulk_stalled_job_ids(), "stalled bulk jobs")


@shared_task(name="apps.runs.tasks.reconcile_schedules", time_limit=240)
def reconcile_schedules() -> dict[str, int]:
    """Periodic (Celery beat): Temporal's schedules made to match the Schedule rows (the truth)."""
    from apps.runs.schedules import schedules_reconcile

    return schedules_reconcile()
