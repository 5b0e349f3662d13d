"""FAILURE: the run ends FAILED with the node's `error` (a string, a `{{path}}` template or a value component).

A fixed `error` is settled by the workflow itself (no activity); reached through `defaultFailureNode`, the
run's errorMessage then keeps the cause: "<error>: <cause>". A computed `error` runs as an activity and is
used as it comes (it may read `_global.errorMessage`)."""

from __future__ import annotations

from typing import Any

from apps.nodes.base import NodeType, Schema, Style, schema_ref
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


def settle(node: dict, name: str, cause: str | None) -> dict | None:
    """The run's end for a fixed `error` (None: a computed one, which needs the context)."""
    error = node.get("error")
    if is_dynamic_error(error):
        return None
    message = f"{error}: {cause}" if error and cause else (error or cause or f"run failed at {name}")
    return {"terminal": "FAILED", "error": message}


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    error = node.get("error")
    if is_value_component(error):
        error = resolve_value(error, scope, field="error")
    elif isinstance(error, str):
        error = render_templates(error, scope)
    if error in (None, ""):
        error = f"the run reached the failure node {node.get('id') or instance.get('instanceName')}"
    return {"terminal": "FAILED", "error": str(error)}


NODE_TYPE = NodeType("FAILURE", validate, execute, terminal=True, settle=settle, in_branch=False, pure=True,
                     style=Style("box", "#ffcdd2", "rounded"),
                     schema=Schema("The run ends FAILED. errorMessage: a computed `error` (value component or {{path}} "
                                   "template) as is; else '<error>: <cause>' after a node error.",
                                   {"error": {"anyOf": [{"type": "string"}, schema_ref("ValueComponent")]}}))
