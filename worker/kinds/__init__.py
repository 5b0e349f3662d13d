"""The kinds of step the walker (worker/workflows.py) hands a state to, one module each, holding no state:

- state kinds, a state type with no node definition (`TYPE`, `run(engine, name, state)`): PARALLEL, MAP;
- the node kind (`node.py`): runs the state's node through its type (apps/nodes) and returns its outcome;
- outcome kinds, what a node's outcome asks for (`FIELD` of the outcome, `DECIDES_NEXT`, `run(engine, name,
  state, outcome, key, parameters)`): a screen (`view`), a wait (`wait`), a child run (`child`).

A kind that can be carried over a continue-as-new inside a PARALLEL branch has `POSITION` (the key of the
carried position) and `resume(engine, name, state, position)`. Each kind's test-mode behaviour (spec §9) lives in
its module. A new kind is one module plus one line here; a state type defined in one module (its `STATE_TYPE`
for the validator and graphs beside its `run`) is one module plus one `register_state` call.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from apps.definitions import state_types
    from apps.definitions.state_types import STATE_TYPES
    from worker.engine import Engine
    from worker.kinds import child, map, parallel, screen, wait

STATE_KINDS: dict[str, ModuleType] = {kind.TYPE: kind for kind in (parallel, map)}
# Every state type the DSL accepts (apps/definitions/state_types.py) has its kind here, and no other.
assert set(STATE_KINDS) == set(STATE_TYPES), (set(STATE_KINDS), set(STATE_TYPES))
OUTCOME_KINDS: tuple[ModuleType, ...] = (screen, wait, child)  # in this order: a screen decides the next node
RESUMABLE: dict[str, ModuleType] = {kind.POSITION: kind for kind in (parallel, wait)}


def register_state(kind: ModuleType) -> None:
    """A state kind (`TYPE`, `run`); with its module's `STATE_TYPE`, that state type too (validator, graphs)."""
    if hasattr(kind, "STATE_TYPE"):
        state_types.register(kind.STATE_TYPE)
    if kind.TYPE not in STATE_TYPES or kind.TYPE in STATE_KINDS:
        raise ValueError(f"state kind {kind.TYPE!r}: no such state type, or already registered")
    STATE_KINDS[kind.TYPE] = kind


def state_kind(state: dict[str, Any]) -> ModuleType | None:
    """The kind that runs a state with no node definition, or None for a node state."""
    name = state.get("type")
    return STATE_KINDS.get(name) if isinstance(name, str) else None  # as state_types.state_type_of


async def resume_at(engine: Engine, position: dict[str, Any]) -> str | None:
    """Take a carried branch up where it stopped (see `HandingOver`); the node to walk on from."""
    name = position["node"]
    for key, kind in RESUMABLE.items():
        if key in position:
            return await kind.resume(engine, name, engine.run.definition["states"][name], position)
    return name  # stopped before this node: it runs now
