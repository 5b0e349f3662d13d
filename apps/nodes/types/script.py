"""SCRIPT (Drift's GROOVY node): the output is the transformer's return value."""

from __future__ import annotations

from apps.nodes.base import NodeType, Schema, Style, schema_ref
from apps.nodes.scope import ScriptScope
from apps.nodes.values import resolve_value, validate_value_component
from core.problems import Problem


def validate(node: dict, path: str) -> list[Problem]:
    return validate_value_component(node.get("transformer"), f"{path}.transformer")


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    return {"output": resolve_value(node.get("transformer"), scope, field="transformer")}


NODE_TYPE = NodeType("SCRIPT", validate, execute, disconnectable=True, after_completion=True, pure=True,
                     style=Style("box", "#f5f5f5"),
                     schema=Schema("Output = the script's return value (Drift's GROOVY node; Python here).",
                                   {"transformer": schema_ref("ValueComponent")}, ("transformer",)))
