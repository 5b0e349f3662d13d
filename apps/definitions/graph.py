"""Edges of a workflow definition: pure functions shared by validation, the worker and graph pictures.

No Django imports here: the Temporal workflow sandbox imports this module.
"""

from __future__ import annotations

from typing import Any

from apps.definitions.state_types import state_type_of
from apps.nodes.registry import edges_of


def state_targets(state: dict[str, Any]) -> list[str]:
    """The instances one state can move to: `nextNode` and the edges its node type names (a state type's
    sub-graphs: a PARALLEL state's branches' start nodes)."""
    targets = [state.get("nextNode")] + [edge.target for edge in edges_of(state.get("nodeDefinition"))]
    if (state_type := state_type_of(state)) is not None:
        targets += [start for _, _, start in state_type.branches(state)]
    return [target for target in targets if isinstance(target, str) and target]


def edges(definition: dict[str, Any]) -> dict[str, list[str]]:
    states = definition.get("states") or {}
    return {name: state_targets(state) for name, state in states.items() if isinstance(state, dict)}


def reachable(definition: dict[str, Any]) -> set[str]:
    """States reachable from the start, the failure node and the post-completion nodes."""
    graph = edges(definition)
    roots = [definition.get("startNode"), definition.get("defaultFailureNode")]
    roots += list(definition.get("postWorkflowCompletionNodes") or [])
    seen: set[str] = set()
    stack = [root for root in roots if isinstance(root, str) and root in graph]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(target for target in graph.get(name, []) if target in graph)
    return seen


def disconnected(definition: dict[str, Any]) -> set[str]:
    """States no edge reaches and that are not roots: callable only through the utility endpoint."""
    return set(edges(definition)) - reachable(definition)
