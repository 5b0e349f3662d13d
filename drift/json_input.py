"""`refuse_unsafe_json`: the 400 (with the JSON path) for a value that may not enter Drift's data.

Used by the API's parser (every body), the services that store documents (definitions, enum entries: also
reached from the admin and the import commands) and the admin's JSON form fields."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.json_safety import JsonProblem, json_problem
from core.problems import Problem
from drift.errors import InvalidInput


def unsafe_json_problem(value: Any, path: str = "$") -> JsonProblem | None:
    """The first NaN/Infinity, lone surrogate or too-deep nesting under `value`, or None."""
    return json_problem(value, path, max_depth=settings.DRIFT_MAX_JSON_DEPTH)


def refuse_unsafe_json(value: Any, path: str = "$") -> None:
    problem = unsafe_json_problem(value, path)
    if problem is not None:
        raise InvalidInput(f"Invalid JSON value at {problem.path}: {problem.problem}.",
                           [Problem(problem.path, problem.problem)])
