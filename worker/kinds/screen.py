"""The screen kind: an outcome with a View (INSTRUCTION's, or any type's that suspends the run until resumed)
waits for a resume; with an assignment, escalation steps and the timeout are Temporal timers on that wait
(docs/human-tasks.md). Test runs take the case's resumes (the type's `as_case` gives them from a finished run).
The timeline names the state's node type; `waiting_for` stays "INSTRUCTION" (the resume validator, the state
query's `waitingFor`)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from apps.runs.contract import FINAL_STATUSES, WAITING_STATUSES
    from worker import human_tasks
    from worker.engine import Engine
    from worker.errors import NodeFailed
    from worker.test_mode import TestStopped

FIELD = "view"
DECIDES_NEXT = True  # the screen's answer is the next node (or the timeout node, or the end)


async def run(engine: Engine, name: str, state: dict[str, Any], outcome: dict[str, Any], key: str,
              parameters: dict[str, Any]) -> str | None:
    run_ = engine.run
    run_.view = outcome.get("view")
    run_.disposition = outcome.get("disposition") or run_.disposition
    requested = outcome.get("workflowStatus")
    if state.get("end") or requested in FINAL_STATUSES:
        await engine.finish(requested if requested in FINAL_STATUSES else "COMPLETED")
        return None
    run_.waiting_for = "INSTRUCTION"
    assignment = outcome.get("assignment")
    run_.task = human_tasks.open_task(name, assignment, run_.seq + 1, workflow.now())
    await engine.stable(requested if requested in WAITING_STATUSES else "WAITING")
    if run_.harness is not None:  # test mode: the case's next resume, or the test run ends here
        run_.screen_input = run_.harness.next_resume()
        if run_.screen_input is None:
            raise TestStopped
    timed_out = await _await_resume(engine, assignment)
    run_.waiting_for = None
    if timed_out:
        assert assignment is not None
        return await _timed_out(engine, name, state["nodeDefinition"]["type"], assignment)
    if run_.screen_input is None:
        _close_task(engine, "TERMINATED")
        engine.raise_if_terminated()
    payload, run_.screen_input = run_.screen_input or {}, None
    engine.record(name, state["nodeDefinition"]["type"], "RESUMED", "", {"actor": payload.get("resumedBy") or ""})
    _close_task(engine, "RESUMED", payload.get("resumedBy"))
    run_.context[f"{key}:viewResponse"] = payload.get("viewResponse") or {}
    run_.context["params"].update(payload.get("params") or {})
    run_.view = None
    await engine.running()
    return state.get("nextNode")


async def _await_resume(engine: Engine, assignment: dict[str, Any] | None) -> bool:
    """Wait for the resume; escalation steps reassign the task on Temporal timers (no polling).
    True when the screen's timeout fired first."""

    def answered() -> bool:
        return engine.run.screen_input is not None or engine.stopping()

    began = workflow.now()
    for after, step in human_tasks.deadlines(assignment):
        remaining = (began + timedelta(seconds=after) - workflow.now()).total_seconds()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(answered, timeout=timedelta(seconds=remaining))
        if answered():
            return False
        if step is None:
            return True
        engine.run.task = human_tasks.escalate(engine.run.task, step)
        await engine.persist(stable=False, notify=False)
    await workflow.wait_condition(answered)
    return False


async def _timed_out(engine: Engine, name: str, node_type: str, assignment: dict[str, Any]) -> str:
    message = f"node {name}: no resume within {assignment['timeoutSeconds']}s"
    engine.record(name, node_type, "TIMEOUT", message)
    _close_task(engine, "TIMED_OUT")
    engine.run.view = None
    await engine.running()  # closes the task now: a continue-as-new before the next persist would lose it
    if not assignment.get("timeoutNode"):
        raise NodeFailed(message)
    return assignment["timeoutNode"]


def _close_task(engine: Engine, outcome: str, by: str | None = None) -> None:
    """The next persist closes the screen's task with this outcome."""
    if engine.run.task is not None:
        engine.run.task = {**engine.run.task, "state": outcome, "closedBy": by or ""}
