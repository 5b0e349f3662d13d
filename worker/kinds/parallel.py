"""The PARALLEL state kind (spec §8): its branches walk concurrently over the shared `_global`; then
`_global[key] = {branch: {status, error}}` and the run goes on at `nextNode` (or the state fails, as its
`failurePolicy` says). A terminate cancels every branch. When a continue-as-new is due, each branch stops at its
next node boundary and the state raises `HandingOver` with its progress; the new run resumes it from there (the
carried progress arrives in `RESUME`)."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from apps.definitions.parallel import PARALLEL
    from worker.engine import LANE, Engine, meta_since
    from worker.errors import HandingOver, NodeFailed, Terminated

TYPE = PARALLEL
POSITION = "parallel"  # a carried branch position {"node", "parallel": progress} (a nested state)

# The carried progress of the PARALLEL state the current task is about to resume after a continue-as-new
# (see `HandingOver`); `run` takes it before starting its branches, so nested states do not see it.
RESUME: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("resume", default=None)


async def run(engine: Engine, name: str, state: dict[str, Any]) -> str | None:
    policy = state.get("failurePolicy") or "FAIL_FAST"
    branches = [(branch["name"], branch["startNode"]) for branch in state["branches"]]
    carried = RESUME.get() or {}
    RESUME.set(None)  # taken: the branches' tasks (which copy this context) must not see it
    ends: dict[str, dict[str, Any]] = dict(carried.get("ends") or {})
    positions: dict[str, dict[str, Any]] = carried.get("at") or {}
    parked: dict[str, dict[str, Any]] = {}  # branches stopped for a hand-over: where each resumes
    started_at = datetime.fromisoformat(carried["startedAt"]) if carried else workflow.now()

    async def walk(branch: str, start: str) -> None:
        LANE.set(" > ".join(filter(None, [LANE.get(), f"{name}/{branch}"])))
        try:
            await _walk_branch(engine, start, positions.get(branch))
            ends[branch] = {"status": "COMPLETED", "error": None}
        except HandingOver as handing:
            parked[branch] = handing.position
        except NodeFailed as failure:
            ends[branch] = {"status": "FAILED", "error": failure.message}
        except (asyncio.CancelledError, Terminated):
            ends[branch] = {"status": "CANCELLED", "error": None}

    def failed() -> list[str]:
        return [branch for branch, _ in branches if ends.get(branch, {}).get("status") == "FAILED"]

    tasks = [asyncio.ensure_future(walk(branch, start)) for branch, start in branches if branch not in ends]
    await workflow.wait_condition(lambda: len(ends) + len(parked) == len(branches) or engine.stopping()
                                  or (policy == "FAIL_FAST" and bool(failed())))
    for task in tasks:
        task.cancel()  # FAIL_FAST or a terminate: the branches still running end CANCELLED
    await asyncio.gather(*tasks)
    engine.raise_if_terminated()
    if parked and not (policy == "FAIL_FAST" and failed()):
        progress = {"ends": ends, "at": parked, "startedAt": started_at.isoformat()}
        raise HandingOver({"node": name, POSITION: progress})
    ends.update({branch: {"status": "CANCELLED", "error": None} for branch in parked})  # by FAIL_FAST
    engine.run.context[state.get("contextOverrideKey") or name] = {branch: ends[branch] for branch, _ in branches}
    if failed() and policy != "CONTINUE":
        message = f"PARALLEL {name}: branch {failed()[0]} failed: {ends[failed()[0]]['error']}"
        engine.record(name, "PARALLEL", "FAILURE", message, meta_since(started_at))
        raise NodeFailed(message)
    engine.record(name, "PARALLEL", "SUCCESS", "", meta_since(started_at))
    return state.get("nextNode")


async def resume(engine: Engine, name: str, state: dict[str, Any], position: dict[str, Any]) -> str | None:
    """A nested PARALLEL state carried inside a branch, resumed from its own progress."""
    engine.run.current_node = name
    RESUME.set(position[POSITION])
    return await engine.execute(name, in_branch=True)


async def _walk_branch(engine: Engine, name: str | None, position: dict[str, Any] | None = None) -> None:
    """One PARALLEL branch: its states in order until one has no `nextNode`. A node error ends the
    branch FAILED (no `defaultFailureNode` inside a branch). `position`: where a branch carried over a
    continue-as-new resumes. When a hand-over is due, the branch stops at its next node boundary."""
    if position is not None:
        name = await engine.resume_at(position)
    while name:
        engine.raise_if_terminated()
        if engine.handover_is_due():
            raise HandingOver({"node": name})
        if (over := engine.over_node_limit()) is not None:
            raise NodeFailed(over)
        engine.run.current_node = name
        engine.run.executed += 1
        name = await engine.execute(name, in_branch=True)
