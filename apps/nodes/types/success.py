"""SUCCESS: the run ends COMPLETED. The workflow settles it itself (no activity)."""

from __future__ import annotations

from apps.nodes.base import NodeType, Schema, Style
from apps.nodes.scope import ScriptScope
from core.problems import Problem


def validate(node: dict, path: str) -> list[Problem]:
    return []  # `comment` is a common field, checked by the registry


def settle(node: dict, name: str, cause: str | None) -> dict:
    return {"terminal": "COMPLETED"}


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    return settle(node, instance.get("instanceName") or "", None)


NODE_TYPE = NodeType("SUCCESS", validate, execute, terminal=True, settle=settle, in_branch=False,
                     style=Style("box", "#c8e6c9", "rounded"),
                     schema=Schema("The run ends COMPLETED.", {"comment": {"type": "string"}}))
