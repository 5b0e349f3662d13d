"""INSTRUCTION: builds the View (§2.4) a client renders; the run then waits for a resume."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from apps.nodes import assignment, checks
from apps.nodes.base import CasePart, Edge, Execution, NodeType, Schema, Style, schema_ref
from apps.nodes.scope import ScriptScope
from apps.nodes.values import is_bare_literal, resolve_value, validate_value_component
from core.problems import Problem

ATTRIBUTES = ("layoutId", "disposition", "workflowStatus")
TEMPLATE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


# --- validate -------------------------------------------------------------------------------


def validate(node: dict, path: str) -> list[Problem]:
    problems = checks.array(node, "inputOptions", path)
    for index, option in enumerate(found if isinstance(found := node.get("inputOptions"), list) else []):
        problems += _validate_option(option, f"{path}.inputOptions[{index}]")
    for key in ATTRIBUTES:
        problems += _validate_attribute(node.get(key), f"{path}.{key}")
    return problems + assignment.validate(node.get("assignment"), f"{path}.assignment")


def _validate_attribute(value: Any, path: str) -> list[Problem]:
    if value is None or is_bare_literal(value):
        return []  # a bare literal is the attribute's value as-is
    if not isinstance(value, dict) or "attribute" not in value:
        return [Problem(path, 'must be {"attribute": value component} or a bare literal')]
    return validate_value_component(value["attribute"], f"{path}.attribute")


def _validate_option(option: Any, path: str) -> list[Problem]:
    if not isinstance(option, dict):
        return [Problem(path, "must be an Option object")]
    # An Option that only names possibleDynamicValues is a placeholder for the Options found there.
    problems = checks.string(option, "id", path, required="possibleDynamicValues" not in option)
    for key in ("parentId", "description", "possibleDynamicValues"):
        problems += checks.string(option, key, path)
    problems += checks.obj(option, "tags", path) + checks.array(option, "possibleValues", path)
    problems += checks.array(option, "instructions", path) + checks.obj(option, "possibleDependentValues", path)
    tags = option.get("tags")
    if isinstance(tags, dict) and not _list_of(tags.get("values", []), str):
        problems.append(Problem(f"{path}.tags.values", "must be a list of strings"))
    if isinstance(option.get("possibleValues"), list) and not _list_of(option["possibleValues"], dict):
        problems.append(Problem(f"{path}.possibleValues", "must be a list of objects {displayValue, value, metaData}"))
    for index, instruction in enumerate(found if isinstance(found := option.get("instructions"), list) else []):
        problems += _validate_instruction(instruction, f"{path}.instructions[{index}]")
    dependents = option.get("possibleDependentValues")
    for parent_value, dependent in (dependents.items() if isinstance(dependents, dict) else []):
        problems += _validate_option(dependent, f"{path}.possibleDependentValues.{parent_value}")
    return problems


def _validate_instruction(instruction: Any, path: str) -> list[Problem]:
    if not isinstance(instruction, dict):
        return [Problem(path, "must be an object {templateId, templateVariables}")]
    return checks.string(instruction, "templateId", path) + checks.obj(instruction, "templateVariables", path)


def _list_of(values: Any, kind: type) -> bool:
    return isinstance(values, list) and all(isinstance(v, kind) for v in values)


# --- execute --------------------------------------------------------------------------------


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    view = {
        "layoutId": _attribute(node, "layoutId", scope),
        "inputOptions": [built for option in node.get("inputOptions") or [] for built in _options(option, scope)],
    }
    return {"output": None, "view": view, "disposition": _attribute(node, "disposition", scope),
            "workflowStatus": _attribute(node, "workflowStatus", scope),
            "assignment": assignment.resolve(node.get("assignment"), scope)}


def _attribute(node: dict, key: str, scope: ScriptScope) -> Any:
    holder = node.get(key)
    if not isinstance(holder, dict):
        return holder
    return resolve_value(holder.get("attribute"), scope, field=f"{key}.attribute")


def _options(option: dict, scope: ScriptScope) -> list[dict]:
    """The Options an inputOptions entry stands for. As in the original Drift, an entry naming
    `possibleDynamicValues` is replaced by the list of Options at that `_global` path (so the original's
    single such entry makes the whole inputOptions); a missing or non-list value gives no Options."""
    dynamic_path = option.get("possibleDynamicValues")
    if not dynamic_path:
        return [_build_option(option, scope)]
    dynamic = scope.lookup(dynamic_path)
    return [_build_option(item, scope) for item in dynamic if isinstance(item, dict)] if isinstance(dynamic, list) \
        else []


def _build_option(option: dict, scope: ScriptScope) -> dict:
    """A copy of the Option with templates resolved (recursively)."""
    built = copy.deepcopy(option)
    for instruction in built.get("instructions") or []:
        if isinstance(instruction, dict) and isinstance(instruction.get("templateVariables"), dict):
            instruction["templateVariables"] = render_templates(instruction["templateVariables"], scope)
    dependents = built.get("possibleDependentValues")
    if isinstance(dependents, dict):
        built["possibleDependentValues"] = {key: _build_option(value, scope) if isinstance(value, dict) else value
                                            for key, value in dependents.items()}
    return built


def render_templates(value: Any, scope: ScriptScope) -> Any:
    """Resolve `{{dotted.path}}` in every string of `value` against `_global` (missing -> "").

    A string that is exactly one placeholder takes the referenced value as-is (numbers, objects).
    """
    if isinstance(value, dict):
        return {key: render_templates(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render_templates(item, scope) for item in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = TEMPLATE.fullmatch(value.strip())
    if whole:
        found = scope.lookup(whole.group(1))
        return "" if found is None else found
    return TEMPLATE.sub(lambda match: _as_text(scope.lookup(match.group(1))), value)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def edges(node: dict) -> list[Edge]:
    """A screen with an `assignment` goes to its `timeoutNode` when nobody answers in time."""
    task = node.get("assignment")
    if isinstance(task, dict) and task.get("timeoutNode") is not None:
        return [Edge("assignment.timeoutNode", task["timeoutNode"], "timeout")]
    return []


def as_case(execution: Execution) -> CasePart:
    """The screen's answer (the run kept its viewResponse) becomes the case's next resume."""
    answer = execution.context.get(f"{execution.key}:viewResponse")
    return CasePart(resume=answer) if isinstance(answer, dict) else CasePart()


NODE_TYPE = NodeType("INSTRUCTION", validate, execute, disconnectable=True, edges=edges, in_branch=False,
                     as_case=as_case, closes_segment=True,
                     style=Style("note", "#e1f5fe"),
                     schema=Schema("Builds a View; the run waits for a resume.", {
                         "inputOptions": {"type": "array", "items": schema_ref("Option")},
                         **{key: schema_ref("Attribute") for key in ATTRIBUTES}}))
