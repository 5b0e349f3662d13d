"""Issue 8.9: one tenant's endless scripts cannot starve another tenant's runs of sandbox processes.

Tenant A floods the shared pool with `while True: pass` runs (each holds a child for the whole script time
limit); tenant B then starts a run through the runtime API in sync mode. Before per-tenant fairness, B's
script queued behind all of A's and its sync start answered 202 (past the sync timeout); now B gets the next
free child and completes within the call.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from apps.runs.contract import WORKFLOW_NAME, RunInput
from devtools.testing.builders import failure_node, script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import client_for, start, wait_final
from drift.temporal import run_async

pytestmark = pytest.mark.temporal
FLOOD = 30


def test_a_tenant_flooding_the_script_pool_does_not_starve_another(runs, tenant, settings):
    settings.DRIFT_SCRIPT_TIMEOUT_SECONDS = 2
    noisy = runs.tenant
    publish_definitions(noisy, [script_node("spin", "while True:\n    pass"), success_node(), failure_node()],
                        [workflow("spin", "s", [state("s", "spin", "done"), state("done"), state("f", "failed")],
                                  defaultFailureNode="f")])
    quiet = f"q-{uuid.uuid4().hex[:8]}"
    publish_definitions(quiet, [script_node("double", "return nodeParameters.n * 2", ["n"]), success_node()],
                        [workflow("double", "d", [state("d", "double", "done", parameters={"n": "$.params.n"}),
                                                  state("done")])])

    async def flood() -> list[str]:
        ids = [f"spin-{uuid.uuid4().hex}" for _ in range(FLOOD)]
        await asyncio.gather(*(
            runs.client.start_workflow(WORKFLOW_NAME, RunInput(tenant=noisy, workflow_key="spin", start={}),
                                       id=workflow_id, task_queue=runs.task_queue)
            for workflow_id in ids
        ))
        return ids

    spinning = run_async(flood())
    response = start(client_for(quiet), params={"workflowId": "double", "n": 21})
    assert response.status_code == 200, response.json()
    assert response.json()["workflowStatus"] == "COMPLETED"
    finals = [wait_final(workflow_id, timeout=180) for workflow_id in spinning]
    assert {run.status for run in finals} == {"FAILED"}
