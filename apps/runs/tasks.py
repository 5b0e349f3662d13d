"""Celery tasks of the runs app: webhook delivery, at-least-once with exponential backoff.

One receiver cannot stall delivery for the others: each attempt has one total deadline (connect, send, status
and headers; the body of a 2xx answer is never read, that of a refusal only up to a small cap), the task has
Celery soft/hard time limits as a backstop, and per-host / per-client slots plus a shared slow lane
(apps/runs/webhooks/slots.py) bound how many Celery processes slow receivers can hold. Addresses the SSRF
guard refuses fail at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import timedelta

import requests
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from apps.nodes.http_guard import BlockedAddress, Deadline, guarded_session
from apps.runs.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from apps.runs.webhooks.delivery import (
    webhook_backoff,
    webhook_body,
    webhook_defer_delay,
    webhook_headers,
    webhook_pending,
    webhook_setting,
    webhook_stale_ids,
)
from apps.runs.webhooks.slots import mark_slow, receiver_keys, receiver_slots

logger = logging.getLogger(__name__)

ERROR_BODY_BYTES = 1024  # of a refusal's body, kept in the attempt log; a 2xx body is never read
# Backstops past the delivery deadline (time for the database writes around it). The hard limit kills the
# process (prefork pool); the slot lease outlives it so a killed delivery frees its slots soon after.
SOFT_TIME_LIMIT = settings.DRIFT_WEBHOOK_TIMEOUT_SECONDS + 15
HARD_TIME_LIMIT = settings.DRIFT_WEBHOOK_TIMEOUT_SECONDS + 30
SLOT_LEASE_PAST_DEADLINE = 35  # seconds: past the hard limit, so only a killed process leaves its slots (briefly)


@dataclass(frozen=True)
class AttemptOutcome:
    status_code: int | None
    error: str
    duration_ms: float
    retryable: bool = True
    cut: bool = False  # by the delivery deadline

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(delivery: WebhookDelivery) -> AttemptOutcome:
    body = webhook_body(delivery.payload)
    seconds = webhook_setting("DRIFT_WEBHOOK_TIMEOUT_SECONDS")
    started = time.perf_counter()
    status_code, error, retryable = None, "", True
    with Deadline(seconds) as deadline:
        try:
            with guarded_session(max_redirects=0) as session, session.post(
                delivery.url, data=body, headers=webhook_headers(delivery, body), timeout=seconds,
                allow_redirects=False, stream=True,
            ) as response:
                if deadline.expired:  # http.client takes the EOF of the cut connection for the end of the headers
                    error = f"incomplete answer (status line {response.status_code}, headers cut)"
                else:
                    status_code = response.status_code
                    error = "" if response.ok else _error_body(response)
        except BlockedAddress as exc:  # a ValueError the guard raises before connecting: never retried
            error, retryable = f"refused by the SSRF guard: {exc}", False
        except (requests.RequestException, ValueError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except SoftTimeLimitExceeded:
            error = "the task's soft time limit was reached"
    outcome = AttemptOutcome(status_code, error, (time.perf_counter() - started) * 1000, retryable)
    if deadline.expired and not outcome.ok:
        error = f"{error} [cut off by the {seconds:g} s delivery deadline]".strip()
    return replace(outcome, error=error[:1000], cut=deadline.expired and not outcome.ok)


def _error_body(response: requests.Response) -> str:
    """The start of a refusal's body: at most ERROR_BODY_BYTES, and only what arrives before the deadline."""
    chunks: list[bytes] = []
    try:
        for chunk in response.iter_content(256):
            chunks.append(chunk)
            if sum(map(len, chunks)) >= ERROR_BODY_BYTES:
                break
    except (requests.RequestException, OSError):
        pass
    return b"".join(chunks)[:ERROR_BODY_BYTES].decode("utf-8", "replace")


def _record(delivery: WebhookDelivery, outcome: AttemptOutcome) -> int:
    """Log the attempt and count it; returns its number."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    delivery.refresh_from_db(fields=["attempts"])
    WebhookAttempt.objects.create(
        delivery=delivery, number=delivery.attempts, status_code=outcome.status_code, error=outcome.error,
        duration_ms=outcome.duration_ms,
    )
    return delivery.attempts


def _mark(delivery: WebhookDelivery, status: str, *, due_in: float = 0) -> None:
    """Set the status; a queued next try is due in `due_in` seconds (the stale sweep leaves it alone till then)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status, next_attempt_at=timezone.now() + timedelta(seconds=due_in),
        **({"delivered_at": timezone.now()} if status == DeliveryStatus.DELIVERED else {}),
    )


@shared_task(bind=True, max_retries=None, acks_late=True, name="apps.runs.tasks.deliver_webhook",
             soft_time_limit=SOFT_TIME_LIMIT, time_limit=HARD_TIME_LIMIT)
