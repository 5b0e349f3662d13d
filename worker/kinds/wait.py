"""The wait kind: a WAIT outcome sleeps on a durable timer (TIMER, ABSOLUTE) or waits for an event (EVENT, with
an optional timeout). An event wait inside a PARALLEL branch is carried over a continue-as-new (`resume`).
Test runs skip timers and take events from the case."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from worker.engine import Engine
    from worker.errors import HandingOver, NodeFailed

FIELD = "wait"
DECIDES_NEXT = False
POSITION = "wait"  # a carried branch position {"node", "wait": {...wait, "deadline"}}


async def run(engine: Engine, name: str, state: dict[str, Any], outcome: dict[str, Any], key: str,
              parameters: dict[str, Any]) -> None:
    wait = outcome["wait"]
    if wait["type"] == "EVENT":
        await _wait_for_event(engine, name, state, key, wait)
        return
    if wait["type"] == "ABSOLUTE":
        seconds = float(wait["until"]) - workflow.now().timestamp()
        report = True
    else:
        seconds = float(wait["seconds"])
        report = wait.get("mode", "ASYNC") == "ASYNC"  # SYNC holds a sync caller until the timer fires
    if seconds <= 0:
        return
    if report:
        await engine.stable("SCHEDULER_WAITING")
    await _sleep(engine, seconds)
    if report:
        await engine.running()


async def resume(engine: Engine, name: str, state: dict[str, Any], position: dict[str, Any]) -> str | None:
    """Back into a carried ON_EVENT wait (its timeout keeps the carried deadline); the node after it."""
    await _wait_for_event(engine, name, state, state.get("contextOverrideKey") or name, position["wait"], resumed=True)
    return None if state.get("end") else state.get("nextNode")


async def _wait_for_event(engine: Engine, name: str, state: dict[str, Any], key: str, wait: dict[str, Any],
                          resumed: bool = False) -> None:
    """The timeline names the state's node type (WAIT, or another type whose outcome waits). `resumed`: the wait
    was carried over a continue-as-new (a PARALLEL branch's, `wait` then holds its `deadline`); the run already
    reported it WAITING."""
    run_ = engine.run
    event_name = wait["eventName"]
    run_.waiting_for = f"EVENT:{event_name}"
    if event_name not in run_.events and run_.harness is not None:  # test mode: the case lacks the event
        message = run_.harness.missing_event(name, event_name)
        engine.record(name, state["nodeDefinition"]["type"], "FAILURE", message)
        raise NodeFailed(message)
    if event_name not in run_.events:
        if not (resumed and run_.status == "WAITING"):
            await engine.stable("WAITING")
        timeout = wait.get("timeoutSeconds")
        deadline = workflow.now() + timedelta(seconds=float(timeout)) if timeout else None
        if wait.get("deadline"):
            deadline = datetime.fromisoformat(wait["deadline"])
        try:
            await workflow.wait_condition(
                lambda: event_name in run_.events or engine.stopping() or run_.handover_due,
                timeout=max(deadline - workflow.now(), timedelta(milliseconds=1)) if deadline else None,
            )
        except TimeoutError:
            run_.waiting_for = None
            message = f"node {name}: event '{event_name}' did not arrive within {timeout}s"
            engine.record(name, state["nodeDefinition"]["type"], "TIMEOUT", message)
            raise NodeFailed(message) from None
        engine.raise_if_terminated()
        if event_name not in run_.events:  # a hand-over is due: this branch is carried, still waiting here
            run_.waiting_for = None
            raise HandingOver({"node": name, "wait": {**wait, "deadline": deadline and deadline.isoformat()}})
        await engine.running()
    run_.waiting_for = None
    if event_name in run_.events:
        run_.context[f"{key}:event"] = run_.events.pop(event_name)


async def _sleep(engine: Engine, seconds: float) -> None:
    """A durable timer that a terminate interrupts. Test runs skip it."""
    if engine.run.harness is not None:
        return
    with contextlib.suppress(TimeoutError):
        await workflow.wait_condition(engine.stopping, timeout=timedelta(seconds=seconds))
    engine.raise_if_terminated()
