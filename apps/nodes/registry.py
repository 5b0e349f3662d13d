"""Node type registry: `NODE_TYPES` and `validate_node_definition` (used by definitions and the worker).

Plain Python (the workflow imports it). A new type is one module in apps/nodes/types plus one line in
`BUILT_IN`; everything else (workflow, validator, graphs) asks the type (see apps/nodes/base.py)."""

from __future__ import annotations

from typing import NoReturn

from apps.nodes import checks
from apps.nodes.base import Call, Edge, NodeError, NodeType
from apps.nodes.retry import retry_policy_fields
from apps.nodes.scope import ScriptScope
from apps.nodes.types import branch, child, failure, http, instruction, script, success, wait
from core.problems import Problem

BUILT_IN = (http, script, branch, wait, instruction, success, failure, child)
NODE_TYPES: dict[str, NodeType] = {}


def register(node_type: NodeType) -> None:
    """Make a node type known to the validator, the worker and the graphs (a name registers once)."""
    if node_type.name in NODE_TYPES:
        raise ValueError(f"node type {node_type.name!r} is already registered")
    NODE_TYPES[node_type.name] = node_type


for _module in BUILT_IN:
    register(_module.NODE_TYPE)


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


def _unknown(node: dict, *args: object) -> NoReturn:
    raise NodeError(f"unknown node type {node.get('type')!r}")


UNKNOWN = NodeType("?", _unknown, _unknown)


def execute_node(node: dict, instance: dict, scope: ScriptScope) -> dict:
    """Run one node and return its outcome dict (raises NodeError)."""
    return get_node_type(node.get("type")).execute(node, instance or {}, scope)


def mocked_call(node: object) -> Call:
    """The traced call of a type that takes response mocks (see `NodeType.call`); a NodeError for the others."""
    call = kind_of(node).call
    if call is None:
        raise NodeError(f"a {node.get('type') if isinstance(node, dict) else None} node takes no response mock")
    return call


def kind_of(node: object) -> NodeType:
    """The type of a node definition; an unknown one runs as a local activity that fails with the reason."""
    return type_of(node) or UNKNOWN


def type_of(node: object) -> NodeType | None:
    """The type of a node definition (None: not an object, or no known type)."""
    name = node.get("type") if isinstance(node, dict) else None
    return NODE_TYPES.get(name) if isinstance(name, str) else None


def edges_of(node: object) -> list[Edge]:
    """The states a node definition moves to by itself ([] for unknown or malformed nodes)."""
    node_type = type_of(node)
    return node_type.edges(node) if node_type and isinstance(node, dict) else []


def events_of(node: object) -> list[str]:
    """The event names a node definition waits for."""
    node_type = type_of(node)
    return node_type.events(node) if node_type and isinstance(node, dict) else []


def types_where(flag: str) -> list[str]:
    """Names of the types with `flag` set (for messages such as "use HTTP or SCRIPT")."""
    return sorted(name for name, node_type in NODE_TYPES.items() if getattr(node_type, flag))


__all__ = ["NODE_TYPES", "NodeError", "ScriptScope", "edges_of", "events_of", "execute_node", "get_node_type",
           "kind_of", "mocked_call", "register", "retry_policy_fields", "type_of", "types_where",
           "validate_node_definition"]
