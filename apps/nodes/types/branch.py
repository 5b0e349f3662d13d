"""BRANCH: the first choice whose rule is true picks the next instance, else `defaultNode`."""

from __future__ import annotations

from typing import Any

from apps.nodes import checks
from apps.nodes.base import Edge, NodeError, NodeType, Schema, Style, schema_ref
from apps.nodes.scope import ScriptScope
from apps.nodes.values import convert, resolve_value, validate_value_component
from core.problems import Problem


def validate(node: dict, path: str) -> list[Problem]:
    problems = checks.array(node, "choices", path, required=True) + checks.string(node, "defaultNode", path)
    for index, choice in enumerate(found if isinstance(found := node.get("choices"), list) else []):
        at = f"{path}.choices[{index}]"
        if not isinstance(choice, dict):
            problems.append(Problem(at, "must be an object {rule, nextNode}"))
            continue
        problems += validate_value_component(choice.get("rule"), f"{at}.rule")
        problems += checks.string(choice, "nextNode", at, required=True)
    return problems


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    for index, choice in enumerate(node.get("choices") or []):
        field = f"choices[{index}].rule"
        try:
            matched = convert("BOOLEAN", resolve_value(choice.get("rule"), scope, field=field))
        except ValueError as exc:
            raise NodeError(f"{field}: {exc}") from None
        if matched:
            return _to(choice["nextNode"])
    if node.get("defaultNode"):
        return _to(node["defaultNode"])
    raise NodeError("no branch rule matched and the node has no defaultNode")


def _to(target: str) -> dict:
    return {"output": {"nextNode": target}, "nextNode": target}


def edges(node: dict) -> list[Edge]:
    """Each choice's `nextNode` (labelled #1, #2...) and the `defaultNode`."""
    choices = node.get("choices")
    found = [Edge(f"choices[{index}].nextNode", choice.get("nextNode"), f"#{index + 1}")
             for index, choice in enumerate(choices if isinstance(choices, list) else []) if isinstance(choice, dict)]
    if node.get("defaultNode") is not None:
        found.append(Edge("defaultNode", node["defaultNode"], "default"))
    return found


def from_mock(output: Any) -> dict:
    """A mock output `{"nextNode": ...}` picks the branch, as a real choice would."""
    if isinstance(output, dict) and output.get("nextNode"):
        return {"output": output, "nextNode": output["nextNode"]}
    return {"output": output}


NODE_TYPE = NodeType("BRANCH", validate, execute, disconnectable=True, edges=edges, from_mock=from_mock, pure=True,
                     style=Style("diamond", "#fff3c4"),
                     schema=Schema("First true rule picks the next state; else defaultNode.", {
                         "choices": {"type": "array", "items": {
                             "type": "object", "required": ["rule", "nextNode"],
                             "properties": {"rule": schema_ref("ValueComponent"), "nextNode": {"type": "string"}}}},
                         "defaultNode": {"type": "string"},
                     }, ("choices",)))
