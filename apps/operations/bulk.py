"""Bulk terminate / rerun / redrive (spec §10): a job of up to DRIFT_BULK_MAX_RUNS runs, worked by Celery.

Each run is a BulkItem row, PENDING until handled, so a job resumes where it stopped. A run is handled at
most once in effect: rerun and redrive start their new run under a workflow id derived from the item, so
repeating an item whose worker died after the start (before marking it DONE) joins or finds that same run;
terminating an ended run is a no-op. One worker at a time holds a job's lease; a dead worker's lease lapses
and the periodic sweep (`resume_stalled_bulk_jobs`) hands the job to another one.
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.operations.models import BulkItem, BulkItemState, BulkJob, BulkJobState, BulkOp
from apps.operations.redrive import context_patch_check, run_redrive
from apps.operations.rerun import run_rerun
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import BULK_ID_PREFIX
from apps.runs.runtime import run_terminate
from apps.runs.search import search_filter_parse
from apps.runs.selectors import run_get, runs_matching
from apps.secrets.sealing import SealedRun, refuse_sealed, seal, unseal
from core.redaction import sensitive_values
from drift.errors import DriftError, InvalidInput, Problem, ServiceUnavailable

logger = logging.getLogger(__name__)
_ITEM_BATCH = 50


class Progress(enum.Enum):
    DONE = "done"  # no item left
    MORE = "more"  # the time budget ran out: work the rest in a new task
    BUSY = "busy"  # another worker holds the lease


def _job_sealing(tenant: str, job_id: str) -> SealedRun:
    """A job's sealed options open only for that job (never as some run's data)."""
    return SealedRun(tenant, f"bulk:{job_id}")


def bulk_job_create(*, tenant: str, op: str, selection: dict[str, Any], options: dict[str, Any],
                    actor: str) -> BulkJob:
    """Record the job and its items, then hand it to Celery once committed."""
    refuse_sealed(options.get("contextPatch"), "$.contextPatch")
    context_patch_check(options.get("contextPatch"))  # refused now, not once per run
    job_id = uuid.uuid4().hex
    if options.get("contextPatch"):
        # A job spans definitions and versions, and only its worker reads the patch: every value is sealed
        # (each top-level key taken as a sensitive path covers every leaf), bound to the job.
        options = {**options, "contextPatch": seal(options["contextPatch"], sensitive_values(
            options["contextPatch"], options["contextPatch"].keys()), _job_sealing(tenant, job_id))}
    workflow_ids = _targets(tenant, selection)
    with transaction.atomic():
        job = BulkJob.objects.create(job_id=job_id, tenant=tenant, op=op, selection=selection,
                                     options=options, total=len(workflow_ids), created_by=actor)
        BulkItem.objects.bulk_create([BulkItem(job=job, workflow_id=workflow_id) for workflow_id in workflow_ids],
                                     batch_size=1000)
        transaction.on_commit(lambda: _enqueue(job.job_id))
    return job


def _enqueue(job_id: str) -> None:
    from apps.operations.tasks import work_bulk_job

    work_bulk_job.delay(job_id)


def _targets(tenant: str, selection: dict[str, Any]) -> list[str]:
    limit = settings.DRIFT_BULK_MAX_RUNS
    if "ids" in selection:
        return list(dict.fromkeys(selection["ids"]))  # unknown ids become failed items, reported per run
    run_filter = search_filter_parse(selection["filter"], base="$.filter", allow_page=False)
    workflow_ids = list(runs_matching(run_filter, tenant=tenant).values_list("workflow_id", flat=True)[:limit + 1])
    if len(workflow_ids) > limit:
        raise InvalidInput(f"The filter matches more than {limit:,} runs; narrow it.",
                           [Problem("$.filter", f"matches more than {limit} runs")])
    return workflow_ids


# --------------------------------------------------------------------------- the worker side


def bulk_job_work(job_id: str) -> Progress:
    """Work the job's PENDING items for up to DRIFT_BULK_TASK_SECONDS (a bounded task)."""
    job = BulkJob.objects.filter(job_id=job_id).first()
    if job is None or job.state == BulkJobState.DONE:
        return Progress.DONE
    if not _take_lease(job):
        return Progress.BUSY
    deadline = time.monotonic() + settings.DRIFT_BULK_TASK_SECONDS
    try:
        while time.monotonic() < deadline:
            batch = list(job.items.filter(state=BulkItemState.PENDING).order_by("id")[:_ITEM_BATCH])
            if not batch:
                BulkJob.objects.filter(pk=job.pk).update(state=BulkJobState.DONE, finished_at=timezone.now(),
                                                         lease_until=None)
                return Progress.DONE
            for item in batch:
                _handle(job, item)
                _take_lease(job, renew=True)
        return Progress.MORE
    finally:
        BulkJob.objects.filter(pk=job.pk).exclude(state=BulkJobState.DONE).update(lease_until=None)


