"""Issue 8.10: a sync start past its timeout answers 202 without leaving an unretrieved future behind
(asyncio logged "Future exception was never retrieved" once per timed-out start)."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from devtools.testing.builders import state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_final
from drift.temporal import run_async

pytestmark = pytest.mark.temporal


def test_a_sync_timeout_logs_no_unretrieved_future(api, runs, tenant, settings, caplog):
    settings.DRIFT_SYNC_TIMEOUT_SECONDS = 0.5
    publish_definitions(
        tenant,
        [wait_node("pause", waitType="SCHEDULER_WAIT", duration=2, executionMode="SYNC"), success_node()],
        [workflow("slow", "p", [state("p", "pause", "done"), state("done")])],
    )
    caplog.set_level(logging.ERROR, logger="asyncio")
    workflow_ids = []
    for _ in range(3):
        response = start(api, params={"workflowId": "slow"})
        assert response.status_code == 202, response.json()
        workflow_ids.append(response.json()["workflowId"])
    for workflow_id in workflow_ids:
        assert wait_final(workflow_id).status == "COMPLETED"
    run_async(asyncio.sleep(0.1))  # let the client loop finish with the cancelled calls
    gc.collect()
    run_async(asyncio.sleep(0))
    unretrieved = [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]
    assert unretrieved == []
