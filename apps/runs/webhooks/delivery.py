"""Webhook notifications of ASYNC runs: one WebhookDelivery per stable state, delivered by Celery
(apps/runs/tasks.py) with retries. Called by the worker's persist activity after a state change."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.clients.models import ApiClient
from apps.runs.models import DeliveryStatus, Run, RunMode, RunStatus, WebhookDelivery
from apps.runs.selectors import workflow_response

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Drift-Signature"
DELIVERY_HEADER = "X-Drift-Delivery"
# Statuses named as their own event; the other stable ones (DELEGATED, ASYNC_COMPLETE) wait for input too.
_OWN_EVENTS = frozenset({RunStatus.WAITING, RunStatus.SCHEDULER_WAITING, RunStatus.COMPLETED, RunStatus.FAILED,
                         RunStatus.TERMINATED})


def webhook_setting(name: str) -> float:
    """A DRIFT_WEBHOOK_* setting (drift/settings.py; tests shrink them)."""
    return float(getattr(settings, name))


def webhook_event(status: str) -> str:
    return status if status in _OWN_EVENTS else RunStatus.WAITING


def webhook_notify(*, run: Run, response: dict[str, Any], state_seq: int | None = None) -> WebhookDelivery | None:
    """Record a delivery of this state change for an ASYNC run and enqueue it (after commit); a state already
    recorded (`state_seq` seen before: a retried persist) is not recorded again."""
    if run.mode != RunMode.ASYNC:
        return None
    client = ApiClient.objects.filter(tenant=run.tenant, client_id=run.client_id).first()
    url = run.callback_url or (client.callback_url if client else "")
    if not url:
        logger.info("async run without callback url; no webhook", extra={"workflow_id": run.workflow_id})
        return None
    delivery_id = uuid.uuid4().hex
    event = webhook_event(str(response.get("workflowStatus") or ""))
    payload = workflow_response(response) | {
        "event": event, "deliveryId": delivery_id, "timestamp": timezone.now().isoformat(),
    }
    fields = {"delivery_id": delivery_id, "event": event, "url": url, "payload": payload}
    if state_seq is None:
        delivery, created = WebhookDelivery.objects.create(run=run, **fields), True
    else:
        delivery, created = WebhookDelivery.objects.get_or_create(run=run, state_seq=state_seq, defaults=fields)
    if not created:
        return delivery
    from apps.runs.tasks import deliver_webhook

    # robust: a broker outage (e.g. a Sentinel failover) must not fail the state write; the stale sweep
    # (redeliver_stale_webhooks) enqueues the delivery later.
    transaction.on_commit(lambda: deliver_webhook.delay(delivery_id), robust=True)
    return delivery


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): deterministic, so every attempt carries the same signature."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    client = ApiClient.objects.filter(tenant=delivery.run.tenant, client_id=delivery.run.client_id).first()
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery.delivery_id,
               "User-Agent": "Drift-Webhooks/1"}
    if client and client.webhook_secret:
        headers[SIGNATURE_HEADER] = webhook_signature(client.webhook_secret, body)
    return headers


def webhook_backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` + 1: base * 2^(attempt-1), capped."""
    base = webhook_setting("DRIFT_WEBHOOK_BACKOFF_BASE_SECONDS")
    cap = webhook_setting("DRIFT_WEBHOOK_BACKOFF_MAX_SECONDS")
    return min(base * 2 ** (attempt - 1), cap)


def webhook_defer_delay(deferrals: int) -> float:
    """Seconds before a delivery deferred `deferrals` times (its receiver at the cap) looks again: doubling from
    a quarter of a second up to DRIFT_WEBHOOK_DEFER_MAX_SECONDS, jittered so deferred tasks spread out."""
    cap = webhook_setting("DRIFT_WEBHOOK_DEFER_MAX_SECONDS")
    return min(0.25 * 2 ** min(deferrals, 16), cap) * random.uniform(0.75, 1.25)


def webhook_pending(delivery_id: str) -> WebhookDelivery | None:
    """The delivery if it still needs an attempt (a redelivered task of a finished one does nothing)."""
    delivery = WebhookDelivery.objects.select_related("run").filter(delivery_id=delivery_id).first()
    if delivery is None or delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        return None
    return delivery


def webhook_stale_ids() -> list[str]:
    """Deliveries nobody is working on: pending or retrying well past the time their queued task was due."""
    grace = timedelta(seconds=webhook_setting("DRIFT_WEBHOOK_STALE_SECONDS"))
    overdue = WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
                                             next_attempt_at__lt=timezone.now() - grace)
    return list(overdue.values_list("delivery_id", flat=True))
