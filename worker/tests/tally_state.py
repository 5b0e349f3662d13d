"""TALLY, a test-only state type: its definition half (`STATE_TYPE`: DSL validation, graph pictures) and its kind
(`run`, workflow code) in one module, registered with one `worker.kinds.register_state` call.

`{"type": "TALLY", "values": "$.params.scores", "nextNode": "done"}` stores `{"count", "total"}` of the numbers
at `values`, computed inside the workflow (deterministic, no activity); anything but a list of numbers fails the
state, so `defaultFailureNode` handles it."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from apps.definitions.state_types import StateType
    from apps.nodes.base import Style
    from core.paths import lookup
    from core.problems import Problem
    from worker.engine import Engine
    from worker.errors import NodeFailed

TYPE = "TALLY"


def validate(name: str, state: dict[str, Any]) -> list[Problem]:
    values = state.get("values")
    if not (isinstance(values, str) and values.startswith("$.")):
        return [Problem(f"$.states.{name}.values", "must be a $.path to a list of numbers")]
    return []


STATE_TYPE = StateType(TYPE, validate, Style("cylinder", "#f3e5f5"), lambda state: f"TALLY of {state.get('values')}")


async def run(engine: Engine, name: str, state: dict[str, Any]) -> str | None:
    values = lookup(engine.run.context, state["values"])
    if not isinstance(values, list) or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                               for v in values):
        message = f"TALLY {name}: {state['values']} is not a list of numbers"
        engine.record(name, TYPE, "FAILURE", message)
        raise NodeFailed(message)
    engine.run.context[state.get("contextOverrideKey") or name] = {"count": len(values), "total": sum(values)}
    engine.record(name, TYPE, "SUCCESS")
    return state.get("nextNode")
