"""Celery tasks of the triggers app: delivery of stored events (retried with backoff until it succeeds), the
sweep that re-enqueues lost ones, and the purge of expired dedupe claims. Each bounded in time."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.triggers.services import dedupe_purge_expired, event_deliver, events_stale_ids

logger = logging.getLogger(__name__)


# A start or signal is one Temporal call (its RPC retries end within seconds); the limits are a backstop.
@shared_task(bind=True, max_retries=None, acks_late=True, name="apps.triggers.tasks.deliver_trigger_event",
             soft_time_limit=60, time_limit=90)
def deliver_trigger_event(self, event_id: str) -> None:
    retry_in = event_deliver(event_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(name="apps.triggers.tasks.redeliver_stale_trigger_events", soft_time_limit=50, time_limit=60)
def redeliver_stale_trigger_events() -> int:
    """Periodic (beat): events whose task was lost (a broker outage at commit, a worker killed past its
    retries) are enqueued again; delivery is exactly once whatever the repeats."""
    ids = events_stale_ids()
    for event_id in ids:
        deliver_trigger_event.delay(event_id)
    if ids:
        logger.warning("re-enqueued %d stale trigger events", len(ids))
    return len(ids)


@shared_task(name="apps.triggers.tasks.purge_trigger_dedupe", time_limit=300)
def purge_trigger_dedupe() -> int:
    return dedupe_purge_expired()
