"""Run admission (spec §13): a workflow's `limits` ({maxConcurrentRuns, startsPerMinute, overflow}) or its
tenant's defaults (clients.TenantDefaults, kept in the admin; settings.DRIFT_TENANT_LIMITS as the
deployment-wide fallback) cap how many of its runs are open at once and how many start in any 60 s. Every start
path registers its Run row through `admission_register` (REST and idempotent starts and triggers via
runtime.run_start; rerun, redrive and bulk via rerun.register_admitted; a schedule's fire, which Temporal
starts, from its start_run activity via `admission_begin`); over a limit a start is QUEUED (a Run row QUEUED
plus a QueuedStart row, released in arrival order) or REJECTed (429 + Retry-After).

The count is read from the Run mirror's statuses, never kept as a counter: however a run ends (completes,
fails, is terminated, its worker dies and another finishes it) its row leaves the open statuses, and the next
release pass (at run end and from Celery beat) sees the free slot.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.clients.selectors import tenant_default_limits
from apps.definitions.dsl import limits_problems
from apps.definitions.selectors import workflow_get, workflow_resolve_for_run
from apps.definitions.versions import ACTIVE, is_version_number
from apps.runs.contract import FINAL_STATUSES, SIGNAL_ADMITTED, RunInput
from apps.runs.models import AdmissionGate, QueuedStart, Run, RunStatus
from apps.runs.selectors import rerun_input
from drift.db import row_exists
from drift.errors import Conflict, DriftError, NotFound, TooManyRequests

logger = logging.getLogger(__name__)

# Open = holds a slot: every status but the final ones and QUEUED (CREATED: registered, about to start).
OPEN_STATUSES = tuple(s for s in RunStatus.values if s not in FINAL_STATUSES and s != RunStatus.QUEUED)
WINDOW_SECONDS = 60.0  # `startsPerMinute` counts the starts admitted in any such sliding window


def admission_limits(*, tenant: str, workflow_key: str, definition: dict[str, Any] | None) -> dict[str, Any] | None:
    """The limits a workflow's starts are under: its definition's, else the tenant's default (admin), else the
    deployment's (settings.DRIFT_TENANT_LIMITS: the tenant's entry, or "*")."""
    limits = (definition or {}).get("limits")
    if limits is None:
        limits = tenant_default_limits(tenant=tenant)
    if limits is None:
        defaults = settings.DRIFT_TENANT_LIMITS
        limits = defaults.get(tenant, defaults.get("*"))
    if limits is None:
        return None
    if limits_problems(limits):  # a bad default (settings, a row written past the admin): logged, never a 500
        logger.error("ignoring invalid limits", extra={"tenant": tenant, "workflow": workflow_key})
        return None
    return {"maxConcurrentRuns": limits.get("maxConcurrentRuns"), "startsPerMinute": limits.get("startsPerMinute"),
            "overflow": limits.get("overflow", "QUEUE")}


def admission_register(*, inp: RunInput, workflow_id: str, register: Callable[[str | None], Run]) -> Run:
    """Register a start's Run row under its workflow's limits: `register(status)` writes the row (status None:
    the path's own status). Returns the row, QUEUED when held back; raises TooManyRequests on REJECT."""
    key = inp.workflow_key or ""
    limits = admission_limits(tenant=inp.tenant, workflow_key=key, definition=_definition(inp))
    if limits is None:
        return register(None)
    with transaction.atomic():
        gate = _lock(inp.tenant, key)
        existing = Run.objects.filter(workflow_id=workflow_id).first()
        if existing is not None:  # a repeated start joins its run (queued or not), taking no second slot
            return register(None)
        waiting = QueuedStart.objects.filter(tenant=inp.tenant, workflow_key=key, released_at__isnull=True).exists()
        # Queued starts go first (arrival order): a new start never overtakes them.
        if not waiting and _room(gate, limits) > 0:
            run = register(None)
            _count_starts(gate, limits, 1)
            return run
        if limits["overflow"] == "REJECT":
            raise _refusal(gate, limits)
        run = register(RunStatus.QUEUED)
        QueuedStart.objects.create(tenant=inp.tenant, workflow_key=key, workflow_id=workflow_id)
        return run


def admission_begin(*, workflow_id: str, inp: RunInput) -> bool:
    """Admit a start no caller admitted (`inp.admit`: a schedule's fire, started by Temporal), from its
    start_run: False when it is QUEUED (its workflow waits for SIGNAL_ADMITTED, sent by the release). Over a
    REJECT limit its row is written FAILED and TooManyRequests raised: the run ends FAILED with the reason."""
    from apps.runs.services import run_register  # services import this module (the run-end path)

    try:  # the workflow (a route picks it for an issue) and its version, as start_run will resolve them
        resolved = workflow_resolve_for_run(tenant=inp.tenant, workflow_key=inp.workflow_key, version=inp.version,
                                            issue_id=inp.issue_id, bucket_key=inp.bucket_key)
    except NotFound:
        return True  # start_run reports it on the run
    keyed = dataclasses.replace(inp, workflow_key=resolved["id"], version=str(resolved["version"]))

    def register(status: str | None) -> Run:
        fields: dict[str, Any] = {"status": status} if status else {}
        return run_register(workflow_id=workflow_id, inp=keyed, **fields)

    try:
        run = admission_register(inp=keyed, workflow_id=workflow_id, register=register)
    except TooManyRequests as refused:
        run_register(workflow_id=workflow_id, inp=keyed, status=RunStatus.FAILED, error_message=refused.message,
                     finished_at=timezone.now())
        raise
    return run.status != RunStatus.QUEUED


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


def _lock(tenant: str, key: str) -> AdmissionGate:
    AdmissionGate.objects.get_or_create(tenant=tenant, workflow_key=key)
    return AdmissionGate.objects.select_for_update().get(tenant=tenant, workflow_key=key)


def _open_count(tenant: str, key: str) -> int:
    return Run.objects.filter(tenant=tenant, definition_key=key, status__in=OPEN_STATUSES).count()


def _window(gate: AdmissionGate) -> list[float]:
    """When the starts of the last WINDOW_SECONDS were admitted (the sliding window of `startsPerMinute`)."""
    since = time.time() - WINDOW_SECONDS
    return [at for at in gate.recent_starts or [] if isinstance(at, int | float) and at > since]


def _room(gate: AdmissionGate, limits: dict[str, Any]) -> int:
    """How many more starts the limits admit now: free slots, and starts left in the window."""
    room = []
    if limits["maxConcurrentRuns"] is not None:
        room.append(limits["maxConcurrentRuns"] - _open_count(gate.tenant, gate.workflow_key))
    if limits["startsPerMinute"] is not None:
        room.append(limits["startsPerMinute"] - len(_window(gate)))
    return max(0, min(room))


def _count_starts(gate: AdmissionGate, limits: dict[str, Any], count: int) -> None:
    """Record `count` starts admitted now in the window (kept only under `startsPerMinute`, at most that many)."""
    if limits["startsPerMinute"] is None or not count:
        return
    gate.recent_starts = [*_window(gate), *[time.time()] * count][-limits["startsPerMinute"]:]
    gate.save(update_fields=["recent_starts"])


def _refusal(gate: AdmissionGate, limits: dict[str, Any]) -> TooManyRequests:
    """REJECT's 429: Retry-After is when the window admits a start again if that is what is full, else the
    setting (a slot frees when some run ends, which nobody can tell)."""
    key, most = gate.workflow_key, limits["maxConcurrentRuns"]
    window = _window(gate)
    if most is None or _open_count(gate.tenant, key) < most:
        retry = max(1, math.ceil(min(window) + WINDOW_SECONDS - time.time())) if window else 1
        return TooManyRequests(f"Workflow '{key}' has had {limits['startsPerMinute']} runs started in the last "
                               f"minute (its limit); retry in {retry}s.", retry_after_seconds=retry)
    retry = settings.DRIFT_ADMISSION_RETRY_AFTER_SECONDS
    return TooManyRequests(f"Workflow '{key}' has {most} runs open (its limit); retry in {retry}s.",
                           retry_after_seconds=retry)


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
        gate = _lock(tenant, key)
        queue = QueuedStart.objects.filter(tenant=tenant, workflow_key=key)
        pending = list(queue.filter(released_at__isnull=False).values_list("workflow_id", flat=True))
        queued = list(queue.filter(released_at__isnull=True).order_by("id"))
        limits = _queue_limits(tenant, key, queued)
        free = len(queued) if limits is None else _room(gate, limits)
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
        if limits is not None:
            _count_starts(gate, limits, len(claimed))
    return pending + claimed


def _queue_limits(tenant: str, key: str, queued: list[QueuedStart]) -> dict[str, Any] | None:
    """The limits of the oldest queued start's definition (the version it was pinned to); None when nothing
    holds the starts back any more (no queue, or the limits were removed meanwhile)."""
    run = Run.objects.filter(workflow_id=queued[0].workflow_id).first() if queued else None
    if run is None:
        return None
    return admission_limits(tenant=tenant, workflow_key=key, definition=_definition(rerun_input(run, same_run=True)))


def _start_released(workflow_id: str) -> int:
    from apps.runs.runtime import temporal_call, workflow_start_async

    run = Run.objects.get(workflow_id=workflow_id)
    inp = rerun_input(run, same_run=True)
    try:
        if inp.admit:  # a schedule's fire: its workflow is open in Temporal, waiting for the word
            temporal_call(lambda client: client.get_workflow_handle(workflow_id).signal(SIGNAL_ADMITTED))
        else:
            workflow_start_async(inp, workflow_id)
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

    if row_exists(QueuedStart, tenant=tenant, workflow_key=workflow_key):
        transaction.on_commit(enqueue)


def admission_forget(*, workflow_ids: list[str]) -> None:
    """Drop the queued starts of runs that ended while QUEUED (terminated): they are never started."""
    QueuedStart.objects.filter(workflow_id__in=workflow_ids).delete()
