"""CHILD: start another workflow (SYNC waits for it, ASYNC moves on); the worker does the starting."""

from __future__ import annotations

from apps.nodes import checks
from apps.nodes.base import NodeType, Schema, Style
from apps.nodes.scope import ScriptScope
from core.problems import Problem

MODES = ("SYNC", "ASYNC")
VERSION_ALIASES = ("ACTIVE", "LATEST")


def validate(node: dict, path: str) -> list[Problem]:
    problems = checks.string(node, "childWorkflowId", path, required=True)
    problems += checks.one_of(node, "executionMode", path, MODES)
    version = node.get("childWorkflowVersion")
    if version is not None and _version(version) is None:
        problems.append(Problem(f"{path}.childWorkflowVersion", "must be ACTIVE, LATEST or a version number"))
    return problems


def _version(value: object) -> str | int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        if value.upper() in VERSION_ALIASES:
            return value.upper()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    version = _version(node.get("childWorkflowVersion") or "ACTIVE")
    return {"child": {"workflowId": node["childWorkflowId"], "version": version,
                      "mode": node.get("executionMode") or "SYNC"}}


# A test case must mock it: a test never starts production runs.
SCHEMA = Schema("Starts another workflow; its params are this state's resolved parameters.", {
    "childWorkflowId": {"type": "string"},
    "childWorkflowVersion": {"anyOf": [{"enum": list(VERSION_ALIASES)}, {"type": "integer", "minimum": 1},
                                       {"type": "string", "pattern": "^[0-9]+$"}]},
    "executionMode": {"enum": list(MODES)},
}, ("childWorkflowId",))
NODE_TYPE = NodeType("CHILD", validate, execute, must_mock=True, closes_segment=True, style=Style("box3d", "#fce4ec"),
                     schema=SCHEMA)
