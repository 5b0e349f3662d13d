"""The run context store interface shared by the `sql` and `hbase` backends."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from core.json_safety import json_problem


class UnstorableContext(ValueError):
    """The context holds a value that is not storable JSON (NaN, Infinity, a lone surrogate)."""


@dataclass(frozen=True)
class StoredContext:
    workflow_id: str
    context: dict
    current_node: str
    status: str
    seq: int
    created_at: datetime
    updated_at: datetime


class ContextStore(abc.ABC):
    """One stored context per run, written by the worker at every state change.

    `seq` is the workflow's state sequence. Writes never go backwards: a write whose seq is lower
    than or equal to the stored one is ignored (equal = an activity retry of the same write), so
    retries and a racing disconnected-node write can neither duplicate nor lose an update.
    """

    def save(self, workflow_id: str, *, context: dict, current_node: str, status: str, seq: int,
             checked: bool = False) -> bool:
        """Store the context unless a write with seq >= `seq` is already stored; True if written. `checked`: the
        caller has already refused what JSON cannot hold in this context (the persist activity walks the whole
        state once, before sealing; sealing adds only ciphertext strings)."""
        if seq < 0:  # HBase cell timestamps (= seq) cannot be negative; both backends refuse it alike
            raise ValueError(f"seq must be >= 0, not {seq}")
        problem = None if checked else json_problem(context, "$.context")
        if problem is not None:  # json.dumps would write NaN / surrogates that no JSON reader takes back
            raise UnstorableContext(f"{problem.path} {problem.problem}")
        return self._save(workflow_id, context=context, current_node=current_node, status=status, seq=seq)

    @abc.abstractmethod
    def _save(self, workflow_id: str, *, context: dict, current_node: str, status: str, seq: int) -> bool:
        """The backend's save; `seq` is valid."""

    @abc.abstractmethod
    def load(self, workflow_id: str) -> StoredContext | None:
        """The newest stored context of the run, or None."""

    @abc.abstractmethod
    def delete(self, workflow_id: str) -> None:
        """Remove the run's context (no error if absent)."""
