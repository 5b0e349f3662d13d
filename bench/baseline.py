"""The hand-written Temporal baseline: the same steps as Drift's 10-SCRIPT chain, as local activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

STEPS = 10


@activity.defn(name="bench_step")
def bench_step(previous: int, step: int) -> int:
    """The same arithmetic as each SCRIPT node of the Drift chain."""
    return previous * 2 + step


@workflow.defn(name="BaselineChain")
class BaselineChain:
    @workflow.run
    async def run(self, start: int) -> dict:
        value = start
        outputs = {}
        for step in range(STEPS):
            value = await workflow.execute_local_activity(
                "bench_step", args=[value, step], start_to_close_timeout=timedelta(seconds=30)
            )
            outputs[f"s{step}"] = value
        return {"status": "COMPLETED", "output": outputs}
