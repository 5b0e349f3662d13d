"""Node type registry: `NODE_TYPES` and `validate_node_definition` (used by definitions and the worker)."""

from __future__ import annotations

from apps.nodes import checks
from apps.nodes.base import NodeError, NodeType
from apps.nodes.retry import retry_policy_fields
from apps.nodes.scope import ScriptScope
from apps.nodes.types import branch, child, failure, http, instruction, script, success, wait
from core.problems import Problem

NODE_TYPES: dict[str, NodeType] = {
    module.NODE_TYPE.name: module.NODE_TYPE
    for module in (http, script, branch, wait, instruction, success, failure, child)
}


def validate_node_definition(node: dict, path: str) -> list[Problem]:
    """Every problem of one node definition (common fields and its type's fields), with JSON paths."""
    if not isinstance(node, dict):
        return [Problem(path, "must be an object")]
    problems = checks.string(node, "id", path, required=True) + checks.string(node, "name", path)
    problems += checks.string(node, "comment", path)
    parameters = node.get("parameters")
    if parameters is not None and not (isinstance(parameters, list) and all(isinstance(p, str) for p in parameters)):
        problems.append(Problem(f"{path}.parameters", "must be a list of parameter names"))
    node_type = node.get("type")
    if node_type is None:
        return [*problems, Problem(f"{path}.type", "is required")]
    if not isinstance(node_type, str) or node_type not in NODE_TYPES:  # a list or object is no type (nor hashable)
        return [*problems, Problem(f"{path}.type", f"unknown node type {node_type!r}; one of {', '.join(NODE_TYPES)}")]
    return problems + NODE_TYPES[node_type].validate(node, path)


def get_node_type(name: object) -> NodeType:
    node_type = NODE_TYPES.get(name) if isinstance(name, str) else None
    if node_type is None:
        raise NodeError(f"unknown node type {name!r}")
    return node_type


def execute_node(node: dict, instance: dict, scope: ScriptScope) -> dict:
    """Run one node and return its outcome dict (raises NodeError)."""
    return get_node_type(node.get("type")).execute(node, instance or {}, scope)


def is_local(node: dict) -> bool:
    """Whether the worker may run this node as a local activity (CPU-only types)."""
    name = node.get("type")
    node_type = NODE_TYPES.get(name) if isinstance(name, str) else None
    return node_type.local if node_type else True


__all__ = ["NODE_TYPES", "NodeError", "ScriptScope", "execute_node", "get_node_type", "is_local",
           "retry_policy_fields", "validate_node_definition"]
