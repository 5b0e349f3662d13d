"""Mirroring terminations that no workflow persisted.

A terminated run's SYNC children (parent-close policy TERMINATE) are terminated by Temporal when the parent
closes, without persisting their end; its ASYNC children (ABANDON) run on. Neither the graceful terminate (the
parent persists only itself) nor the hard one can tell them apart from the mirror alone, so after a terminate
`terminated_family_reconcile` asks Temporal about each open descendant and mirrors only those it reports
TERMINATED. Parent-close termination happens asynchronously on the server: the reconcile runs as a Celery task
(apps.runs.tasks.reconcile_terminated_family) that retries, bounded, while a descendant is still running.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from apps.runs import hooks
from apps.runs.admission import admission_forget, admission_on_run_end
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import Run, RunStatus
from apps.runs.selectors import run_response
from drift.temporal import run_async, temporal_client

logger = logging.getLogger(__name__)

DESCRIBE_TIMEOUT = timedelta(seconds=10)  # per descendant
DESCRIBE_ALL_SECONDS = 60  # all of one pass: within the task's soft time limit (apps/runs/tasks.py)


def runs_mark_terminated(*, workflow_ids: Iterable[str], reason: str) -> list[str]:
    """Mirror the end of runs terminated in Temporal without persisting it: TERMINATED, their open human tasks
    closed, their admission slots freed, ASYNC callers notified. Only rows still open are touched; returns
    their ids."""
    from apps.runs.webhooks.delivery import webhook_notify

    now = timezone.now()
    with transaction.atomic():  # the webhook rows commit with the statuses, or neither does
        open_runs = Run.objects.select_for_update().filter(workflow_id__in=list(workflow_ids)).exclude(
            status__in=FINAL_STATUSES)
        ended = list(open_runs.values_list("workflow_id", flat=True))
        Run.objects.filter(workflow_id__in=ended).update(
            status=RunStatus.TERMINATED, error_message=reason, finished_at=now, updated_at=now)
        hooks.runs_terminated(workflow_ids=ended)  # their open human tasks close (apps.tasks)
        admission_forget(workflow_ids=ended)  # a QUEUED run terminated: it is never started
        for run in Run.objects.filter(workflow_id__in=ended):
            webhook_notify(run=run, response=run_response(run))
            admission_on_run_end(tenant=run.tenant, workflow_key=run.definition_key)
    return ended


def open_descendants(workflow_id: str) -> list[str]:
    """The ids of the run's descendants (children, their children...) whose mirror row is still open."""
    found: list[str] = []
    frontier = [workflow_id]
    while frontier:
        rows = list(Run.objects.filter(parent_workflow_id__in=frontier).values_list("workflow_id", "status"))
        found += [child for child, status in rows if status not in FINAL_STATUSES]
        frontier = [child for child, _ in rows]
    return found


def terminated_family_enqueue(*, workflow_id: str, reason: str) -> None:
    """After the terminate of `workflow_id` commits, reconcile its open descendants (if any) in a Celery task."""
    from apps.runs.tasks import reconcile_terminated_family

    def enqueue() -> None:
        try:
            reconcile_terminated_family.delay(workflow_id, reason)
        except Exception:  # noqa: BLE001 - the broker out of reach must not fail the terminate itself
            logger.warning("terminated-family reconcile not enqueued", exc_info=True,
                           extra={"workflow_id": workflow_id})

    if open_descendants(workflow_id):
        transaction.on_commit(enqueue)


class TemporalUnreachable(Exception):
    """A describe failed (Temporal out of reach, a timeout): the reconcile is retried."""


def terminated_family_reconcile(*, workflow_id: str, reason: str) -> int:
    """Mirror the open descendants of the terminated run `workflow_id` that Temporal reports TERMINATED.
    Returns how many are still running in Temporal (an ASYNC child, or a SYNC child whose parent-close
    termination the server has not carried out yet); a descendant Temporal does not know is left as it is."""
    pending = open_descendants(workflow_id)
    statuses = _describe(pending) if pending else {}
    terminated = [child for child, status in statuses.items() if status == WorkflowExecutionStatus.TERMINATED]
    if terminated:
        runs_mark_terminated(workflow_ids=terminated, reason=f"parent run {workflow_id} terminated: {reason}")
        logger.info("mirrored %d descendants terminated with their parent", len(terminated),
                    extra={"workflow_id": workflow_id})
    return sum(status == WorkflowExecutionStatus.RUNNING for status in statuses.values())


def _describe(workflow_ids: list[str]) -> dict[str, WorkflowExecutionStatus | None]:
    """Each workflow's Temporal status (that of its latest run); ids Temporal does not know are left out."""

    async def describe_all() -> dict[str, WorkflowExecutionStatus | None]:
        client = await temporal_client()
        statuses: dict[str, WorkflowExecutionStatus | None] = {}
        for child in workflow_ids:
            try:
                described = await client.get_workflow_handle(child).describe(rpc_timeout=DESCRIBE_TIMEOUT)
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                logger.warning("a terminated run's descendant is unknown to Temporal; left as it is",
                               extra={"workflow_id": child})
                continue
            statuses[child] = described.status
        return statuses

    try:
        return run_async(describe_all(), timeout=DESCRIBE_ALL_SECONDS)
    except (RPCError, RuntimeError, TimeoutError) as error:  # RuntimeError: "Failed client connect"
        raise TemporalUnreachable(f"{type(error).__name__}: {error}") from error
