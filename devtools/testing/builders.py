"""Small builders for DSL documents in tests."""

from __future__ import annotations

from typing import Any


def value(data: Any, kind: str = "SCRIPT", value_type: str = "STRING") -> dict[str, Any]:
    return {"type": kind, "value": {"type": value_type, "data": data}}


def script_node(node_id: str, code: str, parameters: list[str] | None = None) -> dict[str, Any]:
    node = {"id": node_id, "name": node_id, "type": "SCRIPT", "transformer": value(code)}
    if parameters:
        node["parameters"] = parameters
    return node


def branch_node(node_id: str, choices: list[tuple[str, str]], default: str | None = None) -> dict[str, Any]:
    node = {
        "id": node_id, "name": node_id, "type": "BRANCH",
        "choices": [{"rule": value(rule), "nextNode": target} for rule, target in choices],
    }
    if default:
        node["defaultNode"] = default
    return node


def success_node(node_id: str = "done") -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "type": "SUCCESS", "comment": "ok"}


def failure_node(node_id: str = "failed", error: str = "flow failed") -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "type": "FAILURE", "error": error}


def wait_node(node_id: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "type": "WAIT", "config": config}


def instruction_node(node_id: str, options: list[dict[str, Any]] | None = None, **attributes: Any) -> dict[str, Any]:
    node = {"id": node_id, "name": node_id, "type": "INSTRUCTION", "inputOptions": options or []}
    for name, data in attributes.items():
        node[name] = {"attribute": value(data, "STATIC")}
    return node


def child_node(node_id: str, workflow_id: str, mode: str = "SYNC") -> dict[str, Any]:
    return {
        "id": node_id, "name": node_id, "type": "CHILD", "childWorkflowId": workflow_id,
        "childWorkflowVersion": "ACTIVE", "executionMode": mode,
    }


def state(name: str, resource: str | None = None, next_node: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {
        "instanceName": name, "resourceId": resource or name, "resourceVersion": "LATEST", "type": "NODE",
        "nextNode": next_node,
    }
    return body | extra


def workflow(workflow_id: str, start: str, states: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": workflow_id, "startNode": start, "states": {s["instanceName"]: s for s in states},
        "postWorkflowCompletionNodes": [],
    } | extra


def parallel(name: str, branches: list[tuple[str, str]], policy: str | None = None, next_node: str | None = None,
             **extra: Any) -> dict[str, Any]:
    body = {"instanceName": name, "type": "PARALLEL", "nextNode": next_node,
            "branches": [{"name": branch, "startNode": start} for branch, start in branches], **extra}
    return body | ({"failurePolicy": policy} if policy else {})
