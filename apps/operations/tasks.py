"""Celery tasks of run operations: Idempotency-Key purge, bulk jobs, schedule reconciling.

They kept their names from when they lived in apps/runs/tasks.py (`name=`), so queued messages and the beat
schedule (drift/settings.py) still route to them.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.runs.tasks import reenqueue


@shared_task(name="apps.runs.tasks.purge_idempotency_keys", time_limit=300)
def purge_idempotency_keys() -> int:
    """Periodic (Celery beat): forget Idempotency-Keys older than the TTL (bounded batch per run)."""
    from apps.operations.idempotency import idempotency_purge_expired

    return idempotency_purge_expired()


@shared_task(bind=True, name="apps.runs.tasks.work_bulk_job", max_retries=None, acks_late=True,
             time_limit=settings.DRIFT_BULK_TASK_SECONDS + 120)
def work_bulk_job(self, job_id: str) -> str:
    """Work a bulk job for one bounded slice; enqueue the next slice while items remain."""
    from apps.operations.bulk import Progress, bulk_job_work
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
    from apps.operations.bulk import bulk_stalled_job_ids

    return reenqueue(work_bulk_job, bulk_stalled_job_ids(), "stalled bulk jobs")


@shared_task(name="apps.runs.tasks.reconcile_schedules", time_limit=240)
def reconcile_schedules() -> dict[str, int]:
    """Periodic (Celery beat): Temporal's schedules made to match the Schedule rows (the truth)."""
    from apps.operations.schedules import schedules_reconcile

    return schedules_reconcile()
