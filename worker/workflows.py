"""The interpreter workflow: walks a pinned workflow definition, one state at a time.

Deterministic and free of Django: every read and write happens in activities (worker/activities.py).
The run context `_global` lives in workflow state, so the workflow is its only writer; each state
change is persisted (context store + Run mirror) by a local activity with an increasing `seq`.

This module is the Temporal surface: the run, its handlers and continue-as-new. Each state is handed to its
kind (worker/kinds/: PARALLEL, MAP, a node and what its outcome asks for: screen, wait, child); the per-run
state is `RunState` (worker/run_state.py) and what every step uses is the `Engine` (worker/engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from apps.definitions.graph import disconnected
    from apps.nodes.registry import kind_of
    from apps.runs.contract import (
        ACTIVITY_START_RUN,
        FINAL_STATUSES,
        QUERY_STATE,
        SIGNAL_ADMITTED,
        SIGNAL_EVENT,
        STABLE_STATUSES,
        UPDATE_DISCONNECTED,
        UPDATE_RESUME,
        UPDATE_TERMINATE,
        UPDATE_WAIT_STABLE,
        WORKFLOW_NAME,
        RunInput,
        initial_context,
    )
    from core.paths import resolve_parameters
    from worker import kinds, versions
    from worker.engine import LOCAL_ACTIVITY_TIMEOUT, LOCAL_RETRY, Engine
    from worker.errors import HandingOver, NodeFailed, RunAborted, Terminated, failure_message
    from worker.kinds import node, segment
    from worker.kinds.map import DriftMapBatch
    from worker.kinds.parallel import POSITION as PARALLEL_POSITION
    from worker.kinds.parallel import RESUME
    from worker.run_state import RunState
    from worker.test_mode import TestStopped

__all__ = ["DriftMapBatch", "DriftWorkflow"]

PINNED_START = "pinned-start-1"  # issue 26: a start carrying its pinned definition skips start_run


@workflow.defn(name=WORKFLOW_NAME)
class DriftWorkflow:
    @workflow.init
    def __init__(self, inp: RunInput) -> None:
        self.engine = Engine(RunState.of(inp), self._execute, kinds.resume_at)
        self._admitted = False  # SIGNAL_ADMITTED came: a QUEUED schedule's fire may begin

    @property
    def _run(self) -> RunState:
        return self.engine.run

    # ----------------------------------------------------------------- main path
    @workflow.run
    async def run(self, inp: RunInput) -> dict[str, Any]:
        run, engine = self._run, self.engine
        run.engine_level = versions.level()  # before the first command: the one patch a run of this build asks
        try:
            if run.definition or await self._start():
                await self._walk()
        except TestStopped:
            pass  # a test run ends where its case gives no more input: the run stays WAITING
        except asyncio.CancelledError:
            # A SYNC parent stopped waiting for this child (it was terminated): record the end, then stop.
            run.terminate_reason = run.terminate_reason or "cancelled by the parent run"
            with contextlib.suppress(RunAborted):
                await engine.finish("TERMINATED", run.terminate_reason)
        except RunAborted:
            pass  # already recorded FAILED
        if run.status == "COMPLETED":
            with contextlib.suppress(RunAborted):
                await self._post_completion()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return engine.result()

    async def _start(self) -> bool:
        run = self._run
        # The API resolved and pinned the definition and wrote the Run row RUNNING: no start_run round trip.
        if run.inp.pinned is not None and (run.engine_level >= 2 or workflow.patched(PINNED_START)):
            started = run.inp.pinned
        else:
            try:
                started = await self._start_run()
                # A schedule's fire over its workflow's limits is QUEUED (spec §13): it begins once the admission
                # release signals a free slot (a terminate meanwhile ends it in Temporal, apps/runs/runtime.py).
                while started.get("queued"):
                    await workflow.wait_condition(lambda: self._admitted)
                    self._admitted = False
                    started = await self._start_run()
            except FailureError as error:  # a local activity's failure may arrive unwrapped
                await self.engine.finish("FAILED", failure_message(error))
                return False
        run.definition, run.key, run.version = started["definition"], started["key"], started["version"]
        run.limits = started["limits"]
        # A CHILD run started by reference gets its start parts from start_run (see worker/kinds/child.py).
        begun = dataclasses.replace(run.inp, start=started["start"]) if "start" in started else run.inp
        run.context = initial_context(begun, workflow.info().workflow_id)
        run.node_name = run.definition.get("startNode")
        if run.inp.start_node:  # a redrive: the old run's context, from the chosen node
            run.context = {**(run.inp.redrive_context or {}), "workflowId": workflow.info().workflow_id}
            run.node_name = run.inp.start_node
            if run.node_name not in run.definition["states"]:
                await self.engine.finish(
                    "FAILED", f"redrive start node '{run.node_name}' is not in version {run.version}")
                return False
        return True

    async def _start_run(self) -> dict[str, Any]:
        return await workflow.execute_local_activity(
            ACTIVITY_START_RUN, self._run.inp, start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT, retry_policy=LOCAL_RETRY)

    async def _walk(self) -> None:
        run, engine = self._run, self.engine
        while run.node_name and run.status not in FINAL_STATUSES:
            if run.stored_end is None:  # else a segment stored the run's end, which its next state settles
                if run.terminate_reason is not None:
                    await engine.finish("TERMINATED", run.terminate_reason)
                    return
                if run.parallel is None and (over := engine.over_node_limit()) is not None:
                    await engine.finish("FAILED", over)
                    return
                if engine.handover_is_due():
                    await self._continue_as_new()
            name = run.node_name
            run.current_node = name
            resumed, run.parallel = run.parallel, None
            if resumed is None:  # a resumed PARALLEL state was counted in the run that started it
                run.executed += 1
            RESUME.set(resumed)
            try:
                run.node_name = await self._execute(name)
            except HandingOver as handing:  # the PARALLEL state's branches all stopped: carry them
                run.parallel = handing.position[PARALLEL_POSITION]
                await self._continue_as_new()
                continue  # terminated meanwhile: the loop ends the run
            except NodeFailed as failure:
                run.node_name = await self._on_node_error(failure.node or name, failure.message)
            except Terminated:
                await engine.finish("TERMINATED", run.terminate_reason)
                return
        if run.status not in FINAL_STATUSES:
            await engine.finish("COMPLETED")

    async def _execute(self, name: str, in_branch: bool = False) -> str | None:
        """Hand the state to its kind: a state type of its own (PARALLEL, MAP), else its node, then what the
        node's outcome asks for (a screen, a wait, a child run)."""
        run, engine = self._run, self.engine
        state = run.definition["states"][name]
        state_kind = kinds.state_kind(state)
        if state_kind is not None:
            await engine.flush()  # its branches or item runs may take long: the mirror says RUNNING first
            return await state_kind.run(engine, name, state)
        if (pure_states := segment.applies(engine, name)) is not None:  # this node and the pure ones after it
            return await segment.run(engine, name, pure_states, in_branch, self._settle)
        parameters = resolve_parameters(state.get("parameters"), run.context)
        run.context["nodeParameters"] = parameters
        # Concurrent branches share `_global` but not one node's parameters: each node gets its own view.
        context = {**run.context, "nodeParameters": parameters} if in_branch else run.context
        outcome = (await node.settled(engine, name, state["nodeDefinition"])
                   or await node.node_activity(engine, name, state, context))
        return await self._settle(name, state, outcome, parameters, in_branch)

    async def _settle(self, name: str, state: dict[str, Any], outcome: dict[str, Any], parameters: dict[str, Any],
                      in_branch: bool) -> str | None:
        """What a node's outcome asks for (the run's end, an output, a screen, a wait, a child); the next state."""
        run, engine = self._run, self.engine
        if outcome.get("terminal"):  # SUCCESS, FAILURE: the run ends here
            await engine.finish(outcome["terminal"], outcome.get("error"))
            return None
        key = state.get("contextOverrideKey") or name
        if "output" in outcome:
            run.context[key] = outcome["output"]
        for outcome_kind in kinds.OUTCOME_KINDS:
            if outcome_kind.FIELD in outcome:
                chosen = await outcome_kind.run(engine, name, state, outcome, key, parameters)
                if outcome_kind.DECIDES_NEXT:
                    return chosen
                break
        if outcome.get("nextNode"):
            return outcome["nextNode"]
        if state.get("end"):
            if not in_branch:  # `end` in a branch ends the branch
                await engine.finish("COMPLETED")
            return None
        return state.get("nextNode")

    async def _on_node_error(self, name: str, message: str) -> str | None:
        run = self._run
        if run.terminate_reason is not None:
            await self.engine.finish("TERMINATED", run.terminate_reason)
            return None
        run.context["errorMessage"] = message
        failure_node = run.definition.get("defaultFailureNode")
        if failure_node and failure_node != name and failure_node in run.definition["states"]:
            run.error = message
            return failure_node
        await self.engine.finish("FAILED", message)
        return None

    async def _post_completion(self) -> None:
        """Nodes run after completion; their errors are recorded but never change the status."""
        run = self._run
        for name in run.definition.get("postWorkflowCompletionNodes") or []:
            state = run.definition["states"].get(name)
            if state is None:
                continue
            run.context["nodeParameters"] = resolve_parameters(state.get("parameters"), run.context)
            try:
                outcome = await node.node_activity(self.engine, name, state, run.context)
                run.context[state.get("contextOverrideKey") or name] = outcome.get("output")
            except NodeFailed:
                continue  # already on the timeline
        if run.definition.get("postWorkflowCompletionNodes"):
            await self.engine.persist(stable=False, notify=False)

    # ----------------------------------------------------------------- continue-as-new
    async def _continue_as_new(self) -> None:
        """Continue as new. Open updates cannot move to the new run, so callers still waiting for a stable
        state are answered now with the RUNNING state (the API turns that into 202, as past its sync
        timeout) and the hand-over waits for every handler to finish."""
        run = self._run
        await self.engine.flush()  # the carry holds no deferred state
        run.releasing_callers = True
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() or run.terminate_reason is not None)
        run.releasing_callers = False
        if run.terminate_reason is None:  # else the walk ends the run TERMINATED first
            carry = run.to_wire()  # holds the definition: the pinned copy of the start is not carried twice
            workflow.continue_as_new(RunInput(**{**run.inp.__dict__, "carry": carry, "pinned": None}))

    def _answered(self, after_seq: int) -> Callable[[], bool]:
        """When a caller waiting for the next stable state after `after_seq` gets its answer."""
        run = self._run
        return lambda: run.releasing_callers or (run.status in STABLE_STATUSES and run.stable_seq > after_seq)

    # ----------------------------------------------------------------- handlers
    @workflow.query(name=QUERY_STATE)
    def state(self) -> dict[str, Any]:
        return {**self.engine.response(), "waitingFor": self._run.waiting_for, "executed": self._run.executed}

    @workflow.update(name=UPDATE_WAIT_STABLE)
    async def wait_stable(self, after_seq: int = 0) -> dict[str, Any]:
        """Answer with the first stable state after `after_seq` (sync start, sync polling)."""
        await workflow.wait_condition(self._answered(after_seq))
        return self.engine.response()

    @workflow.update(name=UPDATE_RESUME)
    async def resume(self, payload: dict[str, Any]) -> dict[str, Any]:
        # `seq`, not `stable_seq`: the WAITING state may still be persisting, and must not count as the answer.
        after = self._run.seq
        self._run.screen_input = payload
        await workflow.wait_condition(self._answered(after))
        return self.engine.response()

    @resume.validator
    def _validate_resume(self, payload: dict[str, Any]) -> None:
        if self._run.waiting_for != "INSTRUCTION" or self._run.screen_input is not None:
            raise ApplicationError(f"run is {self._run.status}, not waiting for input", type="Conflict")

    @workflow.update(name=UPDATE_TERMINATE)
    async def terminate(self, reason: str) -> dict[str, Any]:
        self._run.terminate_reason = reason or "terminated by request"
        await workflow.wait_condition(lambda: self._run.status in FINAL_STATUSES)
        return self.engine.response()

    @terminate.validator
    def _validate_terminate(self, reason: str) -> None:
        if self._run.status in FINAL_STATUSES:
            raise ApplicationError(f"run already ended {self._run.status}", type="Conflict")

    @workflow.update(name=UPDATE_DISCONNECTED)
    async def execute_disconnected(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run a disconnected node against the context; its output is stored, the run does not move."""
        run, engine = self._run, self.engine
        name = request["node"]
        state = run.definition["states"][name]
        context = dict(run.context)
        parameters = request.get("parameters")
        context["nodeParameters"] = parameters if parameters else resolve_parameters(state.get("parameters"), context)
        reply = {"workflowId": workflow.info().workflow_id, "node": name}
        try:
            outcome = await node.node_activity(engine, name, state, context)
        except NodeFailed as failure:
            return {**reply, "status": "FAILURE", "response": {"error": engine.masked(failure.message)}}
        except Terminated:
            return {**reply, "status": "FAILURE", "response": {"error": "the run was terminated meanwhile"}}
        except RunAborted:
            return {**reply, "status": "FAILURE", "response": {"error": run.error}}
        response = outcome.get("output", outcome.get("view"))
        run.context[state.get("contextOverrideKey") or name] = response
        try:
            await engine.persist(stable=False, notify=False)
        except RunAborted:
            return {**reply, "status": "FAILURE", "response": {"error": engine.masked(run.error)}}
        return {**reply, "status": "SUCCESS", "response": engine.masked(response)}

    @execute_disconnected.validator
    def _validate_disconnected(self, request: dict[str, Any]) -> None:
        name = request.get("node") if isinstance(request, dict) else None
        if not self._run.definition:
            raise ApplicationError("run has not resolved its definition yet", type="Conflict")
        if name not in disconnected(self._run.definition):
            raise ApplicationError(f"'{name}' is not a disconnected node of this workflow", type="NotFound")
        state = self._run.definition["states"][name]
        node_definition = state.get("nodeDefinition") or {}  # PARALLEL and MAP states have none
        if not kind_of(node_definition).disconnectable:
            kind = node_definition.get("type") or state.get("type")
            raise ApplicationError(
                f"a {kind} {'node' if node_definition else 'state'} cannot run disconnected", type="Invalid")

    @workflow.signal(name=SIGNAL_ADMITTED)
    def admitted(self) -> None:
        self._admitted = True

    @workflow.signal(name=SIGNAL_EVENT)
    def event(self, name: str, payload: Any) -> None:
        self._run.events[name] = payload
