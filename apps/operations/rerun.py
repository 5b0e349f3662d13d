"""Rerun: start a new run with a finished run's original input (admin action; spec §6 `rerun`)."""

from __future__ import annotations

import uuid

from apps.runs.admission import admission_register
from apps.runs.contract import FINAL_STATUSES, RunInput
from apps.runs.models import RERUN_ID_PREFIX, Run, RunStatus
from apps.runs.runtime import workflow_start_async
from apps.runs.selectors import rerun_input
from apps.runs.services import run_register
from drift.errors import Conflict


def run_rerun(*, run: Run, workflow_id: str | None = None) -> Run:
    """Register and start (asynchronously) a new run with the original input; returns the new Run row.
    A given `workflow_id` makes it idempotent (bulk jobs): a repeat joins the run, or finds it ended."""
    inp = rerun_input(run)
    new_id = workflow_id or f"{RERUN_ID_PREFIX}{uuid.uuid4().hex}"
    new_run = register_admitted(inp, new_id)
    start_idempotent(inp, new_id, new_run, repeatable=workflow_id is not None)
    return new_run


def register_admitted(inp: RunInput, workflow_id: str) -> Run:
    """run_register under the workflow's limits (apps/runs/admission.py): the row may come back QUEUED."""
    return admission_register(inp=inp, workflow_id=workflow_id, register=lambda status: run_register(
        workflow_id=workflow_id, inp=inp, **({"status": status} if status else {})))


def start_idempotent(inp: RunInput, workflow_id: str, run: Run, *, repeatable: bool) -> None:
    """Start `run` in Temporal; with `repeatable`, a run that already ran under the id counts as started. A
    QUEUED run is not started here: the admission release starts it when a slot frees."""
    if run.status == RunStatus.QUEUED:
        return
    try:
        workflow_start_async(inp, workflow_id)
    except Conflict:
        run.refresh_from_db(fields=["status"])
        if not (repeatable and run.status in FINAL_STATUSES):
            raise
