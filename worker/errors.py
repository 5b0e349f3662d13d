"""How a step of the walk ends other than by moving on: exceptions the engine and the kinds raise, and the
reading of Temporal failures. Workflow-side: no Django."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from core.json_safety import printable


class Terminated(Exception):
    """A terminate request arrived: the run ends TERMINATED wherever it is (a wait, an activity, a child)."""


class RunAborted(Exception):
    """The run's state could not be stored (see `Engine.abort`): the run has ended FAILED wherever it was."""


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

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node  # the node that failed when it is not the state the walker handed over (a segment's)


def failure_message(error: BaseException) -> str:
    """The innermost failure's message: what the node actually said, not the SDK wrapper's."""
    while isinstance(error, FailureError) and error.cause is not None:
        error = error.cause
    # printable: a script may raise with a lone surrogate in its message, which no store would take.
    return printable(error.message if isinstance(error, FailureError) else str(error))


def failed_with(error: BaseException | None, failure_type: str) -> bool:
    """Whether an ApplicationError of `failure_type` is in the failure's cause chain."""
    while isinstance(error, FailureError):
        if isinstance(error, ApplicationError) and error.type == failure_type:
            return True
        error = error.cause
    return False
