"""The registry of state types that reference no node definition (PARALLEL, MAP): what the DSL validator, the
graph renderer and the walker (worker/kinds/, keyed by the same names) ask about a state instead of naming one.
A new state type is one module (validation here, its kind in worker/kinds/) plus one line in `STATE_TYPES`.
Pure Python: the workflow imports it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.definitions import map_state, parallel
from apps.nodes.base import Style
from core.problems import Problem


def _no_branches(state: dict[str, Any]) -> list[tuple[int, str, Any]]:
    return []


def _map_label(state: dict[str, Any]) -> str:
    iterator = state.get("iterator") if isinstance(state.get("iterator"), dict) else {}
    return f"MAP of {iterator.get('workflowId')}"


@dataclass(frozen=True)
class StateType:
    name: str
    validate: Callable[[str, dict[str, Any]], list[Problem]]  # (state name, state) -> problems with paths
    style: Style  # graph pictures
    label: Callable[[dict[str, Any]], str]  # the graph node's type line
    # (index, label, start state) of the sub-graphs it starts (PARALLEL branches): edges, checked and drawn
    branches: Callable[[dict[str, Any]], list[tuple[int, str, Any]]] = _no_branches


STATE_TYPES: dict[str, StateType] = {
    parallel.PARALLEL: StateType(parallel.PARALLEL, parallel.validate_state,
                                 Style("parallelogram", "#fff8e1", "bold"), lambda state: parallel.PARALLEL,
                                 parallel.branches),
    map_state.MAP: StateType(map_state.MAP, map_state.validate_state, Style("folder", "#e0f2f1", "bold"), _map_label),
}


def state_type_of(state: Any) -> StateType | None:
    """The state's own type, or None for a NODE state (or anything that is not a state)."""
    return STATE_TYPES.get(state.get("type")) if isinstance(state, dict) else None
