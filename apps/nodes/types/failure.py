"""FAILURE: the run ends FAILED with the node's `error` (a string, a `{{path}}` template or a value component).

Reached through `defaultFailureNode`, the run's errorMessage keeps the cause (see `failure_message`)."""

from __future__ import annotations

from typing import Any

from apps.nodes.base import NodeType
from apps.nodes.scope import ScriptScope
from apps.nodes.types.instruction import render_templates
from apps.nodes.values import is_value_component, resolve_value, validate_value_component
from core.problems import Problem


def validate(node: dict, path: str) -> list[Problem]:
    error = node.get("error")
    if error is None or isinstance(error, str):
        return []
    if isinstance(error, dict):
        return validate_value_component(error, f"{path}.error")
    return [Problem(f"{path}.error", "must be a string, a {{path}} template or a value component")]


def is_dynamic_error(error: Any) -> bool:
    """Whether the error is computed from the context (the worker then runs this node as an activity)."""
    return is_value_component(error) or (isinstance(error, str) and "{{" in error)


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    error = node.get("error")
    if is_value_component(error):
        error = resolve_value(error, scope, field="error")
    elif isinstance(error, str):
        error = render_templates(error, scope)
    if error in (None, ""):
        error = f"the run reached the failure node {node.get('id') or instance.get('instanceName')}"
    return {"terminal": "FAILED", "error": str(error)}


NODE_TYPE = NodeType("FAILURE", validate, execute, local=True)
