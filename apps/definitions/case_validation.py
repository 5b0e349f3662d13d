"""The shape of a workflow's test cases (spec §9, `tests` in the DSL), checked with the rest of the document.
Running and judging them is the trials app's (apps/trials/cases.py): it sits above this one."""

from __future__ import annotations

from typing import Any

from apps.nodes import checks, registry
from core.problems import Problem

EXPECTED_STATUSES = ("COMPLETED", "FAILED", "TERMINATED", "WAITING", "DELEGATED", "ASYNC_COMPLETE")
OUTCOME_KINDS = ("output", "error", "status")


def validate_tests(tests: Any, node_types: dict[str, str | None]) -> list[Problem]:
    """Problems of a workflow's `tests` list; `node_types` maps each state to its node type (None if unknown)."""
    if tests is None:
        return []
    if not isinstance(tests, list):
        return [Problem("$.tests", "must be a list of test cases")]
    problems, names = [], set()
    for index, case in enumerate(tests):
        path = f"$.tests[{index}]"
        if not isinstance(case, dict):
            problems.append(Problem(path, "must be an object {name, start, mocks, resumes, events, expect}"))
            continue
        problems += checks.string(case, "name", path, required=True)
        if case.get("name") in names:
            problems.append(Problem(f"{path}.name", f"'{case['name']}' names another case too"))
        names.add(case.get("name") if isinstance(case.get("name"), str) else None)
        for key in ("start", "events", "expect", "mocks"):
            problems += checks.obj(case, key, path)
        problems += checks.array(case, "resumes", path)
        if isinstance(case.get("resumes"), list):
            problems += [Problem(f"{path}.resumes[{i}]", "must be a viewResponse object")
                         for i, item in enumerate(case["resumes"]) if not isinstance(item, dict)]
        if isinstance(case.get("mocks"), dict):
            problems += _mock_problems(case["mocks"], f"{path}.mocks", node_types)
        if isinstance(case.get("expect"), dict):
            problems += _expect_problems(case["expect"], f"{path}.expect", node_types)
    return problems


def _mock_problems(mocks: dict, path: str, node_types: dict[str, str | None]) -> list[Problem]:
    problems = []
    for instance, outcomes in mocks.items():
        at = f"{path}.{instance}"
        if instance not in node_types:
            problems.append(Problem(at, f"'{instance}' is not a state of this workflow"))
            continue
        if not isinstance(outcomes, list):
            problems.append(Problem(at, "must be a list of outcomes, one per execution"))
            continue
        for index, outcome in enumerate(outcomes):
            problems += _outcome_problems(outcome, f"{at}[{index}]", node_types[instance])
    return problems


def _outcome_problems(outcome: Any, path: str, node_type: str | None) -> list[Problem]:
    kinds = [kind for kind in OUTCOME_KINDS if isinstance(outcome, dict) and kind in outcome]
    if len(kinds) != 1:
        return [Problem(path, 'must be one of {"output": value}, {"error": message} or {"status": code, "body"}')]
    if kinds == ["error"]:
        return checks.string(outcome, "error", path)
    if kinds == ["status"]:
        known = registry.NODE_TYPES.get(node_type) if isinstance(node_type, str) else None
        if node_type is not None and not (known and known.response_mocks):
            needed = " or ".join(registry.types_where("response_mocks"))
            return [Problem(f"{path}.status", f"a response mock needs an {needed} node, not {node_type}")]
        status = outcome["status"]
        if not (isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599):
            return [Problem(f"{path}.status", "must be an HTTP status code (100-599)")]
    return []


def _expect_problems(expect: dict, path: str, node_types: dict[str, str | None]) -> list[Problem]:
    problems = checks.one_of(expect, "status", path, EXPECTED_STATUSES)
    problems += checks.array(expect, "path", path) + checks.obj(expect, "context", path)
    for index, name in enumerate(expect.get("path") if isinstance(expect.get("path"), list) else []):
        if name not in node_types:
            problems.append(Problem(f"{path}.path[{index}]", f"{name!r} is not a state of this workflow"))
    return problems
