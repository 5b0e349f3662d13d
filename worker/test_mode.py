"""Test mode of DriftWorkflow (spec §9): the real workflow, driven by a test case instead of the world.

A run whose `RunInput.test` holds a case runs the same interpreter with four differences, each a small hook
in the kind it concerns (worker/kinds/):
- timers and absolute waits take no time (deterministically: they are skipped, not shortened);
- a node with a mock outcome for its instance takes the next one (`{"output"}`, `{"error"}`, or for a type with
  a `call` (HTTP) `{"status", "body"}`, which that call then parses and transforms as a real response); a node
  whose type `must_mock` (HTTP, CHILD) fails the case without one: a test never calls out or starts production runs;
- screens (INSTRUCTION, any outcome with a `view`) take the case's `resumes` in order, events come from its
  `events`; a screen with no resume left ends the test run in WAITING, an awaited event the case does not give
  fails it. A node type's `as_case` fills these from a finished run (apps/trials/from_run.py);
- nothing is persisted: no Run row, context store write, timeline row or webhook. The states the run
  reported and its timeline come back in the workflow result instead.

Plain Python (no Django): imported by workflow code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class TestStopped(Exception):
    """The case has no resume left for the screen the run waits on: the test run ends in WAITING."""

    __test__ = False  # a product class, not a pytest test class


@dataclass
class TestHarness:
    __test__ = False  # a product class, not a pytest test class

    mocks: dict[str, list[dict[str, Any]]]
    resumes: list[dict[str, Any]]
    events: dict[str, Any]
    used: dict[str, int] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    fatal: str | None = None

    @classmethod
    def of(cls, case: dict[str, Any] | None) -> TestHarness | None:
        if case is None:
            return None
        return cls(mocks=dict(case.get("mocks") or {}), resumes=list(case.get("resumes") or []),
                   events=dict(case.get("events") or {}))

    def next_mock(self, instance: str) -> dict[str, Any] | None:
        """The instance's next mock outcome (one per execution, in order), or None when it has none left."""
        outcomes = self.mocks.get(instance) or []
        index = self.used.get(instance, 0)
        if index >= len(outcomes):
            return None
        self.used[instance] = index + 1
        return outcomes[index]

    def unmocked(self, instance: str, node_type: str) -> str:
        """Fail the case: a test run never calls out, nor starts real child runs."""
        count = self.used.get(instance, 0)
        self.fatal = self.fatal or (
            f"{node_type} node {instance} has no mock for execution {count + 1} (the case gives {count}); "
            "test runs make no real calls"
        )
        return self.fatal

    def next_resume(self) -> dict[str, Any] | None:
        return self.resumes.pop(0) if self.resumes else None

    def missing_event(self, instance: str, event_name: str) -> str:
        self.fatal = self.fatal or f"node {instance} waits for event '{event_name}', which the case does not give"
        return self.fatal

    def record(self, status: str, node: str, view: dict[str, Any] | None, timeline: list[dict[str, Any]]) -> None:
        """What a production run would have persisted at this state change."""
        self.timeline.extend(timeline)
        self.states.append({"status": status, "node": node, **({"view": view} if view else {})})

    def report(self) -> dict[str, Any]:
        return {"timeline": self.timeline, "states": self.states, "fatal": self.fatal}
