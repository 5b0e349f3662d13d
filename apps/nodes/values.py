"""Value components: `{"type": "STATIC"|"SCRIPT", "value": {"type": STRING|JSON|MAP|BOOLEAN, "data": ...}}`.

One validation path and one resolution path, used by every node type.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from apps.nodes.base import NodeError
from apps.nodes.sandbox import ScriptError, compile_problems, evaluate
from core.problems import Problem

if TYPE_CHECKING:
    from apps.nodes.scope import ScriptScope

COMPONENT_TYPES = ("STATIC", "SCRIPT")
VALUE_TYPES = ("STRING", "JSON", "MAP", "BOOLEAN")
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off", ""}


def is_value_component(value: Any) -> bool:
    return isinstance(value, dict) and "type" in value and "value" in value


def is_bare_literal(value: Any) -> bool:
    """A plain string, number, boolean or list given where a value component is allowed (used as-is)."""
    return isinstance(value, str | int | float | bool | list)


def validate_value_component(component: Any, path: str, *, required: bool = True) -> list[Problem]:
    """Problems of one value component at `path` (SCRIPT sources are compiled)."""
    if component is None:
        return [Problem(path, "is required")] if required else []
    if is_bare_literal(component):
        return []  # taken as-is by resolve_value
    if not isinstance(component, dict):
        return [Problem(path, "must be a value component object {type, value} or a bare literal")]
    problems = []
    if component.get("type") not in COMPONENT_TYPES:
        problems.append(Problem(f"{path}.type", f"must be one of {', '.join(COMPONENT_TYPES)}"))
    value = component.get("value")
    if not isinstance(value, dict):
        return [*problems, Problem(f"{path}.value", "must be an object {type, data}")]
    if value.get("type") not in VALUE_TYPES:
        problems.append(Problem(f"{path}.value.type", f"must be one of {', '.join(VALUE_TYPES)}"))
    if "data" not in value:
        return [*problems, Problem(f"{path}.value.data", "is required")]
    if component.get("type") == "SCRIPT":
        problems += _script_problems(value["data"], f"{path}.value.data")
    elif component.get("type") == "STATIC" and value.get("type") in VALUE_TYPES:
        problems += _static_problems(value["type"], value["data"], f"{path}.value.data")
    return problems


def _script_problems(source: Any, path: str) -> list[Problem]:
    if not isinstance(source, str):
        return [Problem(path, "a SCRIPT must be a string")]
    return [Problem(path, f"script does not compile: {error}") for error in compile_problems(source)]


def _static_problems(value_type: str, data: Any, path: str) -> list[Problem]:
    try:
        convert(value_type, data)
    except ValueError as exc:
        return [Problem(path, str(exc))]
    return []


def convert(value_type: str, data: Any) -> Any:
    """Coerce a resolved value to `value.type`; ValueError when it cannot be."""
    if data is None:
        return None
    if value_type == "STRING":
        return str(data) if isinstance(data, int | float) and not isinstance(data, bool) else data
    if value_type == "BOOLEAN":
        return _to_bool(data)
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise ValueError(f"{value_type} value is not valid JSON") from None
    if value_type == "MAP" and not isinstance(data, dict):
        raise ValueError("a MAP value must be an object")
    if value_type == "JSON" and not isinstance(data, dict | list):
        raise ValueError("a JSON value must be an object or a list")
    return data


def _to_bool(data: Any) -> bool:
    if isinstance(data, str):
        text = data.strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ValueError(f"{data!r} is not a boolean")
    return bool(data)


def resolve_value(component: Any, scope: ScriptScope, *, field: str = "value", extra: dict | None = None) -> Any:
    """The value of a component: STATIC data or a SCRIPT's result, converted by a JSON/MAP/BOOLEAN value.type.

    A bare (non-component) value is returned as-is, so plain literals work where components are allowed.
    Failures raise NodeError naming `field`.
    """
    if not is_value_component(component):
        return component
    value = component.get("value") or {}
    data = value.get("data")
    try:
        value_type = value.get("type", "STRING")
        if component.get("type") == "SCRIPT":
            data = evaluate(data, scope.names(**(extra or {})), tenant=scope.tenant)
            if value_type == "STRING":
                # A SCRIPT's STRING is its source text (the samples return objects under it): keep the result as is.
                return data
        return convert(value_type, data)
    except ScriptError as exc:
        raise ScriptError(f"{field}: {exc.message}") from None
    except ValueError as exc:
        raise NodeError(f"{field}: {exc}") from None
