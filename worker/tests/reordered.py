"""A deliberately incompatible DriftWorkflow for replay tests: a timer before the first node, where recorded
histories have a local activity."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from apps.runs.contract import WORKFLOW_NAME, RunInput
from worker.workflows import DriftWorkflow


@workflow.defn(name=WORKFLOW_NAME)
class ReorderedWorkflow(DriftWorkflow):
    @workflow.run
    async def run(self, inp: RunInput) -> dict[str, Any]:
        await workflow.sleep(0.01)
        return await super().run(inp)
