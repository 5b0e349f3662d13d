"""What every step of a run uses: storing state changes, the timeline, terminate and hand-over checks, answers.

`Engine` wraps one run's `RunState`; the walker (worker/workflows.py) and the kinds (worker/kinds/) call it. It
issues the same Temporal commands, in the same order, as when this code lived in DriftWorkflow.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from apps.runs.contract import ACTIVITY_PERSIST_RUN, UNPERSISTABLE, PersistRequest
    from core.json_safety import scrubbed
    from worker.errors import RunAborted, Terminated, failed_with, failure_message
    from worker.run_end import answer, closed_task, digest, masked, timeline_row
    from worker.run_state import RunState

LOCAL_ACTIVITY_TIMEOUT = timedelta(seconds=60)
END_DIFFERS = "run-end-differs"  # `-<seq>`: recorded where a segment's stored end was not the run's (_end_differs)
# Node errors say themselves whether they are retryable (ApplicationError.non_retryable).
LOCAL_RETRY = RetryPolicy(maximum_attempts=3)
PERSIST_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
# What one workflow task may record of local activities' results before it ends (engine level 3): its completion
# carries them all (Temporal's server takes a few MB per request), history grows only when it completes, and the
# run's signals and updates (a terminate, an event) wait for it: so it also ends after about a second of nodes.
TASK_RESULTS = 100
TASK_BYTES = 1024 * 1024
TASK_NODE_MS = 1000

# The PARALLEL branch the current task walks ("" on the main path): each branch is an asyncio task with its
# own copy of the context, so timeline rows say where they ran without threading it through every call.
LANE: contextvars.ContextVar[str] = contextvars.ContextVar("lane", default="")

# Runs the state at a node name (the walker's `_execute`): PARALLEL branches walk through it.
Execute = Callable[..., Coroutine[Any, Any, str | None]]
# Takes a carried branch up at its position (worker/kinds: `resume_at`); the node to walk on from.
ResumeAt = Callable[["Engine", dict[str, Any]], Coroutine[Any, Any, str | None]]


def meta_since(started_at: datetime) -> dict[str, Any]:
    return {"startedAt": started_at.isoformat(), "durationMs": (workflow.now() - started_at).total_seconds() * 1000}


def _end_differs(request: PersistRequest, stored_digest: str) -> bool:
    """Whether the end a segment stored is not this request (engine level 4). The answer is recorded (a patch
    marker, only where it differs), and a replay takes the recorded one without comparing: a later build that
    shapes a state change otherwise must not turn a run's recorded end into another command. One patch id per
    state change (its seq): the SDK remembers a patch's first answer for the whole run, and a replay asks at
    every stored end, where the original run asked only at the one that differed."""
    patch = f"{END_DIFFERS}-{request.seq}"
    if workflow.unsafe.is_replaying():
        return workflow.patched(patch)
    return digest(request) != stored_digest and workflow.patched(patch)


class Engine:
    def __init__(self, run: RunState, execute: Execute, resume: ResumeAt) -> None:
        self.run = run
        self.execute = execute
        self._resume = resume

    async def resume_at(self, position: dict[str, Any]) -> str | None:
        return await self._resume(self, position)

    # ----------------------------------------------------------------- state changes
    async def stable(self, status: str) -> None:
        self.run.status = status
        await self.persist(stable=True, notify=True)

    async def running(self) -> None:
        """RUNNING again after a resume. From engine level 2 the state change is not stored by a local activity of
        its own: the next local node or segment activity stores it before its node runs (`carry_pending`), and
        anything else (a persist, a remote node, a state kind, a hand-over) stores it first (`flush`). Only on the
        main path: a PARALLEL branch's persist must not overtake another branch's carried one."""
        self.run.status = "RUNNING"
        run = self.run
        if run.engine_level >= 2 and run.harness is None and not LANE.get():
            await self.flush()
            run.pending = self._request(notify=False)
            return
        await self.persist(stable=False, notify=False)

    async def finish(self, status: str, error: str | None = None) -> None:
        if error is not None:
            self.run.error = error
        self.run.waiting_for = None
        await self.stable(status)

    async def persist(self, *, stable: bool, notify: bool) -> int:
        """Store the state; returns its seq (a concurrent PARALLEL branch may have moved `seq` on since)."""
        run = self.run
        await self.flush()  # a deferred RUNNING state first: the writer never goes backwards
        ended, run.stored_end = run.stored_end, None
        reserved = ended is not None and run.seq == ended[0]  # nothing stored since the segment reserved it
        request = self._request(notify=notify, reuse_seq=reserved)
        if run.harness is not None:  # a test run persists nothing: its report keeps the states
            run.harness.record(run.status, run.current_node, run.view, request.timeline)
        elif not reserved:
            await self._store(request)
        elif ended is not None and _end_differs(request, ended[1]):
            # The segment stored another state under this seq (never expected): the run's own goes after it.
            workflow.logger.warning("the segment's stored end differs from the run's; storing the run's")
            run.seq += 1
            await self._store(dataclasses.replace(request, seq=run.seq, response={**request.response, "seq": run.seq}))
        if stable:
            run.stable_seq = max(run.stable_seq, request.seq)
        return request.seq

    def _request(self, *, notify: bool, reuse_seq: bool = False) -> PersistRequest:
        """The state change to store, with the next seq (`reuse_seq`: the one a segment reserved for the run's end);
        the timeline rows and a closed task move into it."""
        run = self.run
        if not reuse_seq:
            run.seq += 1
        # Ended while its screen waited (a cancelled child, an aborted run): the persist closes the task, so a run
        # whose persist carries no task has none open (apps/tasks: task_record).
        run.task = closed_task(run.task, run.status)
        request = PersistRequest(
            workflow_id=workflow.info().workflow_id, seq=run.seq, status=run.status, current_node=run.current_node,
            context=run.context, response=self.response(), timeline=run.timeline, notify=notify,
            tenant=run.inp.tenant, task=run.task, sensitive_paths=self.sensitive_paths(),
        )
        run.timeline = []
        if run.task is not None and run.task["state"] != "OPEN":
            run.task = None  # closed by this persist
        return request

    async def _store(self, request: PersistRequest) -> None:
        try:
            # Shielded: a cancelled PARALLEL branch must not drop a state change half-way.
            await asyncio.shield(workflow.execute_local_activity(
                ACTIVITY_PERSIST_RUN, request, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PERSIST_RETRY,
            ))
            self.local_result(0, 0)
        except FailureError as error:  # a local activity's failure may arrive unwrapped
            if not failed_with(error, UNPERSISTABLE) or self.run.aborted:
                raise
            await self.abort(failure_message(error))

    # ----------------------------------------------------------------- the deferred RUNNING state (engine 2)
    async def flush(self) -> None:
        """Store the deferred RUNNING state now (before anything that is not a local node's activity)."""
        request, self.run.pending = self.run.pending, None
        if request is not None:
            await self._store(request)

    def carry_pending(self) -> PersistRequest | None:
        """Hand the deferred RUNNING state to the local activity about to run (it stores it first)."""
        request, self.run.pending = self.run.pending, None
        return request

    async def carried(self, request: PersistRequest | None, call: Awaitable[Any], whole: bool = False) -> Any:
        """Await a local activity that carries `request`. When it fails or is given up (terminate), the state
        is stored again on its own: a retry of the same seq changes nothing if the activity stored it, and a
        state that can never be stored ends the run as any persist does (`abort`). `whole`: a terminate does not
        give it up (a segment that may store the run's end: its pure nodes are short)."""
        awaited = call if whole else self.unless_terminated(call)
        if request is None:
            return await awaited
        try:
            return await awaited
        except BaseException:
            await self._store(request)
            raise

    async def abort(self, message: str) -> None:
        """A persist that can never succeed (the state holds NaN, a lone surrogate...) ends the run FAILED
        with that message, the offending values nulled so that the end itself is stored, then unwinds."""
        run = self.run
        run.aborted = True
        run.context, run.view = scrubbed(run.context), scrubbed(run.view)
        run.status, run.error, run.waiting_for = "FAILED", message, None
        await self.persist(stable=True, notify=True)
        raise RunAborted

    def record(self, name: str, node_type: str, outcome: str, error: str = "", meta: dict | None = None) -> None:
        self.run.recorded += 1
        self.run.timeline.append(timeline_row(self.run.recorded, name, node_type, outcome, error, meta or {},
                                              workflow.now().isoformat(), LANE.get()))

    # ----------------------------------------------------------------- local results per workflow task (engine 3)
    def local_result(self, size: int, milliseconds: float) -> None:
        """Count a local activity's result (`size`: its outputs' JSON bytes; `milliseconds`: how long its nodes ran,
        as their results say, so a replay counts the same) into the workflow task recording it."""
        self._this_task()
        self.run.task_results += 1
        self.run.task_bytes += size
        self.run.task_ms += milliseconds

    def _this_task(self) -> None:
        run, length = self.run, workflow.info().get_current_history_length()
        if length != run.task_length:  # a new workflow task: the earlier results are in history now
            run.task_length, run.task_results, run.task_bytes, run.task_ms = length, 0, 0, 0.0

    async def task_room(self) -> None:
        """Before a local activity (engine level 3): end a workflow task that holds many local results already, or
        has run its nodes for a second, with a 1 ms timer. Local activities never end one themselves (Core does only
        past 80 % of its timeout), and since short remote nodes run locally a loop of them and scripts would
        otherwise record everything in one completion, which Temporal's server refuses past a few MB (the run would
        be stuck), and keep a terminate or an event waiting up to 8 s."""
        if self.run.engine_level < 3:
            return
        self._this_task()
        run = self.run
        if run.task_results >= TASK_RESULTS or run.task_bytes >= TASK_BYTES or run.task_ms >= TASK_NODE_MS:
            await workflow.sleep(timedelta(milliseconds=1))

    # ----------------------------------------------------------------- terminate and hand-over
    async def unless_terminated(self, call: Awaitable[Any]) -> Any:
        """Await `call`, but give up on it when a terminate arrives meanwhile."""
        task = asyncio.ensure_future(call)
        try:
            await workflow.wait_condition(lambda: task.done() or self.stopping())
        except asyncio.CancelledError:  # its PARALLEL branch was cancelled: so is the call
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            self.raise_if_terminated()
        return task.result()

    def stopping(self) -> bool:
        return self.run.terminate_reason is not None or self.run.aborted

    def raise_if_terminated(self) -> None:
        if self.run.aborted:
            raise RunAborted
        if self.run.terminate_reason is not None:
            raise Terminated

    def handover_is_due(self) -> bool:
        """Whether to continue as new before history grows large. Once due, it stays due for this run:
        PARALLEL branches that notice it stop at their next node boundary, and waiting ones wake up."""
        if not self.run.handover_due:
            info = workflow.info()
            limit = self.run.limits.get("historyEvents", 10_000)
            length = info.get_current_history_length()
            if self.run.engine_level >= 3:  # with the markers this workflow task will add (see task_room)
                self._this_task()
                length += self.run.task_results
            self.run.handover_due = info.is_continue_as_new_suggested() or length > limit
        return self.run.handover_due

    def over_node_limit(self) -> str | None:
        """The loop guard, the same on the main path and in branches: the message once `maxNodes` nodes ran."""
        if self.run.executed >= self.run.limits.get("maxNodes", 1000):
            return f"node limit exceeded: more than {self.run.limits.get('maxNodes')} nodes"
        return None

    # ----------------------------------------------------------------- answers
    def sensitive_paths(self) -> list[str]:
        own = list(self.run.definition.get("sensitivePaths") or [])
        return own + [path for path in self.run.inp.sensitive_paths if path not in own]  # a rerun's: see RunInput

    def masked(self, value: Any) -> Any:
        """`value` with the run's sensitive values masked: answers, the mirror and webhooks never carry them."""
        return masked(value, self.run.context, self.sensitive_paths())

    def response(self) -> dict[str, Any]:
        run = self.run
        return answer(workflow_id=workflow.info().workflow_id, incident_id=run.inp.incident_id or None,
                      status=run.status, disposition=run.disposition, error=run.error, view=run.view,
                      current_node=run.current_node, key=run.key, version=run.version, seq=run.seq,
                      context=run.context, sensitive_paths=self.sensitive_paths())

    def result(self) -> dict[str, Any]:
        output = {k: v for k, v in self.run.context.items() if k != "nodeParameters"}
        result = {**self.response(), "output": output}
        if self.run.harness is not None:
            report = self.run.harness.report()
            result["test"] = {**report, "timeline": report["timeline"] + self.run.timeline}
        return result
