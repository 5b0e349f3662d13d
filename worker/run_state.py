"""The per-run state of DriftWorkflow: the carried part (`Carry`, handed over by continue-as-new) and what lives
only as long as one Temporal run. Plain data: the engine (worker/engine.py) and the kinds (worker/kinds/) change
it; kinds keep none of their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from apps.runs.contract import Carry, PersistRequest, RunInput
    from worker.test_mode import TestHarness


@dataclass(kw_only=True)
class RunState(Carry):
    inp: RunInput
    handover_due: bool = False  # a continue-as-new is due: PARALLEL branches stop at their next node boundary
    releasing_callers: bool = False  # continue-as-new pending: callers waiting for a stable state are answered now
    waiting_for: str | None = None  # "INSTRUCTION" or "EVENT:<name>" (the state query; the resume validator)
    screen_input: dict[str, Any] | None = None  # the resume payload the waiting screen takes
    terminate_reason: str | None = None
    aborted: bool = False  # the state could not be stored: the run ended FAILED (see Engine.abort)
    task: dict[str, Any] | None = None  # the open human task of the current screen (spec §11)
    harness: TestHarness | None = None  # None unless this is a test run (spec §9)
    pending: PersistRequest | None = None  # the deferred RUNNING state (Engine.running), stored by the next activity
    # (engine level 4) the seq and digest of the run's end a segment's activity stored (worker/run_end.py): the
    # walker applies the segment whole and the run's final persist stores nothing when it matches.
    stored_end: tuple[int, str, str] | None = None  # seq, digest, when a state settled after it is recorded
    engine_level: int = 0  # the run's engine level (worker/versions.py), asked where each Temporal run starts
    # The local activities' results the current workflow task records when it completes (Engine.local_result).
    task_length: int = 0  # the history length that workflow task started at
    task_results: int = 0
    task_bytes: int = 0
    task_ms: float = 0.0

    @classmethod
    def of(cls, inp: RunInput) -> RunState:
        state = cls(inp=inp, harness=TestHarness.of(inp.test), **Carry.fields_of(inp.carry, inp.workflow_key))
        if state.harness is not None:  # a test case's events are there from the start
            state.events = {**state.harness.events, **state.events}
        return state

    @property
    def testing(self) -> bool:
        return self.harness is not None
