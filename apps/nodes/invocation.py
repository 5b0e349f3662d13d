"""What the activity running a node tells the node's type about this execution, and what the type reports back,
without widening every type's `execute` signature: a context variable, set by worker/activities.py around one
node's execution (the activity runs on one thread, so the variable is that execution's alone)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Invocation:
    original_workflow_id: str = ""  # the run a redrive chain began with (the run itself when not a redrive)
    instance: str = ""  # the state's name
    ordinal: int = 0  # the how-manieth execution of this state in the run (1-based; 0: not counted)
    host_wait_ms: float = 0.0  # reported: time spent waiting for a host limit (apps/nodes/host_limits.py)

    def idempotency_key(self) -> str:
        """Stable across the activity's retries (no attempt number) and across a redrive from this node (the
        original run's id; the redrive counts executions from 1 again)."""
        raw = f"{self.original_workflow_id}\x1f{self.instance}\x1f{self.ordinal}"
        return hashlib.sha256(raw.encode()).hexdigest()


_CURRENT: ContextVar[Invocation | None] = ContextVar("drift_node_invocation", default=None)


@contextmanager
def invoked(invocation: Invocation) -> Iterator[Invocation]:
    token = _CURRENT.set(invocation)
    try:
        yield invocation
    finally:
        _CURRENT.reset(token)


def current() -> Invocation | None:
    return _CURRENT.get()
