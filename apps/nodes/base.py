"""The NodeType contract and the node error. Plain Python: workflow code may import it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apps.nodes.scope import ScriptScope
    from core.problems import Problem


class NodeError(Exception):
    """A node failed. `retryable` tells the worker whether Temporal may retry the activity."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "retryable": self.retryable}


Validator = Callable[[dict, str], "list[Problem]"]
Executor = Callable[[dict, dict, "ScriptScope"], dict]


@dataclass(frozen=True)
class NodeType:
    """One node type. `local` types are CPU-only: the worker runs them as local activities."""

    name: str
    validate: Validator
    execute: Executor
    local: bool = True
