"""Run a workflow version's test cases on the real engine (spec §9).

Each case is one run of the real DriftWorkflow in test mode (worker/test_mode.py), started on the normal
task queue, so any production worker runs it: waits skipped, mocks instead of calls, resumes and events
from the case, nothing persisted (no Run row, no webhook, not in metrics). Workflow ids start with
`drift-test-`, never a production run's.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from temporalio.client import WorkflowFailureError

from apps.runs.contract import WORKFLOW_NAME, RunInput, initial_context
from apps.trials.cases import case_input, judge
from drift.errors import unavailable_error
from drift.temporal import run_async, temporal_client

TEST_ID_PREFIX = "drift-test-"


def run_cases(*, tenant: str, key: str, version: int, definition: dict[str, Any], limits: dict[str, int],
              cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report of every case, in order (bounded: each case by DRIFT_TEST_CASE_TIMEOUT_SECONDS)."""
    if not cases:
        return []
    timeout = settings.DRIFT_TEST_CASE_TIMEOUT_SECONDS
    inputs = [_run_input(tenant, key, version, definition, limits, case) for case in cases]
    waves = -(-len(cases) // max(settings.DRIFT_TEST_CONCURRENCY, 1))
    try:
        results = run_async(_run_all(inputs, timeout), timeout=timeout * waves + 30)
        return [_case_report(case, result) for case, result in zip(cases, results, strict=True)]
    except Exception as exc:
        # Raised as DriftError so the API (503) and the admin (a message) both report it.
        unavailable = unavailable_error(exc)
        if unavailable is None:
            raise
        raise unavailable from exc


def _run_input(tenant: str, key: str, version: int, definition: dict[str, Any], limits: dict[str, int],
               case: dict[str, Any]) -> tuple[str, RunInput]:
    start = case.get("start") or {}
    inp = RunInput(tenant=tenant, workflow_key=key, version=str(version), start=start, mode="SYNC",
                   client_id="tests", username="tests", test=case_input(case))
    workflow_id = f"{TEST_ID_PREFIX}{uuid.uuid4().hex}"
    inp.carry = {"definition": definition, "key": key, "version": version, "limits": limits,
                 "context": initial_context(inp, workflow_id), "node_name": definition.get("startNode")}
    return workflow_id, inp


async def _run_all(inputs: list[tuple[str, RunInput]], timeout: float) -> list[dict[str, Any] | BaseException]:
    client = await temporal_client()
    limit = asyncio.Semaphore(max(settings.DRIFT_TEST_CONCURRENCY, 1))

    async def one(workflow_id: str, inp: RunInput) -> dict[str, Any]:
        async with limit:
            return await client.execute_workflow(
                WORKFLOW_NAME, inp, id=workflow_id, task_queue=settings.TEMPORAL_TASK_QUEUE,
                execution_timeout=timedelta(seconds=timeout), result_type=dict,
            )

    return await asyncio.gather(*(one(workflow_id, inp) for workflow_id, inp in inputs), return_exceptions=True)


def _case_report(case: dict[str, Any], result: dict[str, Any] | BaseException) -> dict[str, Any]:
    if isinstance(result, BaseException):
        if not isinstance(result, WorkflowFailureError):
            raise result  # Temporal unreachable and the like: the API answers 503, no report is made
        cause = result.cause.message if getattr(result, "cause", None) is not None else str(result)
        return {"name": case["name"], "passed": False, "failure": f"the test run did not finish: {cause}",
                "status": None, "path": [], "states": [], "timeline": []}
    return judge(case, result)
