"""Reads of run operations: a bulk job and its progress (GET /v3/bulk/{job} and the admin)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from apps.operations.models import BulkItemState, BulkJob
from drift.errors import first_or_not_found

MAX_REPORTED_FAILURES = 1000


def bulk_job_get(*, tenant: str, job_id: str) -> BulkJob:
    return first_or_not_found(BulkJob.objects.filter(job_id=job_id, tenant=tenant), f"Unknown bulk job '{job_id}'.")


def bulk_job_progress(job: BulkJob) -> dict[str, Any]:
    """GET /v3/bulk/{job} and the admin: counts by item state and the failed runs (first 1,000)."""
    counts = dict(job.items.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    failures = job.items.filter(state=BulkItemState.FAILED).order_by("id").values("workflow_id", "error")
    handled = counts.get(BulkItemState.DONE, 0) + counts.get(BulkItemState.FAILED, 0)
    return {
        "jobId": job.job_id, "op": job.op, "state": job.state, "total": job.total, "handled": handled,
        "done": counts.get(BulkItemState.DONE, 0), "failed": counts.get(BulkItemState.FAILED, 0),
        "pending": counts.get(BulkItemState.PENDING, 0),
        "percent": round(100 * handled / job.total, 1) if job.total else 100.0,
        "failures": [{"workflowId": row["workflow_id"], "error": row["error"]}
                     for row in failures[:MAX_REPORTED_FAILURES]],
        "createdBy": job.created_by, "createdAt": job.created_at, "finishedAt": job.finished_at,
    }