def deliver_webhook(self, delivery_id: str, deferrals: int = 0) -> str | None:
    delivery = webhook_pending(delivery_id)
    if delivery is None:
        return None
    caps = receiver_keys(url=delivery.url, tenant=delivery.run.tenant, client_id=delivery.run.client_id)
    lease = webhook_setting("DRIFT_WEBHOOK_TIMEOUT_SECONDS") + SLOT_LEASE_PAST_DEADLINE
    with receiver_slots(caps, lease_seconds=lease) as acquired:
        outcome = _post(delivery) if acquired else None
    if outcome is None:  # its host, client or the slow lane is at the cap: try again later, no attempt spent
        countdown = webhook_defer_delay(deferrals)
        _mark(delivery, delivery.status, due_in=countdown)
        raise self.retry(args=(delivery_id,), kwargs={"deferrals": deferrals + 1}, countdown=countdown)
    if outcome.cut:
        mark_slow(caps)
    number = _record(delivery, outcome)
    if outcome.ok:
        _mark(delivery, DeliveryStatus.DELIVERED)
        return DeliveryStatus.DELIVERED
    if not outcome.retryable or number >= webhook_setting("DRIFT_WEBHOOK_MAX_ATTEMPTS"):
        logger.warning("webhook delivery failed for good", extra={"workflow_id": delivery.run.workflow_id})
        _mark(delivery, DeliveryStatus.FAILED)
        return DeliveryStatus.FAILED
    countdown = webhook_backoff(number)
    _mark(delivery, DeliveryStatus.RETRYING, due_in=countdown)
    raise self.retry(args=(delivery_id,), kwargs={"deferrals": 0}, countdown=countdown)


@shared_task(name="apps.runs.tasks.redeliver_stale_webhooks", soft_time_limit=50, time_limit=60)
def redeliver_stale_webhooks() -> int:
    """Periodic (Celery beat): enqueue deliveries whose task was lost, e.g. a crash between the commit of
    the state change and the hand-over to the broker. Delivery is at-least-once; receivers dedupe by id."""
    return reenqueue(deliver_webhook, webhook_stale_ids(), "stale webhook deliveries")


def reenqueue(task, ids: list[str], what: str) -> int:
    """Enqueue `task` once per id (the periodic sweeps of lost work: stale webhook deliveries, stalled bulk jobs)."""
    for item_id in ids:
        task.delay(item_id)
    if ids:
        logger.warning("re-enqueued %d %s", len(ids), what)
    return len(ids)


# Backstops past the release pass's own bound (DRIFT_ADMISSION_RELEASE_SECONDS, checked between workflows).
RELEASE_SOFT_LIMIT = settings.DRIFT_ADMISSION_RELEASE_SECONDS + 30
RELEASE_HARD_LIMIT = settings.DRIFT_ADMISSION_RELEASE_SECONDS + 60


@shared_task(name="apps.runs.tasks.release_queued_starts", soft_time_limit=RELEASE_SOFT_LIMIT,
             time_limit=RELEASE_HARD_LIMIT)
def release_queued_starts() -> int:
    """Periodic (Celery beat): start queued starts into free slots (apps/runs/admission.py), bounded."""
    from apps.runs.admission import admission_release_due

    return admission_release_due()


@shared_task(name="apps.runs.tasks.release_queued_starts_of", soft_time_limit=RELEASE_SOFT_LIMIT,
             time_limit=RELEASE_HARD_LIMIT)
def release_queued_starts_of(tenant: str, workflow_key: str) -> int:
    """The run-end path: a run of this workflow ended, its slot goes to the oldest queued start."""
    from apps.runs.admission import admission_release

    return admission_release(tenant=tenant, workflow_key=workflow_key)


# Parent-close termination is carried out by the server soon after the parent closes: look again after these
# pauses (about 60 s in all), then leave whatever still runs (an ASYNC child runs on by design).
RECONCILE_COUNTDOWNS = (1, 2, 4, 8, 15, 15, 15)


@shared_task(bind=True, max_retries=len(RECONCILE_COUNTDOWNS), name="apps.runs.tasks.reconcile_terminated_family",
             soft_time_limit=90, time_limit=120)
def reconcile_terminated_family(self, workflow_id: str, reason: str) -> int:
    """After a terminate: mirror the descendants Temporal terminated with the run (apps/runs/terminations.py).
    Idempotent: only rows still open are touched. Returns how many descendants still run."""
    from apps.runs.terminations import TemporalUnreachable, terminated_family_reconcile

    try:
        running = terminated_family_reconcile(workflow_id=workflow_id, reason=reason)
    except TemporalUnreachable:
        logger.warning("terminated-family reconcile: Temporal unreachable", exc_info=True,
                       extra={"workflow_id": workflow_id})
        running = -1
    if running and self.request.retries < len(RECONCILE_COUNTDOWNS):
        raise self.retry(countdown=RECONCILE_COUNTDOWNS[self.request.retries])
    if running < 0:
        logger.error("terminated-family reconcile gave up: Temporal unreachable", extra={"workflow_id": workflow_id})
    return running
