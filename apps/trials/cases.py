"""Test cases of a workflow definition (spec §9): how one case's run is judged against its expectations (their
shape is checked with the DSL: apps/definitions/case_validation.py). Pure: no database, no Temporal."""

from __future__ import annotations

from typing import Any

from apps.runs.selectors import NOT_A_STEP
from core.paths import lookup


def case_input(case: dict[str, Any]) -> dict[str, Any]:
    """What the workflow's test mode takes from a case (resumes become resume payloads)."""
    return {"mocks": case.get("mocks") or {}, "events": case.get("events") or {},
            "resumes": [{"viewResponse": response} for response in case.get("resumes") or []]}


def judge(case: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The case's report from its test run's result: pass/fail, the path, the first differing expectation."""
    test = result.get("test") or {}
    timeline = test.get("timeline") or []
    path = [entry["instance"] for entry in timeline if entry.get("outcome") != NOT_A_STEP]
    report = {"name": case["name"], "status": result.get("workflowStatus"), "path": path,
              "errorMessage": result.get("errorMessage"), "states": test.get("states") or [], "timeline": timeline}
    failure = test.get("fatal") or first_difference(case.get("expect") or {}, report, result.get("output") or {})
    return {**report, "passed": failure is None, "failure": failure}


def first_difference(expect: dict[str, Any], report: dict[str, Any], context: dict[str, Any]) -> str | None:
    if "status" in expect and expect["status"] != report["status"]:
        detail = f" ({report['errorMessage']})" if report.get("errorMessage") else ""
        return f"status: expected {expect['status']}, got {report['status']}{detail}"
    if "path" in expect and list(expect["path"]) != report["path"]:
        return _path_difference(list(expect["path"]), report["path"])
    for key, expected in (expect.get("context") or {}).items():
        actual = lookup(context, key)
        if actual != expected:
            return f"context {key}: expected {expected!r}, got {actual!r}"
    return None


def _path_difference(expected: list[str], actual: list[str]) -> str:
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want != got:
            return f"path step {index + 1}: expected {want}, got {got} (path {' > '.join(actual)})"
    if len(expected) > len(actual):
        return f"path: expected {expected[len(actual)]} after {' > '.join(actual) or 'the start'}, the run stopped"
    return f"path: expected the run to stop after {' > '.join(expected)}, it went on to {actual[len(expected)]}"
