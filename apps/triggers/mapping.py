"""Mappings of triggers (spec §13): from an inbound event `{body, headers, query}` to a start body or search keys.

A value is a `$.`-path into the event (`$.body.data.id`, `$.headers.x-shop`, `$.query.ref`), `{"literal": x}`,
or any other JSON value taken as it is. Plain Python: validated when a trigger is saved, applied per event.
"""

from __future__ import annotations

import re
from typing import Any

from core.paths import find
from core.problems import Problem

ROOTS = ("body", "headers", "query")
# Start-body fields a mapping key may set (dotted keys set nested fields: `params.orderRef`, `customer.id`).
START_KEYS = ("issueDetail", "customer", "orderDetails", "params", "config", "incidentId", "workflowId")
_SEGMENT = re.compile(r"[^\s.]{1,200}")
_MISSING = object()
MAX_ENTRIES = 100


class MissingPath(Exception):
    """The event has no value at `path`; the event fails naming it."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def is_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$.")


def path_problem(value: str, where: str) -> Problem | None:
    """Why `value` is not a usable event path (`$.<body|headers|query>[.segment...]`), or None."""
    segments = value[2:].split(".")
    if segments[0] not in ROOTS:
        return Problem(where, f"must start with $.body, $.headers or $.query, not '{value[:60]}'")
    if len(value) > 500 or not all(_SEGMENT.fullmatch(segment) for segment in segments):
        return Problem(where, f"is not a valid path: '{value[:60]}' (dot-separated names, no empty parts)")
    return None


def value_problems(value: Any, where: str) -> list[Problem]:
    if is_path(value):
        problem = path_problem(value, where)
        return [problem] if problem else []
    if isinstance(value, dict) and "literal" in value and set(value) != {"literal"}:
        return [Problem(where, 'a literal is {"literal": value} with no other key')]
    return []


def mapping_problems(mapping: Any, where: str, *, keys: tuple[str, ...] | None) -> list[Problem]:
    """Problems of a mapping object; `keys` limits the first part of each key (None: any key)."""
    if not isinstance(mapping, dict):
        return [Problem(where, "must be a JSON object")]
    if len(mapping) > MAX_ENTRIES:
        return [Problem(where, f"has more than {MAX_ENTRIES} entries")]
    problems = []
    for key, value in mapping.items():
        at = f"{where}.{key}"
        first = key.split(".")[0]
        if not key or not all(key.split(".")) or len(key) > 200:
            problems.append(Problem(at, "is not a valid field name"))
        elif keys is not None and first not in keys:
            problems.append(Problem(at, f"is not a start-body field ({', '.join(keys)})"))
        elif keys is not None and "." in key and first in ("incidentId", "workflowId"):
            problems.append(Problem(at, f"'{first}' is a string field: it has no parts"))
        problems += value_problems(value, at)
    return problems


def event_value(event: dict[str, Any], value: Any) -> Any:
    """The mapped value of one entry for `event` (raises MissingPath)."""
    if is_path(value):
        found = find(event, value[2:], _MISSING)
        if found is _MISSING:
            raise MissingPath(value)
        return found
    if isinstance(value, dict) and set(value) == {"literal"}:
        return value["literal"]
    return value


def apply(mapping: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The object the mapping builds: dotted keys become nested objects (`params.a` -> {"params": {"a": ...}})."""
    built: dict[str, Any] = {}
    for key, value in mapping.items():
        *parents, last = key.split(".")
        target = built
        for part in parents:
            nested = target.get(part)
            target = target.setdefault(part, {}) if isinstance(nested, dict) or nested is None else {}
        target[last] = event_value(event, value)
    return built


def apply_flat(mapping: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Each key to its mapped value, keys kept as they are (search keys: `param.orderRef`)."""
    return {key: event_value(event, value) for key, value in mapping.items()}
