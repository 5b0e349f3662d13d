"""Writes of human tasks: the mirror of the workflow's task state, claim/release, and an operator's submit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.definitions.services import audit
from apps.runs import runtime
from apps.runs.models import Run
from apps.tasks.models import Task, TaskStatus
from drift.errors import Conflict

AUDIT_KIND = "TASK"


def task_record(*, run: Run, task: dict[str, Any] | None, status: str) -> None:
    """Mirror the workflow's task state: the runs app's state-recorded hook (registered in apps.py), called by
    the persist activity inside its transaction.

    Idempotent: a retried persist writes the same row again. An escalation (a higher level) reassigns the task
    and drops its claim; a closing state closes the open row once. No task, nothing to write: the workflow hands
    every persist its open task until a persist closed it, and closes it itself when the run ends (worker/engine.py),
    so most persists (every one of a run without screens) cost no statement here. Runs ended outside the workflow
    (a hard terminate) close theirs with `tasks_close`.
    """
    if task is None:
        return
    row, created = Task.objects.get_or_create(run=run, screen=task["screen"], defaults=_row_fields(run, task))
    if task["state"] != TaskStatus.OPEN:
        Task.objects.filter(pk=row.pk, status=TaskStatus.OPEN).update(
            status=task["state"], closed_at=timezone.now(), closed_by=task.get("closedBy") or "")
    elif not created and task["escalationLevel"] > row.escalation_level:
        Task.objects.filter(pk=row.pk, escalation_level__lt=task["escalationLevel"]).update(
            group=task["group"], user=task["user"], escalation_level=task["escalationLevel"], claimed_by="",
            claimed_at=None)


def _row_fields(run: Run, task: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant": run.tenant, "workflow_id": run.workflow_id, "definition_key": run.definition_key,
        "node": task["node"], "group": task["group"], "user": task["user"],
        "escalation_level": task["escalationLevel"], "waiting_since": _when(task["waitingSince"]),
        "due_at": _when(task.get("dueAt")), "timeout_at": _when(task.get("timeoutAt")),
        "timeout_node": task.get("timeoutNode") or "",
    }


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def tasks_close(*, workflow_ids: list[str], status: str, by: str = "") -> None:
    """Close the open tasks of runs that ended without the workflow saying so (hard terminate)."""
    Task.objects.filter(workflow_id__in=workflow_ids, status=TaskStatus.OPEN).update(
        status=status, closed_at=timezone.now(), closed_by=by)


def tasks_close_terminated(*, workflow_ids: list[str]) -> None:
    """The runs-terminated hook (registered in apps.py): a hard-terminated run's open tasks close TERMINATED."""
    tasks_close(workflow_ids=workflow_ids, status=TaskStatus.TERMINATED)


def task_claim(*, task: Task, username: str) -> Task:
    """Claim an open task. A conditional update: of two operators claiming at once, exactly one wins."""
    if task.claimed_by == username and task.status == TaskStatus.OPEN:
        return task
    return _move_claim(task, username, holder="", new_holder=username, event="CLAIMED",
                       refusal=lambda current: f"Task already claimed by {current}.")


def task_release(*, task: Task, username: str) -> Task:
    """Give a claimed task back to the group; only its claimer can."""
    return _move_claim(task, username, holder=username, new_holder="", event="RELEASED",
                       refusal=lambda current: f"Task is not claimed by {username}.")


def _move_claim(task: Task, username: str, *, holder: str, new_holder: str, event: str,
                refusal: Callable[[str], str]) -> Task:
    """Hand the claim from `holder` to `new_holder` only if it is still theirs (one UPDATE ... WHERE)."""
    with transaction.atomic():
        moved = Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN, claimed_by=holder).update(
            claimed_by=new_holder, claimed_at=timezone.now() if new_holder else None)
        if not moved:
            task.refresh_from_db()
            raise Conflict(_why_not_open(task) if task.status != TaskStatus.OPEN
                           else refusal(task.claimed_by))
        _audit(task, username, event)
    task.refresh_from_db()
    return task


def task_submit(*, task: Task, username: str, payload: dict[str, Any]) -> runtime.Reply:
    """An operator's answer to the screen: the resume of spec 3.2, in the operator's name.

    A stale page (the task closed, or another operator holds it) is a 409 with a message that says so;
    the run's own check (not WAITING) answers 409 as for any resume.
    """
    task.refresh_from_db()
    if task.status != TaskStatus.OPEN:
        raise Conflict(_why_not_open(task))
    task = task_claim(task=task, username=username)  # refuses when another operator holds it
    reply = runtime.run_resume(tenant=task.tenant, workflow_id=task.workflow_id, payload=payload, actor=username)
    _audit(task, username, "RESUMED", selectedOptions=(payload.get("viewResponse") or {}).get("selectedOptions"))
    return reply


def _why_not_open(task: Task) -> str:
    if task.status == TaskStatus.RESUMED:
        by = f" by {task.closed_by}" if task.closed_by else ""
        return f"This task was already completed{by} at {task.closed_at:%Y-%m-%d %H:%M:%S} UTC; the run has moved on."
    if task.status == TaskStatus.TIMED_OUT:
        return "This task timed out; the run has moved on."
    return "This task's run has ended."


def _audit(task: Task, username: str, event: str, **details: Any) -> None:
    audit(tenant=task.tenant, kind=AUDIT_KIND, key=task.workflow_id, action="UPDATE", actor=username,
          details={"event": event, "task": task.pk, "node": task.node, **details})
