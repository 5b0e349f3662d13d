"""Rerun: start a new run with a finished run's original input (admin action; spec §6 `rerun`)."""

from __future__ import annotations

import dataclasses
import uuid

from apps.definitions.selectors import workflow_sensitive_paths
from apps.runs.admission import admission_register
from apps.runs.contract import FINAL_STATUSES, RunInput
from apps.runs.models import RERUN_ID_PREFIX, Run, RunStatus
from apps.runs.runtime import workflow_start_async
from apps.runs.selectors import run_sealing
from apps.runs.services import run_register
from apps.secrets.sealing import unseal
from core.problems import Problem
from drift.errors import Conflict, InvalidInput

_INPUT_FIELDS = {f.name for f in dataclasses.fields(RunInput)} - {"carry"}


def rerun_input(run: Run, *, same_run: bool = False) -> RunInput:
    """The RunInput `run` started with (kept in `run.start_request`), ready for a new run. It carries the
    `sensitivePaths` `run` sealed by, so the new run seals them too, whatever its version lists. The definition
    the API pinned stays only for `same_run` (a queued start, started later): a new run resolves its own."""
    start_request = unseal(run.start_request or {}, run_sealing(run))  # sensitive values are sealed at rest
    stored = {key: value for key, value in start_request.items() if key in _INPUT_FIELDS}
    if not stored.get("tenant"):
        raise InvalidInput(f"Run '{run.workflow_id}' kept no start request; it cannot be rerun.",
                           [Problem("$.start_request", "is empty")])
    paths = list(stored.get("sensitive_paths") or [])
    paths += [path for path in workflow_sensitive_paths(tenant=run.tenant, key=run.definition_key,
                                                        version=run.definition_version) if path not in paths]
    if not same_run and stored.get("pinned"):
        # The key the old run was pinned to, so admission (and start_run) find the workflow's current version.
        stored = {**stored, "pinned": None, "workflow_key": stored.get("workflow_key") or stored["pinned"]["key"]}
    if not same_run:  # a schedule's fire is admitted by its start_run; a new run is admitted by its caller
        stored = {**stored, "admit": False}
    return RunInput(**{**stored, "sensitive_paths": paths})


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
