"""`assignment` of an INSTRUCTION node (spec §11): who works the screen, by when, and what happens if nobody does.

```json
{"group": value component, "user": value component, "dueInSeconds": 3600,
 "escalation": [{"afterSeconds": 1800, "group": value component}, {"afterSeconds": 7200, "user": ...}],
 "timeoutSeconds": 86400, "timeoutNode": "give_up"}
```

Validation here; resolution at execute time (scripts may pick the group). The worker's workflow owns the clock
(escalation and timeout are Temporal timers), the tasks app owns the Task rows.
"""

from __future__ import annotations

import math
from typing import Any

from apps.nodes import checks
from apps.nodes.scope import ScriptScope
from apps.nodes.values import resolve_value, validate_value_component
from core.problems import Problem

FIELDS = ("group", "user", "dueInSeconds", "escalation", "timeoutSeconds", "timeoutNode")
TARGETS = ("group", "user")
MAX_SECONDS = 10 * 365 * 86_400  # ten years: longer is a typo, and Temporal timers want sane values
MAX_ESCALATIONS = 20


def validate(assignment: Any, path: str) -> list[Problem]:
    if assignment is None:
        return []
    if not isinstance(assignment, dict):
        return [Problem(path, "must be an object {group, user, dueInSeconds, escalation, timeoutSeconds, "
                              "timeoutNode}")]
    problems = [Problem(f"{path}.{key}", "is not a known field; one of " + ", ".join(FIELDS))
                for key in assignment if key not in FIELDS]
    problems += _targets(assignment, path, required=False)
    problems += _seconds(assignment, "dueInSeconds", path) + _seconds(assignment, "timeoutSeconds", path)
    problems += checks.string(assignment, "timeoutNode", path)
    if assignment.get("timeoutNode") is not None and assignment.get("timeoutSeconds") is None:
        problems.append(Problem(f"{path}.timeoutSeconds", "is required with timeoutNode"))
    problems += _escalation(assignment.get("escalation"), f"{path}.escalation")
    return problems


def _targets(holder: dict, path: str, *, required: bool) -> list[Problem]:
    problems = []
    for key in TARGETS:
        if holder.get(key) is not None and not isinstance(holder[key], str):
            problems += validate_value_component(holder[key], f"{path}.{key}")
    if required and all(holder.get(key) is None for key in TARGETS):
        problems.append(Problem(f"{path}.group", "group or user is required"))
    return problems


def _seconds(holder: dict, key: str, path: str, *, required: bool = False) -> list[Problem]:
    value = holder.get(key)
    if value is None:
        return [Problem(f"{path}.{key}", "is required")] if required else []
    if not checks.is_number(value) or not math.isfinite(value):
        return [Problem(f"{path}.{key}", "must be a number of seconds")]
    if not 0 < value <= MAX_SECONDS:
        return [Problem(f"{path}.{key}", f"must be greater than 0 and at most {MAX_SECONDS}")]
    return []


def _escalation(steps: Any, path: str) -> list[Problem]:
    if steps is None:
        return []
    if not isinstance(steps, list):
        return [Problem(path, "must be a list of {afterSeconds, group | user}")]
    if len(steps) > MAX_ESCALATIONS:
        return [Problem(path, f"at most {MAX_ESCALATIONS} steps")]
    problems = []
    for index, step in enumerate(steps):
        step_path = f"{path}[{index}]"
        if not isinstance(step, dict):
            problems.append(Problem(step_path, "must be an object {afterSeconds, group | user}"))
            continue
        problems += [Problem(f"{step_path}.{key}", "is not a known field; one of afterSeconds, group, user")
                     for key in step if key not in ("afterSeconds", *TARGETS)]
        problems += _seconds(step, "afterSeconds", step_path, required=True) + _targets(step, step_path, required=True)
    return problems


def resolve(assignment: dict | None, scope: ScriptScope) -> dict[str, Any] | None:
    """The assignment with group/user resolved to names (scripts run now, once per screen)."""
    if not isinstance(assignment, dict):
        return None
    resolved = {key: assignment.get(key) for key in ("dueInSeconds", "timeoutSeconds", "timeoutNode")}
    resolved |= _resolved_targets(assignment, scope, "assignment")
    resolved["escalation"] = sorted(
        ({"afterSeconds": step["afterSeconds"], **_resolved_targets(step, scope, f"assignment.escalation[{index}]")}
         for index, step in enumerate(assignment.get("escalation") or [])),
        key=lambda step: step["afterSeconds"],
    )
    return resolved


def _resolved_targets(holder: dict, scope: ScriptScope, path: str) -> dict[str, str]:
    resolved = {}
    for key in TARGETS:
        value = resolve_value(holder.get(key), scope, field=f"{path}.{key}")
        resolved[key] = "" if value is None else str(value)[:150]
    return resolved
