"""FAILURE: the run ends FAILED with the node's `error`."""

from __future__ import annotations

from apps.nodes import checks
from apps.nodes.base import NodeType
from apps.nodes.scope import ScriptScope
from drift.errors import Problem


def validate(node: dict, path: str) -> list[Problem]:
    return checks.string(node, "error", path)


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    error = node.get("error") or f"the run reached the failure node {node.get('id') or instance.get('instanceName')}"
    return {"terminal": "FAILED", "error": error}


NODE_TYPE = NodeType("FAILURE", validate, execute, local=True)
