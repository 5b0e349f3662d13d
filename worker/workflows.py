"""The interpreter workflow: walks a pinned workflow definition, one node at a time.

Deterministic and free of Django: every read and write happens in activities (worker/activities.py).
The run context `_global` lives in workflow state, so the workflow is its only writer; each state
change is persisted (context store + Run mirror) by a local activity with an increasing `seq`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from apps.definitions import map_state
    from apps.definitions.graph import disconnected
    from apps.definitions.parallel import is_parallel
    from apps.nodes.paths import lookup, resolve_parameters
    from apps.nodes.registry import kind_of
    from apps.nodes.retry import retry_policy_fields
    from apps.runs.contract import (
        ACTIVITY_EXECUTE_NODE,
        ACTIVITY_PERSIST_RUN,
        ACTIVITY_START_RUN,
        CHILD_START_KEYS,
        FINAL_STATUSES,
        MAP_BATCH_WORKFLOW,
        QUERY_STATE,
        SIGNAL_EVENT,
        SIGNAL_MAP_READY,
        SIGNAL_MAP_SLOTS,
        STABLE_STATUSES,
        UNPERSISTABLE,
        UPDATE_DISCONNECTED,
        UPDATE_RESUME,
        UPDATE_TERMINATE,
        UPDATE_WAIT_STABLE,
        WAITING_STATUSES,
        WORKFLOW_NAME,
        MapBatch,
        NodeRequest,
        PersistRequest,
        RunInput,
        initial_context,
    )
    from apps.secrets.redaction import redact, sensitive_values
    from core.json_safety import printable, scrubbed
    from worker import human_tasks
    from worker.test_mode import TestHarness, TestStopped

LOCAL_ACTIVITY_TIMEOUT = timedelta(seconds=60)
# Node errors say themselves whether they are retryable (ApplicationError.non_retryable).
LOCAL_RETRY = RetryPolicy(maximum_attempts=3)
PERSIST_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


# The PARALLEL branch the current task walks ("" on the main path): each branch is an asyncio task with its
# own copy of the context, so timeline rows say where they ran without threading it through every call.
LANE: contextvars.ContextVar[str] = contextvars.ContextVar("lane", default="")
# The carried progress of the PARALLEL state the current task is about to resume after a continue-as-new
# (see `HandingOver`); `_parallel` takes it before starting its branches, so nested states do not see it.
RESUME: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("resume", default=None)


class Terminated(Exception):
    """A terminate request arrived: the run ends TERMINATED wherever it is (a wait, an activity, a child)."""


class RunAborted(Exception):
    """The run's state could not be stored (see `_abort`): the run has ended FAILED wherever it was."""


class HandingOver(Exception):  # noqa: N818 - a hand-over, not an error
    """A continue-as-new is due while PARALLEL branches run: the branch stopped at `position` (a node boundary,
    or waiting at an ON_EVENT node), to be carried and resumed there in the new run. Positions:
    `{"node"}` (not started), `{"node", "wait": {...wait, "deadline"}}`, `{"node", "parallel": progress}` where
    progress is `{"ends": {branch: end}, "at": {branch: position}, "startedAt"}` (nested states nest)."""

    def __init__(self, position: dict[str, Any]) -> None:
        super().__init__(position["node"])
        self.position = position


class NodeFailed(Exception):
    """A node ended in error; routed to `defaultFailureNode` or fails the run."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _failure_message(error: BaseException) -> str:
    """The innermost failure's message: what the node actually said, not the SDK wrapper's."""
    while isinstance(error, FailureError) and error.cause is not None:
        error = error.cause
    # printable: a script may raise with a lone surrogate in its message, which no store would take.
    return printable(error.message if isinstance(error, FailureError) else str(error))


def _failed_with(error: BaseException | None, failure_type: str) -> bool:
    """Whether an ApplicationError of `failure_type` is in the failure's cause chain."""
    while isinstance(error, FailureError):
        if isinstance(error, ApplicationError) and error.type == failure_type:
            return True
        error = error.cause
    return False


def _remote_retry_policy(node: dict[str, Any]) -> RetryPolicy:
    # 4xx and other final errors arrive as non-retryable ApplicationErrors; the policy paces the rest.
    retry = retry_policy_fields(node)
    return RetryPolicy(
        maximum_attempts=int(retry["maxAttempts"]),
        initial_interval=timedelta(seconds=float(retry["initialIntervalSeconds"])),
        backoff_coefficient=float(retry["backoffCoefficient"]),
        maximum_interval=timedelta(seconds=float(retry["maximumIntervalSeconds"])),
    )


