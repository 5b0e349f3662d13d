"""Run admission (spec §13): a workflow's `limits` ({maxConcurrentRuns, overflow}) or its tenant's defaults
(settings.DRIFT_TENANT_LIMITS) cap how many of its runs are open at once. Every start path registers its Run
row through `admission_register` (REST and idempotent starts and triggers via runtime.run_start; rerun, redrive
and bulk via rerun.start_admitted); over the cap a start is QUEUED (a Run row QUEUED plus a QueuedStart row,
released in arrival order) or REJECTed (429 + Retry-After).

The count is read from the Run mirror's statuses, never kept as a counter: however a run ends (completes,
fails, is terminated, its worker dies and another finishes it) its row leaves the open statuses, and the next
release pass (at run end and from Celery beat) sees the free slot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.definitions.dsl import limits_problems
from apps.definitions.selectors import workflow_get
from apps.definitions.versions import ACTIVE, is_version_number
from apps.runs.contract import FINAL_STATUSES, RunInput
from apps.runs.models import AdmissionGate, QueuedStart, Run, RunStatus
from apps.runs.selectors import rerun_input
from drift.errors import Conflict, DriftError, NotFound, TooManyRequests

logger = logging.getLogger(__name__)

# Open = holds a slot: every status but the final ones and QUEUED (CREATED: registered, about to start).
OPEN_STATUSES = tuple(s for s in RunStatus.values if s not in FINAL_STATUSES and s != RunStatus.QUEUED)


def admission_limits(*, tenant: str, workflow_key: str, definition: dict[str, Any] | None) -> dict[str, Any] | None:
    """The limits a workflow's starts are under: its definition's, else the tenant's (or "*") default."""
    own = (definition or {}).get("limits")
    defaults = settings.DRIFT_TENANT_LIMITS
    limits = own if own is not None else defaults.get(tenant, defaults.get("*"))
    if limits is None:
        return None
    if limits_problems(limits):  # a bad tenant default (settings): logged, never a 500 on every start
        logger.error("ignoring invalid limits", extra={"tenant": tenant, "workflow": workflow_key})
        return None
    return {"maxConcurrentRuns": limits["maxConcurrentRuns"], "overflow": limits.get("overflow", "QUEUE")}


def admission_register(*, inp: RunInput, workflow_id: str, register: Callable[[str | None], Run]) -> Run:
    """Register a start's Run row under its workflow's limits: `register(status)` writes the row (status None:
    the path's own status). Returns the row, QUEUED when held back; raises TooManyRequests on REJECT."""
    key = inp.workflow_key or ""
    limits = admission_limits(tenant=inp.tenant, workflow_key=key, definition=_definition(inp))
    if limits is None:
        return register(None)
    with transaction.atomic():
        _lock(inp.tenant, key)
        existing = Run.objects.filter(workflow_id=workflow_id).first()
        if existing is not None:  # a repeated start joins its run (queued or not), taking no second slot
            return register(None)
        waiting = QueuedStart.objects.filter(tenant=inp.tenant, workflow_key=key, released_at__isnull=True).exists()
        # Queued starts go first (arrival order): a new start never overtakes them.
        if not waiting and _open_count(inp.tenant, key) < limits["maxConcurrentRuns"]:
            return register(None)
        if limits["overflow"] == "REJECT":
            retry = settings.DRIFT_ADMISSION_RETRY_AFTER_SECONDS
            raise TooManyRequests(f"Workflow '{key}' has {limits['maxConcurrentRuns']} runs open (its limit); "
                                  f"retry in {retry}s.", retry_after_seconds=retry)
        run = register(RunStatus.QUEUED)
        QueuedStart.objects.create(tenant=inp.tenant, workflow_key=key, workflow_id=workflow_id)
        return run


def _definition(inp: RunInput) -> dict[str, Any] | None:
    if inp.pinned is not None:
        return inp.pinned["definition"]
    if not inp.workflow_key:
        return None
    try:
        # A kept start names its version as text ("3"): the selector takes a number, or ACTIVE/LATEST/SNAPSHOT.
        version = int(inp.version) if inp.version and is_version_number(inp.version) else (inp.version or ACTIVE)
        return workflow_get(tenant=inp.tenant, key=inp.workflow_key, version=version)
    except NotFound:
        return None  # start_run reports it on the run


def _lock(tenant: str, key: str) -> None:
    AdmissionGate.objects.get_or_create(tenant=tenant, workflow_key=key)
    AdmissionGate.objects.select_for_update().get(tenant=tenant, workflow_key=key)