def _take_lease(job: BulkJob, *, renew: bool = False) -> bool:
    now = timezone.now()
    lease = {"lease_until": now + timedelta(seconds=settings.DRIFT_BULK_LEASE_SECONDS)}
    jobs = BulkJob.objects.filter(pk=job.pk).exclude(state=BulkJobState.DONE)
    if not renew:
        jobs = jobs.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        lease["state"] = BulkJobState.RUNNING
    return jobs.update(**lease) == 1


def _handle(job: BulkJob, item: BulkItem) -> None:
    """Do the item's operation and record the outcome; an outage stops the job (retried), nothing else does."""
    try:
        outcome = {"state": BulkItemState.DONE, "result_workflow_id": _perform(job, item)}
    except ServiceUnavailable:
        raise
    except DriftError as exc:
        outcome = {"state": BulkItemState.FAILED, "error": exc.message[:2000]}
    except Exception as exc:  # noqa: BLE001 - one broken run must not stop the other 9,999
        logger.exception("bulk item failed", extra={"workflow_id": item.workflow_id})
        outcome = {"state": BulkItemState.FAILED, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    BulkItem.objects.filter(pk=item.pk, state=BulkItemState.PENDING).update(**outcome, handled_at=timezone.now())


def bulk_result_workflow_id(job: BulkJob, item: BulkItem) -> str:
    """The id of the run a rerun/redrive item starts: fixed per item, so a repeat finds the same run."""
    return f"{BULK_ID_PREFIX}{job.job_id}-{item.pk}"


def _perform(job: BulkJob, item: BulkItem) -> str:
    run = run_get(tenant=job.tenant, workflow_id=item.workflow_id)
    options = job.options or {}
    if job.op == BulkOp.TERMINATE:
        if run.status not in FINAL_STATUSES:
            run_terminate(tenant=job.tenant, workflow_id=run.workflow_id,
                          reason=options.get("reason") or f"bulk terminate {job.job_id}")
        return ""
    new_id = bulk_result_workflow_id(job, item)
    if job.op == BulkOp.RERUN:
        return run_rerun(run=run, workflow_id=new_id).workflow_id
    patch = unseal(options.get("contextPatch"), _job_sealing(job.tenant, job.job_id))
    return run_redrive(run=run, actor=job.created_by, workflow_id=new_id, from_node=options.get("fromNode"),
                       context_patch=patch, version=options.get("version")).workflow_id


def bulk_stalled_job_ids() -> list[str]:
    """Jobs nobody works on: never picked up, or whose worker's lease lapsed (it died)."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.DRIFT_BULK_LEASE_SECONDS)
    never_started = Q(lease_until__isnull=True, created_at__lt=grace)
    lapsed = Q(lease_until__lt=now)
    return list(BulkJob.objects.exclude(state=BulkJobState.DONE).filter(never_started | lapsed)
                .values_list("job_id", flat=True))

