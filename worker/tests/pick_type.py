"""PICK, a test-only node type: the whole type in one module (tests register it with one line).

`{"type": "PICK", "key": "$.params.colour", "routes": {"red": "stop", "green": "go"}, "otherwise": "wait"}`
moves to the route named by the value at `key`, else to `otherwise`."""

from __future__ import annotations

from apps.nodes import checks
from apps.nodes.base import Edge, NodeError, NodeType, Style
from apps.nodes.scope import ScriptScope
from core.problems import Problem


def validate(node: dict, path: str) -> list[Problem]:
    problems = checks.string(node, "key", path, required=True) + checks.obj(node, "routes", path, required=True)
    return problems + checks.string(node, "otherwise", path)


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    picked = scope.lookup(node["key"])
    target = node["routes"].get(str(picked), node.get("otherwise"))
    if not target:
        raise NodeError(f"no route for {picked!r} and no otherwise")
    return {"output": {"picked": picked}, "nextNode": target}


def edges(node: dict) -> list[Edge]:
    routes = node.get("routes") if isinstance(node.get("routes"), dict) else {}
    found = [Edge(f"routes.{value}", target, value) for value, target in routes.items()]
    return found + ([Edge("otherwise", node["otherwise"], "otherwise")] if node.get("otherwise") else [])


NODE_TYPE = NodeType("PICK", validate, execute, disconnectable=True, edges=edges, style=Style("cds", "#fffde7"))
