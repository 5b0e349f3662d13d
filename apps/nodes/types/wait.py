"""WAIT: timers, absolute sleeps and events; the workflow turns the outcome into Temporal timers/conditions."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from apps.nodes import checks
from apps.nodes.base import CasePart, Execution, NodeError, NodeType, Schema, Style, schema_ref
from apps.nodes.scope import ScriptScope
from apps.nodes.values import is_value_component, resolve_value, validate_value_component
from core.problems import Problem

WAIT_TYPES = ("SCHEDULER_WAIT", "ABSOLUTE_WAIT", "ON_EVENT")
MODES = ("SYNC", "ASYNC")


def validate(node: dict, path: str) -> list[Problem]:
    problems = checks.obj(node, "config", path, required=True)
    if problems:
        return problems
    config: dict = node["config"]  # an object: checked above
    at = f"{path}.config"
    problems = checks.one_of(config, "waitType", at, WAIT_TYPES, required=True)
    wait_type = config.get("waitType")
    if wait_type == "SCHEDULER_WAIT":
        problems += _number_or_component(config, "duration", at)
        problems += checks.one_of(config, "executionMode", at, MODES)
    elif wait_type == "ABSOLUTE_WAIT":
        problems += _timestamp_or_component(config, at)
    elif wait_type == "ON_EVENT":
        problems += checks.string(config, "eventName", at, required=True)
        problems += checks.number(config, "timeoutSeconds", at, positive=True)
    return problems


def _number_or_component(config: dict, key: str, path: str) -> list[Problem]:
    if is_value_component(config.get(key)):
        return validate_value_component(config[key], f"{path}.{key}")
    return checks.number(config, key, path, required=True)


def _timestamp_or_component(config: dict, path: str) -> list[Problem]:
    value = config.get("timestamp")
    if is_value_component(value):
        return validate_value_component(value, f"{path}.timestamp")
    try:
        parse_timestamp(value)
    except ValueError as exc:
        return [Problem(f"{path}.timestamp", str(exc))]
    return []


def parse_timestamp(value: Any) -> float:
    """ISO-8601 (UTC when no offset) or epoch seconds -> epoch seconds."""
    if checks.is_number(value):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an ISO-8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    config = node.get("config") or {}
    wait_type = config.get("waitType")
    if wait_type == "SCHEDULER_WAIT":
        seconds = resolve_value(config.get("duration"), scope, field="config.duration")
        if not checks.is_number(seconds) and not (isinstance(seconds, str) and _is_float(seconds)):
            raise NodeError(f"config.duration: {seconds!r} is not a number of seconds")
        return {"wait": {"type": "TIMER", "seconds": _bounded(max(float(seconds), 0.0), "config.duration"),
                         "mode": config.get("executionMode") or "ASYNC"}}
    if wait_type == "ABSOLUTE_WAIT":
        value = resolve_value(config.get("timestamp"), scope, field="config.timestamp")
        try:
            until = parse_timestamp(value)
        except ValueError as exc:
            raise NodeError(f"config.timestamp: {exc}") from None
        _bounded(until - time.time(), "config.timestamp")
        return {"wait": {"type": "ABSOLUTE", "until": until}}
    if wait_type == "ON_EVENT":
        return {"wait": {"type": "EVENT", "eventName": config.get("eventName"),
                         "timeoutSeconds": config.get("timeoutSeconds")}}
    raise NodeError(f"unknown waitType {wait_type!r}")


def _bounded(seconds: float, field: str) -> float:
    """A wait the workflow can turn into a timer (a far larger one would overflow and wedge the run)."""
    if not seconds <= checks.NUMBER_MAXIMUM:
        raise NodeError(f"{field}: a wait of {seconds:g} seconds is longer than {checks.NUMBER_MAXIMUM:g}")
    return seconds


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def events(node: dict) -> list[str]:
    """An ON_EVENT wait awaits its `eventName`."""
    config = found if isinstance(found := node.get("config"), dict) else {}
    return [config["eventName"]] if config.get("waitType") == "ON_EVENT" and config.get("eventName") else []


def as_case(execution: Execution) -> CasePart:
    """The event an ON_EVENT wait consumed (kept at `<key>:event`) becomes one of the case's events."""
    names, stored = events(execution.node), f"{execution.key}:event"
    return CasePart(events={names[0]: execution.context[stored]}) if names and stored in execution.context \
        else CasePart()


SCHEMA = Schema("Pauses the run (durable timer or event).", {
    "config": {"type": "object", "required": ["waitType"], "properties": {
        "waitType": {"enum": list(WAIT_TYPES)},
        "duration": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, schema_ref("ValueComponent")]},
        "executionMode": {"enum": list(MODES)},
        "timestamp": {"anyOf": [{"type": "string"}, {"type": "number"}, schema_ref("ValueComponent")]},
        "eventName": {"type": "string"}, "timeoutSeconds": {"type": "number", "exclusiveMinimum": 0}}},
}, ("config",))
NODE_TYPE = NodeType("WAIT", validate, execute, events=events, as_case=as_case, closes_segment=True,
                     style=Style("hexagon", "#ede7f6"), schema=SCHEMA)
