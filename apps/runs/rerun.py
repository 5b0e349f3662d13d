"""Rerun: start a new run with a finished run's original input (admin action; spec §6 `rerun`)."""

from __future__ import annotations

import dataclasses
import uuid

from django.conf import settings

from apps.runs.contract import WORKFLOW_NAME, RunInput
from apps.runs.models import Run
from apps.runs.runtime import temporal_call
from apps.runs.services import run_register
from apps.secrets.sealing import unseal
from core.problems import Problem
from drift.errors import InvalidInput

_INPUT_FIELDS = {f.name for f in dataclasses.fields(RunInput)} - {"carry"}


def rerun_input(run: Run) -> RunInput:
    """The RunInput `run` started with (kept in `run.start_request`), ready for a new run."""
    start_request = unseal(run.start_request or {})  # sensitive values are sealed at rest
    stored = {key: value for key, value in start_request.items() if key in _INPUT_FIELDS}
    if not stored.get("tenant"):
        raise InvalidInput(f"Run '{run.workflow_id}' kept no start request; it cannot be rerun.",
                           [Problem("$.start_request", "is empty")])
    return RunInput(**stored)


def run_rerun(*, run: Run) -> Run:
    """Register and start (asynchronously) a new run with the original input; returns the new Run row."""
    inp = rerun_input(run)
    workflow_id = f"run-{uuid.uuid4().hex}"
    new_run = run_register(workflow_id=workflow_id, inp=inp)
    temporal_call(lambda client: client.start_workflow(WORKFLOW_NAME, inp, id=workflow_id,
                                                      task_queue=settings.TEMPORAL_TASK_QUEUE))
    return new_run
