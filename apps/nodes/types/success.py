"""SUCCESS: the run ends COMPLETED."""

from __future__ import annotations

from apps.nodes.base import NodeType
from apps.nodes.scope import ScriptScope
from core.problems import Problem


def validate(node: dict, path: str) -> list[Problem]:
    return []  # `comment` is a common field, checked by the registry


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    return {"terminal": "COMPLETED", "output": {"comment": node.get("comment")}}


NODE_TYPE = NodeType("SUCCESS", validate, execute, local=True)
