"""The registry of state types that reference no node definition (PARALLEL, MAP): what the DSL validator, the
graph renderer and the walker (worker/kinds/, keyed by the same names) ask about a state instead of naming one.
A built-in state type is validated here (the web process must know it without the worker) and run by its kind
in worker/kinds/, one line in each registry; a state type defined in one module (its `STATE_TYPE` beside its
kind's `run`, as worker/tests/tally_state.py) registers both with `worker.kinds.register_state`, one line.
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
    iterator = found if isinstance(found := state.get("iterator"), dict) else {}
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


def register(state_type: StateType) -> None:
    """Make a state type known to the DSL validator, graph pictures and the walker's kind registry."""
    if state_type.name in STATE_TYPES or state_type.name == "NODE":
        raise ValueError(f"state type {state_type.name!r} is already registered")
    STATE_TYPES[state_type.name] = state_type


def state_type_of(state: Any) -> StateType | None:
    """The state's own type, or None for a NODE state (or anything that is not a state)."""
    name = state.get("type") if isinstance(state, dict) else None
    return STATE_TYPES.get(name) if isinstance(name, str) else None