def _open_count(tenant: str, key: str) -> int:
    return Run.objects.filter(tenant=tenant, definition_key=key, status__in=OPEN_STATUSES).count()


# --------------------------------------------------------------------------- release


def admission_release(*, tenant: str, workflow_key: str) -> int:
    """Start the oldest queued starts of a workflow into its free slots; returns how many started."""
    released = _claim(tenant, workflow_key)
    started = 0
    for workflow_id in released:
        started += _start_released(workflow_id)
    return started


def _claim(tenant: str, key: str) -> list[str]:
    """Mark as many queued starts as there are free slots released (Run row back to its start status), oldest
    first, plus the released ones whose Temporal start has not gone through yet."""
    with transaction.atomic():
        _lock(tenant, key)
        queue = QueuedStart.objects.filter(tenant=tenant, workflow_key=key)
        pending = list(queue.filter(released_at__isnull=False).values_list("workflow_id", flat=True))
        queued = list(queue.filter(released_at__isnull=True).order_by("id"))
        free = _free_slots(tenant, key, queued)
        claimed = []
        for entry in queued[:free]:
            run = Run.objects.filter(workflow_id=entry.workflow_id, status=RunStatus.QUEUED).first()
            if run is None:  # terminated while queued: nothing to start
                entry.delete()
                continue
            status = RunStatus.RUNNING if rerun_input(run, same_run=True).pinned else RunStatus.CREATED
            Run.objects.filter(pk=run.pk).update(status=status, updated_at=timezone.now())
            QueuedStart.objects.filter(pk=entry.pk).update(released_at=timezone.now())
            claimed.append(entry.workflow_id)
    return pending + claimed


def _free_slots(tenant: str, key: str, queued: list[QueuedStart]) -> int:
    """Free slots under the limits of the oldest queued start's definition (the version it was pinned to)."""
    run = Run.objects.filter(workflow_id=queued[0].workflow_id).first() if queued else None
    if run is None:
        return len(queued)
    limits = admission_limits(tenant=tenant, workflow_key=key, definition=_definition(rerun_input(run, same_run=True)))
    if limits is None:  # the limits were removed meanwhile: nothing holds the starts back
        return len(queued)
    return max(0, limits["maxConcurrentRuns"] - _open_count(tenant, key))


def _start_released(workflow_id: str) -> int:
    from apps.runs.runtime import workflow_start_async

    run = Run.objects.get(workflow_id=workflow_id)
    try:
        workflow_start_async(rerun_input(run, same_run=True), workflow_id)
    except Conflict:
        pass  # it already ran under the id (a repeated release): started
    except DriftError:
        logger.warning("queued start not started; retried by the next release", extra={"workflow_id": workflow_id})
        return 0
    QueuedStart.objects.filter(workflow_id=workflow_id).delete()
    return 1


def admission_release_due() -> int:
    """The bounded release pass (Celery beat, run end): the workflows with queued starts, oldest first, at
    most DRIFT_ADMISSION_RELEASE_WORKFLOWS of them, stopping after DRIFT_ADMISSION_RELEASE_SECONDS."""
    deadline = time.monotonic() + settings.DRIFT_ADMISSION_RELEASE_SECONDS
    workflows = (QueuedStart.objects.order_by("tenant", "workflow_key").values_list("tenant", "workflow_key")
                 .distinct()[:settings.DRIFT_ADMISSION_RELEASE_WORKFLOWS])
    started = 0
    for tenant, key in list(workflows):
        if time.monotonic() > deadline:
            break
        started += admission_release(tenant=tenant, workflow_key=key)
    return started


def admission_on_run_end(*, tenant: str, workflow_key: str) -> None:
    """The run-end path: a slot came free; release queued starts once the end has committed (Celery task)."""
    from apps.runs.tasks import release_queued_starts_of

    def enqueue() -> None:
        try:
            release_queued_starts_of.delay(tenant, workflow_key)
        except Exception:  # noqa: BLE001 - the broker out of reach must not fail the run's persist: beat catches up
            logger.warning("queued-start release not enqueued", exc_info=True, extra={"workflow": workflow_key})

    if QueuedStart.objects.filter(tenant=tenant, workflow_key=workflow_key).exists():
        transaction.on_commit(enqueue)


def admission_forget(*, workflow_ids: list[str]) -> None:
    """Drop the queued starts of runs that ended while QUEUED (terminated): they are never started."""
    QueuedStart.objects.filter(workflow_id__in=workflow_ids).delete()