@workflow.defn(name=WORKFLOW_NAME)
class DriftWorkflow:
    @workflow.init
    def __init__(self, inp: RunInput) -> None:
        self.inp = inp
        carry = inp.carry or {}
        self.definition: dict[str, Any] = carry.get("definition") or {}
        self.key: str = carry.get("key") or inp.workflow_key or ""
        self.version: int | None = carry.get("version")
        self.limits: dict[str, int] = carry.get("limits") or {}
        self.context: dict[str, Any] = carry.get("context") or {}
        self.node_name: str | None = carry.get("node_name")
        self.executed: int = carry.get("executed", 0)
        self.recorded: int = carry.get("recorded", 0)
        self.seq: int = carry.get("seq", 0)
        self.stable_seq: int = carry.get("stable_seq", 0)
        self.status: str = carry.get("status", "RUNNING")
        self.current_node: str = carry.get("current_node", "")
        self.view: dict[str, Any] | None = carry.get("view")
        self.disposition: str | None = carry.get("disposition")
        self.error: str | None = carry.get("error")
        self.events: dict[str, Any] = carry.get("events") or {}
        self.resume: dict[str, Any] | None = carry.get("parallel")  # the PARALLEL state at `node_name` resumes
        self.carrying = False  # a hand-over is due: PARALLEL branches stop at their next node boundary
        self.waiting_for: str | None = None
        self.resume_input: dict[str, Any] | None = None
        self.terminate_reason: str | None = None
        self.aborted = False  # the state could not be stored: the run ended FAILED (see _abort)
        self.handing_over = False  # continue-as-new pending: waiting callers are answered at once
        self.timeline: list[dict[str, Any]] = carry.get("timeline") or []  # not yet persisted
        self.task: dict[str, Any] | None = None  # the open human task of the current screen (spec §11)
        self.harness = TestHarness.of(inp.test)  # None unless this is a test run (spec §9)
        if self.harness is not None:
            self.events = {**self.harness.events, **self.events}

    # ----------------------------------------------------------------- main path
    @workflow.run
    async def run(self, inp: RunInput) -> dict[str, Any]:
        try:
            if self.definition or await self._start():
                await self._walk()
        except TestStopped:
            pass  # a test run ends where its case gives no more input: the run stays WAITING
        except asyncio.CancelledError:
            # A SYNC parent stopped waiting for this child (it was terminated): record the end, then stop.
            self.terminate_reason = self.terminate_reason or "cancelled by the parent run"
            with contextlib.suppress(RunAborted):
                await self._finish("TERMINATED", self.terminate_reason)
        except RunAborted:
            pass  # already recorded FAILED
        if self.status == "COMPLETED":
            with contextlib.suppress(RunAborted):
                await self._post_completion()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    async def _start(self) -> bool:
        try:
            started = await workflow.execute_local_activity(
                ACTIVITY_START_RUN, self.inp, start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT, retry_policy=LOCAL_RETRY
            )
        except FailureError as error:  # a local activity's failure may arrive unwrapped
            await self._finish("FAILED", _failure_message(error))
            return False
        self.definition, self.key, self.version = started["definition"], started["key"], started["version"]
        self.limits = started["limits"]
        # A CHILD run started by reference gets its start parts from start_run (see _child_start).
        begun = dataclasses.replace(self.inp, start=started["start"]) if "start" in started else self.inp
        self.context = initial_context(begun, workflow.info().workflow_id)
        self.node_name = self.definition.get("startNode")
        if self.inp.start_node:  # a redrive: the old run's context, from the chosen node
            self.context = {**(self.inp.redrive_context or {}), "workflowId": workflow.info().workflow_id}
            self.node_name = self.inp.start_node
            if self.node_name not in self.definition["states"]:
                await self._finish("FAILED", f"redrive start node '{self.node_name}' is not in version {self.version}")
                return False
        return True

    async def _walk(self) -> None:
        while self.node_name and self.status not in FINAL_STATUSES:
            if self.terminate_reason is not None:
                await self._finish("TERMINATED", self.terminate_reason)
                return
            if self.resume is None and self.executed >= self.limits.get("maxNodes", 1000):
                await self._finish("FAILED", f"node limit exceeded: more than {self.limits.get('maxNodes')} nodes")
                return
            await self._continue_as_new_if_due()
            name = self.node_name
            self.current_node = name
            resumed, self.resume = self.resume, None
            if resumed is None:  # a resumed PARALLEL state was counted in the run that started it
                self.executed += 1
            RESUME.set(resumed)
            try:
                self.node_name = await self._execute(name)
            except HandingOver as handing:  # the PARALLEL state's branches all stopped: carry them
                self.resume = handing.position["parallel"]
                await self._hand_over()
                continue  # terminated meanwhile: the loop ends the run
            except NodeFailed as failure:
                self.node_name = await self._on_node_error(name, failure.message)
            except Terminated:
                await self._finish("TERMINATED", self.terminate_reason)
                return
        if self.status not in FINAL_STATUSES:
            await self._finish("COMPLETED")

    async def _execute(self, name: str, in_branch: bool = False) -> str | None:
        state = self.definition["states"][name]
        if is_parallel(state):
            return await self._parallel(name, state)
        if map_state.is_map(state):
            return await self._map(name, state)
        node = state["nodeDefinition"]
        parameters = resolve_parameters(state.get("parameters"), self.context)
        self.context["nodeParameters"] = parameters
        # Concurrent branches share `_global` but not one node's parameters: each node gets its own view.
        context = {**self.context, "nodeParameters": parameters} if in_branch else self.context
        outcome = await self._settled(name, node) or await self._node_activity(name, state, context)
        if outcome.get("terminal"):  # SUCCESS, FAILURE: the run ends here
            await self._finish(outcome["terminal"], outcome.get("error"))
            return None
        key = state.get("contextOverrideKey") or name
        if "output" in outcome:
            self.context[key] = outcome["output"]
        if "view" in outcome:
            return await self._instruction(name, state, outcome)
        if "wait" in outcome:
            await self._wait(name, key, outcome["wait"])
        elif "child" in outcome:
            self.context[key] = await self._child(name, outcome["child"], parameters)
        if outcome.get("nextNode"):
            return outcome["nextNode"]
        if state.get("end"):
            if not in_branch:  # `end` in a branch ends the branch
                await self._finish("COMPLETED")
            return None
        return state.get("nextNode")

    async def _parallel(self, name: str, state: dict[str, Any]) -> str | None:
        """A PARALLEL state (spec §8): its branches walk concurrently over the shared `_global`; then
        `_global[key] = {branch: {status, error}}` and the run goes on at `nextNode` (or the state fails,
        as its `failurePolicy` says). A terminate cancels every branch. When a continue-as-new is due, each
        branch stops at its next node boundary and the state raises `HandingOver` with its progress; the
        new run resumes it from there (the carried progress arrives in `RESUME`)."""
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
                await self._walk_branch(start, positions.get(branch))
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
        await workflow.wait_condition(lambda: len(ends) + len(parked) == len(branches) or self._stopping()
                                      or (policy == "FAIL_FAST" and bool(failed())))
        for task in tasks:
            task.cancel()  # FAIL_FAST or a terminate: the branches still running end CANCELLED
        await asyncio.gather(*tasks)
        self._raise_if_terminated()
        if parked and not (policy == "FAIL_FAST" and failed()):
            progress = {"ends": ends, "at": parked, "startedAt": started_at.isoformat()}
            raise HandingOver({"node": name, "parallel": progress})
        ends.update({branch: {"status": "CANCELLED", "error": None} for branch in parked})  # by FAIL_FAST
        self.context[state.get("contextOverrideKey") or name] = {branch: ends[branch] for branch, _ in branches}
        if failed() and policy != "CONTINUE":
            message = f"PARALLEL {name}: branch {failed()[0]} failed: {ends[failed()[0]]['error']}"
            self._record(name, "PARALLEL", "FAILURE", message, self._meta_since(started_at))
            raise NodeFailed(message)
        self._record(name, "PARALLEL", "SUCCESS", "", self._meta_since(started_at))
        return state.get("nextNode")

    async def _map(self, name: str, state: dict[str, Any]) -> str | None:
        """A MAP state (spec §8): the iterator workflow once per item, as child runs, in batch workflows of
        DRIFT_MAP_BATCH_SIZE items (each batch's history stays small, so 10,000 items fit) that share
        `maxConcurrency` (see DriftMapBatch); results in item order. Fails when the failed share exceeds
        `toleratedFailurePercentage`."""
        if self.harness is not None:  # a test run starts no child runs: the case mocks the MAP's result
            return self._mocked_map(name, state)
        if self.inp.depth + 1 > self.limits.get("maxDepth", 5):
            raise NodeFailed(f"MAP {name}: child nesting deeper than {self.limits.get('maxDepth')} levels")
        items = await self._map_items(name, state)
        started_at = workflow.now()
        call = asyncio.ensure_future(self._run_map_batches(self._map_batches(name, state, items)))
        try:
            done = await self._unless_terminated(call)
        except Terminated:
            with contextlib.suppress(BaseException):
                await call  # the batches end only once every item's run has ended TERMINATED
            raise
        except FailureError as error:
            raise NodeFailed(f"MAP {name}: a batch failed: {_failure_message(error)}") from error
        results = [result for batch in done for result in batch["results"]]
        failed = [failure for batch in done for failure in batch["failed"]]
        self.context[state.get("contextOverrideKey") or name] = {
            "results": results, "failed": failed, "succeeded": len(items) - len(failed)}
        share = 100 * len(failed) / len(items) if items else 0.0
        tolerated = float(state.get("toleratedFailurePercentage") or 0)
        meta = self._meta_since(started_at)
        if share > tolerated:
            message = f"MAP {name}: {len(failed)} of {len(items)} items failed ({share:.1f}% > {tolerated:g}%)"
            self._record(name, "MAP", "FAILURE", message, meta)
            raise NodeFailed(message)
        self._record(name, "MAP", "SUCCESS", "", meta)
        return state.get("nextNode")

    def _map_batches(self, name: str, state: dict[str, Any], items: list[Any]) -> list[MapBatch]:
        """The MAP's batches as one chain: the first holds every concurrency slot, each hands its free
        slots to the next. Item runs are <prefix>.<index>, batches <prefix>.batch<offset>."""
        workflow_id = workflow.info().workflow_id
        prefix = map_state.item_run_prefix(workflow_id, name, workflow.uuid4().hex[:12])
        concurrency = int(state.get("maxConcurrency") or map_state.DEFAULT_MAX_CONCURRENCY)
        size = self.limits.get("mapBatchSize") or map_state.BATCH_SIZE
        offsets = list(range(0, len(items), size))
        ids = [f"{prefix}.batch{offset}" for offset in offsets]
        return [MapBatch(
            tenant=self.inp.tenant, parent_workflow_id=workflow_id, child_prefix=prefix, iterator=state["iterator"],
            items=items[offset:offset + size], offset=offset, max_concurrency=concurrency,
            depth=self.inp.depth + 1, client_id=self.inp.client_id, username=self.inp.username,
            incident_id=self.inp.incident_id, slots=concurrency if position == 0 else 0,
            predecessor=ids[position - 1] if position else "",
            successor=ids[position + 1] if position + 1 < len(ids) else "",
        ) for position, offset in enumerate(offsets)]

    @staticmethod
    async def _run_map_batches(batches: list[MapBatch]) -> list[dict[str, Any]]:
        """Start every batch (in order: a batch's predecessor exists before it says it is ready), then
        their results in order. A failed or cancelled batch cancels the others (their chain is broken)."""
        handles: list[workflow.ChildWorkflowHandle] = []
        try:
            for batch in batches:
                batch_id = f"{batch.child_prefix}.batch{batch.offset}"
                handles.append(await workflow.start_child_workflow(MAP_BATCH_WORKFLOW, batch, id=batch_id))
            return list(await asyncio.gather(*handles))
        except (Exception, asyncio.CancelledError):  # not GeneratorExit: the worker evicting the run
            for handle in handles:
                handle.cancel()
            await asyncio.gather(*handles, return_exceptions=True)
            raise

    def _mocked_map(self, name: str, state: dict[str, Any]) -> str | None:
        mock = self.harness.next_mock(name)
        if mock is None:
            message = self.harness.unmocked(name, "MAP")
            self._record(name, "MAP", "FAILURE", message)
            raise NodeFailed(message)
        self.context[state.get("contextOverrideKey") or name] = self._mocked(name, {"type": "MAP"}, mock)["output"]
        return state.get("nextNode")

    async def _map_items(self, name: str, state: dict[str, Any]) -> list[Any]:
        items = state.get("items")
        if isinstance(items, str):
            items = lookup(self.context, items)
        elif isinstance(items, dict):  # a value component: computed like a SCRIPT node's transformer
            script = {"nodeDefinition": {"id": name, "type": "SCRIPT", "transformer": items}}
            items = (await self._node_activity(name, script, self.context)).get("output")
        if not isinstance(items, list):
            raise NodeFailed(f"MAP {name}: items is not a list but {type(items).__name__}")
        if len(items) > map_state.MAX_ITEMS:
            raise NodeFailed(f"MAP {name}: {len(items)} items, more than {map_state.MAX_ITEMS}")
        return items

    async def _walk_branch(self, name: str | None, position: dict[str, Any] | None = None) -> None:
        """One PARALLEL branch: its states in order until one has no `nextNode`. A node error ends the
        branch FAILED (no `defaultFailureNode` inside a branch). `position`: where a branch carried over a
        continue-as-new resumes. When a hand-over is due, the branch stops at its next node boundary."""
        if position is not None:
            name = await self._resume_branch(position)
        while name:
            self._raise_if_terminated()
            if self._handover_due():
                raise HandingOver({"node": name})
            if self.executed >= self.limits.get("maxNodes", 1000):
                raise NodeFailed(f"node limit exceeded: more than {self.limits.get('maxNodes')} nodes")
            self.current_node = name
            self.executed += 1
            name = await self._execute(name, in_branch=True)

    async def _resume_branch(self, position: dict[str, Any]) -> str | None:
        """Take a carried branch up where it stopped (see `HandingOver`); the node to walk on from."""
        name = position["node"]
        state = self.definition["states"][name]
        if "parallel" in position:  # a nested PARALLEL state, resumed from its own progress
            self.current_node = name
            RESUME.set(position["parallel"])
            return await self._execute(name, in_branch=True)
        if "wait" in position:  # back into the ON_EVENT wait (its timeout keeps the carried deadline)
            await self._wait_for_event(name, state.get("contextOverrideKey") or name, position["wait"], resumed=True)
            return None if state.get("end") else state.get("nextNode")
        return name  # stopped before this node: it runs now

    async def _settled(self, name: str, node: dict[str, Any]) -> dict[str, Any] | None:
        """The outcome the node's type computes inside the workflow (no activity), recorded; else None."""
        settle = kind_of(node).settle
        outcome = settle(node, name, self.error) if settle else None
        if outcome is not None:
            self._record_outcome(name, node["type"], outcome)
        return outcome

    async def _on_node_error(self, name: str, message: str) -> str | None:
        if self.terminate_reason is not None:
            await self._finish("TERMINATED", self.terminate_reason)
            return None
        self.context["errorMessage"] = message
        failure_node = self.definition.get("defaultFailureNode")
        if failure_node and failure_node != name and failure_node in self.definition["states"]:
            self.error = message
            return failure_node
        await self._finish("FAILED", message)
        return None

    async def _post_completion(self) -> None:
        """Nodes run after completion; their errors are recorded but never change the status."""
        for name in self.definition.get("postWorkflowCompletionNodes") or []:
            state = self.definition["states"].get(name)
            if state is None:
                continue
            self.context["nodeParameters"] = resolve_parameters(state.get("parameters"), self.context)
            try:
                outcome = await self._node_activity(name, state, self.context)
                self.context[state.get("contextOverrideKey") or name] = outcome.get("output")
            except NodeFailed:
                continue  # already on the timeline
        if self.definition.get("postWorkflowCompletionNodes"):
            await self._persist(stable=False, notify=False)

    # ----------------------------------------------------------------- node kinds
    async def _node_activity(self, name: str, state: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        node = state["nodeDefinition"]
        mock = self._test_mock(name, node) if self.harness is not None else None
        if mock is not None and "status" not in mock:
            return self._mocked(name, node, mock)
        request = NodeRequest(self.inp.tenant, workflow.info().workflow_id, node, state, context,
                              sensitive_paths=self._sensitive_paths(), mock=mock, test=self.harness is not None)
        if kind_of(node).remote:
            request = await self._by_reference(request)
            timeout = float(node.get("timeoutSeconds") or 30) + 5
            call = workflow.execute_activity(
                ACTIVITY_EXECUTE_NODE, request, start_to_close_timeout=timedelta(seconds=timeout),
                # A mocked response would only repeat itself: test runs make one attempt.
                retry_policy=_remote_retry_policy(node) if mock is None else RetryPolicy(maximum_attempts=1),
            )
        else:
            call = workflow.execute_local_activity(
                ACTIVITY_EXECUTE_NODE, request, start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT, retry_policy=LOCAL_RETRY
            )
        try:
            outcome = await self._unless_terminated(call)
        except FailureError as error:
            message = _failure_message(error)
            self._record(name, node["type"], "FAILURE", message)
            raise NodeFailed(f"node {name} failed: {message}") from error
        self._record_outcome(name, node["type"], outcome, outcome.pop("_meta", {}))
        return outcome

    async def _by_reference(self, request: NodeRequest) -> NodeRequest:
        """A remote node's input is recorded in the run's history (local activities' inputs are not): above
        `inlineContextBytes`, the context goes to the context store (a persist) and the request carries only
        the seq written and the node's parameters, so history grows by each node's own request, not by the
        whole context per node. Runs begun before the limit existed (no key) stay inline: their histories replay.
        Test runs store nothing, so they stay inline too."""
        limit = self.limits.get("inlineContextBytes")
        if limit is None or self.harness is not None or len(json.dumps(request.context, default=str)) <= limit:
            return request
        seq = await self._persist(stable=False, notify=False)
        return dataclasses.replace(request, context=None, context_seq=seq,
                                   parameters=request.context.get("nodeParameters"))

    def _record_outcome(self, name: str, node_type: str, outcome: dict[str, Any], meta: dict | None = None) -> None:
        failed = outcome.get("terminal") == "FAILED"  # a FAILURE node
        self._record(name, node_type, "FAILURE" if failed else "SUCCESS", outcome.get("error", "") if failed else "",
                     meta)

    def _test_mock(self, name: str, node: dict[str, Any]) -> dict[str, Any] | None:
        """Test runs: the instance's next mock outcome; a node whose type must be mocked fails the case without."""
        mock = self.harness.next_mock(name)
        if mock is None and kind_of(node).must_mock:
            message = self.harness.unmocked(name, node["type"])
            self._record(name, node["type"], "FAILURE", message)
            raise NodeFailed(message)
        return mock

    def _mocked(self, name: str, node: dict[str, Any], mock: dict[str, Any]) -> dict[str, Any]:
        """A mock outcome `{"output"}` or `{"error"}` stands for the node's execution."""
        if "error" in mock:
            self._record(name, node["type"], "FAILURE", f"mocked: {mock['error']}")
            raise NodeFailed(f"node {name} failed: {mock['error']}")
        self._record(name, node["type"], "MOCKED")
        return kind_of(node).from_mock(mock.get("output"))

    async def _unless_terminated(self, call: Awaitable[Any]) -> Any:
        """Await `call`, but give up on it when a terminate arrives meanwhile."""
        task = asyncio.ensure_future(call)
        try:
            await workflow.wait_condition(lambda: task.done() or self._stopping())
        except asyncio.CancelledError:  # its PARALLEL branch was cancelled: so is the call
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            self._raise_if_terminated()
        return task.result()

    def _stopping(self) -> bool:
        return self.terminate_reason is not None or self.aborted

    def _raise_if_terminated(self) -> None:
        if self.aborted:
            raise RunAborted
        if self.terminate_reason is not None:
            raise Terminated

    async def _instruction(self, name: str, state: dict[str, Any], outcome: dict[str, Any]) -> str | None:
        self.view = outcome.get("view")
        self.disposition = outcome.get("disposition") or self.disposition
        requested = outcome.get("workflowStatus")
        if state.get("end") or requested in FINAL_STATUSES:
            await self._finish(requested if requested in FINAL_STATUSES else "COMPLETED")
            return None
        self.waiting_for = "INSTRUCTION"
        assignment = outcome.get("assignment")
        self.task = human_tasks.open_task(name, assignment, self.seq + 1, workflow.now())
        await self._stable(requested if requested in WAITING_STATUSES else "WAITING")
        if self.harness is not None:
            self.resume_input = self.harness.next_resume()
            if self.resume_input is None:
                raise TestStopped
        timed_out = await self._await_resume(assignment)
        self.waiting_for = None
        if timed_out:
            return await self._screen_timed_out(name, assignment)
        if self.resume_input is None:
            self._close_task("TERMINATED")
            self._raise_if_terminated()
        payload, self.resume_input = self.resume_input, None
        self._record(name, "INSTRUCTION", "RESUMED", "", {"actor": payload.get("resumedBy") or ""})
        self._close_task("RESUMED", payload.get("resumedBy"))
        key = state.get("contextOverrideKey") or name
        self.context[f"{key}:viewResponse"] = payload.get("viewResponse") or {}
        self.context["params"].update(payload.get("params") or {})
        self.view = None
        await self._running()
        return state.get("nextNode")

    async def _await_resume(self, assignment: dict[str, Any] | None) -> bool:
        """Wait for the resume; escalation steps reassign the task on Temporal timers (no polling).
        True when the screen's timeout fired first."""
        began = workflow.now()
        for after, step in human_tasks.deadlines(assignment):
            remaining = (began + timedelta(seconds=after) - workflow.now()).total_seconds()
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(self._answered_screen, timeout=timedelta(seconds=remaining))
            if self._answered_screen():
                return False
            if step is None:
                return True
            self.task = human_tasks.escalate(self.task, step)
            await self._persist(stable=False, notify=False)
        await workflow.wait_condition(self._answered_screen)
        return False

    def _answered_screen(self) -> bool:
        return self.resume_input is not None or self._stopping()

    async def _screen_timed_out(self, name: str, assignment: dict[str, Any]) -> str:
        message = f"node {name}: no resume within {assignment['timeoutSeconds']}s"
        self._record(name, "INSTRUCTION", "TIMEOUT", message)
        self._close_task("TIMED_OUT")
        self.view = None
        await self._running()  # closes the task now: a continue-as-new before the next persist would lose it
        if not assignment.get("timeoutNode"):
            raise NodeFailed(message)
        return assignment["timeoutNode"]

    def _close_task(self, outcome: str, by: str | None = None) -> None:
        """The next persist closes the screen's task with this outcome."""
        if self.task is not None:
            self.task = {**self.task, "state": outcome, "closedBy": by or ""}

    async def _wait(self, name: str, key: str, wait: dict[str, Any]) -> None:
        if wait["type"] == "EVENT":
            await self._wait_for_event(name, key, wait)
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
            await self._stable("SCHEDULER_WAITING")
        await self._sleep(seconds)
        if report:
            await self._running()

    async def _wait_for_event(self, name: str, key: str, wait: dict[str, Any], resumed: bool = False) -> None:
        """`resumed`: the wait was carried over a continue-as-new (a PARALLEL branch's, `wait` then holds its
        `deadline`); the run already reported it WAITING."""
        event_name = wait["eventName"]
        self.waiting_for = f"EVENT:{event_name}"
        if event_name not in self.events and self.harness is not None:
            message = self.harness.missing_event(name, event_name)
            self._record(name, "WAIT", "FAILURE", message)
            raise NodeFailed(message)
        if event_name not in self.events:
            if not (resumed and self.status == "WAITING"):
                await self._stable("WAITING")
            timeout = wait.get("timeoutSeconds")
            deadline = workflow.now() + timedelta(seconds=float(timeout)) if timeout else None
            if wait.get("deadline"):
                deadline = datetime.fromisoformat(wait["deadline"])
            try:
                await workflow.wait_condition(
                    lambda: event_name in self.events or self._stopping() or self.carrying,
                    timeout=max(deadline - workflow.now(), timedelta(milliseconds=1)) if deadline else None,
                )
            except TimeoutError:
                self.waiting_for = None
                message = f"node {name}: event '{event_name}' did not arrive within {timeout}s"
                self._record(name, "WAIT", "TIMEOUT", message)
                raise NodeFailed(message) from None
            self._raise_if_terminated()
            if event_name not in self.events:  # a hand-over is due: this branch is carried, still waiting here
                self.waiting_for = None
                raise HandingOver({"node": name, "wait": {**wait, "deadline": deadline and deadline.isoformat()}})
            await self._running()
        self.waiting_for = None
        if event_name in self.events:
            self.context[f"{key}:event"] = self.events.pop(event_name)

    async def _sleep(self, seconds: float) -> None:
        """A durable timer that a terminate interrupts. Test runs skip it."""
        if self.harness is not None:
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(self._stopping, timeout=timedelta(seconds=seconds))
        self._raise_if_terminated()

    async def _child_start(self, parameters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A CHILD run's start: the parent's CHILD_START_KEYS parts and the node's params. A child's input is
        recorded in the parent's history, so parts above `inlineContextBytes` go by reference, like a remote
        node's context: the child's start_run reads them from this run's context store (at this seq or later)."""
        parts = {key: self.context.get(key) for key in CHILD_START_KEYS}
        params = {"params": dict(parameters or {})}
        limit = self.limits.get("inlineContextBytes")
        if limit is None or len(json.dumps(parts, default=str)) <= limit:
            return {**parts, **params}, None
        seq = await self._persist(stable=False, notify=False)
        source = {"workflowId": workflow.info().workflow_id, "seq": seq, "keys": list(CHILD_START_KEYS),
                  "sealed": bool(self._sensitive_paths())}
        return params, source

    async def _child(self, name: str, child: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        if self.inp.depth + 1 > self.limits.get("maxDepth", 5):
            raise NodeFailed(f"node {name}: child nesting deeper than {self.limits.get('maxDepth')} levels")
        # Unguessable (workflow.uuid4 is replay-safe): no other tenant can take a child's id first.
        child_id = f"{workflow.info().workflow_id}.{name}.{workflow.uuid4().hex[:16]}"
        start, start_from = await self._child_start(parameters)
        child_input = RunInput(
            tenant=self.inp.tenant, workflow_key=child["workflowId"], version=str(child.get("version") or "ACTIVE"),
            start=start, start_from=start_from,
            mode="SYNC", client_id=self.inp.client_id, username=self.inp.username, incident_id=self.inp.incident_id,
            parent_workflow_id=workflow.info().workflow_id, depth=self.inp.depth + 1,
        )
        started_at = workflow.now()
        if child.get("mode") == "ASYNC":
            try:
                await workflow.start_child_workflow(
                    WORKFLOW_NAME, child_input, id=child_id, parent_close_policy=workflow.ParentClosePolicy.ABANDON
                )
            except FailureError as error:
                raise NodeFailed(f"node {name}: child {child_id} did not start: {_failure_message(error)}") from error
            self._record(name, "CHILD", "STARTED", "", self._meta_since(started_at))
            return {"workflowId": child_id, "workflowStatus": "RUNNING"}
        try:
            call = workflow.execute_child_workflow(WORKFLOW_NAME, child_input, id=child_id)
            result = await self._unless_terminated(call)
        except FailureError as error:
            raise NodeFailed(f"node {name}: child {child_id} failed: {_failure_message(error)}") from error
        status, error = result["workflowStatus"], result.get("errorMessage") or ""
        self._record(name, "CHILD", status, error, self._meta_since(started_at))
        if status != "COMPLETED":
            raise NodeFailed(f"node {name}: child {child_id} ended {status}: {error}")
        return {"workflowId": child_id, "workflowStatus": result["workflowStatus"], "output": result.get("output")}

    # ----------------------------------------------------------------- state changes
    async def _stable(self, status: str) -> None:
        self.status = status
        await self._persist(stable=True, notify=True)

    async def _running(self) -> None:
        self.status = "RUNNING"
        await self._persist(stable=False, notify=False)

    async def _finish(self, status: str, error: str | None = None) -> None:
        if error is not None:
            self.error = error
        self.waiting_for = None
        await self._stable(status)

    async def _persist(self, *, stable: bool, notify: bool) -> int:
        """Store the state; returns its seq (a concurrent PARALLEL branch may have moved `self.seq` on since)."""
        self.seq += 1
        seq = self.seq
        request = PersistRequest(
            workflow_id=workflow.info().workflow_id, seq=seq, status=self.status, current_node=self.current_node,
            context=self.context, response=self._response(), timeline=self.timeline, notify=notify,
            tenant=self.inp.tenant, task=self.task, sensitive_paths=self._sensitive_paths(),
        )
        self.timeline = []
        if self.task is not None and self.task["state"] != "OPEN":
            self.task = None  # closed by this persist
        if self.harness is not None:  # a test run persists nothing: its report keeps the states
            self.harness.record(self.status, self.current_node, self.view, request.timeline)
        else:
            try:
                # Shielded: a cancelled PARALLEL branch must not drop a state change half-way.
                await asyncio.shield(workflow.execute_local_activity(
                    ACTIVITY_PERSIST_RUN, request, start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=PERSIST_RETRY,
                ))
            except FailureError as error:  # a local activity's failure may arrive unwrapped
                if not _failed_with(error, UNPERSISTABLE) or self.aborted:
                    raise
                await self._abort(_failure_message(error))
        if stable:
            self.stable_seq = max(self.stable_seq, seq)
        return seq

    async def _abort(self, message: str) -> None:
        """A persist that can never succeed (the state holds NaN, a lone surrogate...) ends the run FAILED
        with that message, the offending values nulled so that the end itself is stored, then unwinds."""
        self.aborted = True
        self.context, self.view = scrubbed(self.context), scrubbed(self.view)
        self.status, self.error, self.waiting_for = "FAILED", message, None
        await self._persist(stable=True, notify=True)
        raise RunAborted

    def _record(self, name: str, node_type: str, outcome: str, error: str = "", meta: dict | None = None) -> None:
        meta = meta or {}
        self.recorded += 1
        self.timeline.append({
            "seq": self.recorded, "instance": name, "type": node_type, "outcome": outcome, "error": error,
            "startedAt": meta.get("startedAt") or workflow.now().isoformat(), "durationMs": meta.get("durationMs", 0),
            **({"actor": meta["actor"]} if meta.get("actor") else {}),
            **({"lane": LANE.get()} if LANE.get() else {}),
        })

    def _meta_since(self, started_at: Any) -> dict[str, Any]:
        return {"startedAt": started_at.isoformat(), "durationMs": (workflow.now() - started_at).total_seconds() * 1000}

    async def _continue_as_new_if_due(self) -> None:
        if self._handover_due():
            await self._hand_over()

    def _handover_due(self) -> bool:
        """Whether to continue as new before history grows large. Once due, it stays due for this run:
        PARALLEL branches that notice it stop at their next node boundary, and waiting ones wake up."""
        if not self.carrying:
            info = workflow.info()
            limit = self.limits.get("historyEvents", 10_000)
            self.carrying = info.is_continue_as_new_suggested() or info.get_current_history_length() > limit
        return self.carrying

    async def _hand_over(self) -> None:
        """Continue as new. Open updates cannot move to the new run, so callers still waiting for a stable
        state are answered now with the RUNNING state (the API turns that into 202, as past its sync
        timeout) and the hand-over waits for every handler to finish."""
        self.handing_over = True
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self.terminate_reason is not None)
        self.handing_over = False
        if self.terminate_reason is None:  # else the walk ends the run TERMINATED first
            workflow.continue_as_new(RunInput(**{**self.inp.__dict__, "carry": self._carry()}))

    def _answered(self, after_seq: int) -> Callable[[], bool]:
        """When a caller waiting for the next stable state after `after_seq` gets its answer."""
        return lambda: self.handing_over or (self.status in STABLE_STATUSES and self.stable_seq > after_seq)

    def _carry(self) -> dict[str, Any]:
        names = ("definition", "key", "version", "limits", "context", "node_name", "executed", "recorded", "seq",
                 "stable_seq", "status", "current_node", "view", "disposition", "error", "events", "timeline")
        return {**{name: getattr(self, name) for name in names}, "parallel": self.resume}

    # ----------------------------------------------------------------- responses
    def _sensitive_paths(self) -> list[str]:
        own = list(self.definition.get("sensitivePaths") or [])
        return own + [path for path in self.inp.sensitive_paths if path not in own]  # a rerun's: see RunInput

    def _masked(self, value: Any) -> Any:
        """`value` with the run's sensitive values masked: answers, the mirror and webhooks never carry them."""
        paths = self._sensitive_paths()
        return redact(value, sensitive_values(self.context, paths)) if paths else value

    def _response(self) -> dict[str, Any]:
        return {
            "workflowId": workflow.info().workflow_id,
            "incidentId": self.inp.incident_id or None,
            "workflowStatus": self.status,
            "disposition": self.disposition,
            "errorMessage": self._masked(self.error),
            "view": self._masked(self.view),
            "currentNode": self.current_node,
            "workflowDefinitionId": self.key,
            "workflowVersion": self.version,
            "seq": self.seq,
        }

    def _result(self) -> dict[str, Any]:
        output = {k: v for k, v in self.context.items() if k != "nodeParameters"}
        result = {**self._response(), "output": output}
        if self.harness is not None:
            report = self.harness.report()
            result["test"] = {**report, "timeline": report["timeline"] + self.timeline}
        return result

    # ----------------------------------------------------------------- handlers
    @workflow.query(name=QUERY_STATE)
    def state(self) -> dict[str, Any]:
        return {**self._response(), "waitingFor": self.waiting_for, "executed": self.executed}

    @workflow.update(name=UPDATE_WAIT_STABLE)
    async def wait_stable(self, after_seq: int = 0) -> dict[str, Any]:
        """Answer with the first stable state after `after_seq` (sync start, sync polling)."""
        await workflow.wait_condition(self._answered(after_seq))
        return self._response()

    @workflow.update(name=UPDATE_RESUME)
    async def resume(self, payload: dict[str, Any]) -> dict[str, Any]:
        # `seq`, not `stable_seq`: the WAITING state may still be persisting, and must not count as the answer.
        after = self.seq
        self.resume_input = payload
        await workflow.wait_condition(self._answered(after))
        return self._response()

    @resume.validator
    def _validate_resume(self, payload: dict[str, Any]) -> None:
        if self.waiting_for != "INSTRUCTION" or self.resume_input is not None:
            raise ApplicationError(f"run is {self.status}, not waiting for input", type="Conflict")

    @workflow.update(name=UPDATE_TERMINATE)
    async def terminate(self, reason: str) -> dict[str, Any]:
        self.terminate_reason = reason or "terminated by request"
        await workflow.wait_condition(lambda: self.status in FINAL_STATUSES)
        return self._response()

    @terminate.validator
    def _validate_terminate(self, reason: str) -> None:
        if self.status in FINAL_STATUSES:
            raise ApplicationError(f"run already ended {self.status}", type="Conflict")

    @workflow.update(name=UPDATE_DISCONNECTED)
    async def execute_disconnected(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run a disconnected node against the context; its output is stored, the run does not move."""
        name = request["node"]
        state = self.definition["states"][name]
        context = dict(self.context)
        parameters = request.get("parameters")
        context["nodeParameters"] = parameters if parameters else resolve_parameters(state.get("parameters"), context)
        reply = {"workflowId": workflow.info().workflow_id, "node": name}
        try:
            outcome = await self._node_activity(name, state, context)
        except NodeFailed as failure:
            return {**reply, "status": "FAILURE", "response": {"error": self._masked(failure.message)}}
        except Terminated:
            return {**reply, "status": "FAILURE", "response": {"error": "the run was terminated meanwhile"}}
        except RunAborted:
            return {**reply, "status": "FAILURE", "response": {"error": self.error}}
        response = outcome.get("output", outcome.get("view"))
        self.context[state.get("contextOverrideKey") or name] = response
        try:
            await self._persist(stable=False, notify=False)
        except RunAborted:
            return {**reply, "status": "FAILURE", "response": {"error": self._masked(self.error)}}
        return {**reply, "status": "SUCCESS", "response": self._masked(response)}

    @execute_disconnected.validator
    def _validate_disconnected(self, request: dict[str, Any]) -> None:
        name = request.get("node") if isinstance(request, dict) else None
        if not self.definition:
            raise ApplicationError("run has not resolved its definition yet", type="Conflict")
        if name not in disconnected(self.definition):
            raise ApplicationError(f"'{name}' is not a disconnected node of this workflow", type="NotFound")
        state = self.definition["states"][name]
        node = state.get("nodeDefinition") or {}  # PARALLEL and MAP states have none
        if not kind_of(node).disconnectable:
            kind = node.get("type") or state.get("type")
            raise ApplicationError(f"a {kind} {'node' if node else 'state'} cannot run disconnected", type="Invalid")

    @workflow.signal(name=SIGNAL_EVENT)
    def event(self, name: str, payload: Any) -> None:
        self.events[name] = payload


@workflow.defn(name=MAP_BATCH_WORKFLOW)
class DriftMapBatch:
    """One batch of a MAP state's items: the iterator workflow per item as a child run.

    Concurrency flows down the chain of batches instead of stopping at each batch's end: the MAP's
    `maxConcurrency` slots start with the first batch; a batch that has started all its items gives each
    slot its items free (and each slot it is given) to the next batch at once (signal SIGNAL_MAP_SLOTS),
    so the next batch's items start while this one's tail finishes. A slot is held by one batch at a time,
    so at most `maxConcurrency` item runs are in flight over the whole MAP, and the item runs flow
    continuously across batch boundaries. Each history stays bounded: a batch records its own items plus
    at most one hand-over per slot freed or passed through. A batch ends once its items have ended and its
    predecessor has handed over its last slot (so no slot is sent to an ended batch); it signals its
    predecessor SIGNAL_MAP_READY first, so slots are never sent before it exists.
    Cancelling the batch (the parent was terminated) cancels every item's run."""

    @workflow.init
    def __init__(self, batch: MapBatch) -> None:
        self.slots = batch.slots
        self.running = 0
        self.launched = False
        self.successor_ready = False
        self.predecessor_done = not batch.predecessor

    @workflow.signal(name=SIGNAL_MAP_SLOTS)
    def take_slots(self, count: int, last: bool) -> None:
        self.slots += count
        self.predecessor_done = self.predecessor_done or last

    @workflow.signal(name=SIGNAL_MAP_READY)
    def successor_started(self) -> None:
        self.successor_ready = True

    @workflow.run
    async def run(self, batch: MapBatch) -> dict[str, Any]:
        results: list[Any] = [None] * len(batch.items)
        failed: list[dict[str, Any]] = []

        async def one(position: int) -> None:
            index, child_id = batch.offset + position, batch.item_id(position)
            try:
                result = await workflow.execute_child_workflow(WORKFLOW_NAME, batch.item_input(position), id=child_id)
                if result["workflowStatus"] == "COMPLETED":
                    results[position] = map_state.result_at(result.get("output"), batch.iterator.get("resultPath"))
                else:
                    failed.append({"index": index, "workflowId": child_id,
                                   "error": result.get("errorMessage") or result["workflowStatus"]})
            except FailureError as error:
                failed.append({"index": index, "workflowId": child_id, "error": _failure_message(error)})
            finally:
                self.running -= 1

        tasks: list[asyncio.Task] = []
        try:
            if batch.predecessor:
                await _signal_batch(batch.predecessor, SIGNAL_MAP_READY, [])
            if batch.successor:
                tasks.append(asyncio.ensure_future(self._hand_over(batch.successor)))
            for position in range(len(batch.items)):
                await workflow.wait_condition(lambda: self.running < self.slots)
                self.running += 1
                tasks.append(asyncio.ensure_future(one(position)))
            self.launched = True
            await asyncio.gather(*tasks)  # the items, and the hand-over until its last slot
            await workflow.wait_condition(lambda: self.predecessor_done)
        except asyncio.CancelledError:  # the parent run was terminated: every item's run ends TERMINATED first
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return {"results": results, "failed": sorted(failed, key=lambda entry: entry["index"])}

    async def _hand_over(self, successor: str) -> None:
        """Give the successor every slot this batch no longer needs, as soon as it is free; the last
        hand-over (all items ended, the predecessor done) says so."""
        await workflow.wait_condition(lambda: self.successor_ready)
        while True:
            await workflow.wait_condition(lambda: self.launched and (self.slots > self.running or self._ended()))
            last = self._ended()
            spare, self.slots = self.slots - self.running, self.running
            await _signal_batch(successor, SIGNAL_MAP_SLOTS, [spare, last])
            if last:
                return

    def _ended(self) -> bool:
        return self.launched and self.running == 0 and self.predecessor_done


async def _signal_batch(workflow_id: str, signal: str, args: list[Any]) -> None:
    """Signal another batch of the same MAP. A batch already cancelled (the run was terminated) ignores it."""
    with contextlib.suppress(FailureError):
        await workflow.get_external_workflow_handle(workflow_id).signal(signal, args=args)
