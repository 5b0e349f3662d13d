"""Writes of the trials app: running a workflow version's test cases and keeping the report."""

from __future__ import annotations

from apps.definitions.activation import CasesVerdict
from apps.definitions.models import Kind
from apps.definitions.selectors import definition_get, definition_number, workflow_inline_nodes
from apps.definitions.services import definition_save_snapshot
from apps.definitions.versions import SNAPSHOT, VersionSpec
from apps.runs.services import run_limits
from apps.trials.models import TestReport
from apps.trials.runner import run_cases
from core.problems import Problem


def workflow_test(*, tenant: str, key: str, version: VersionSpec, actor: str) -> TestReport:
    """Run every test case of one version (SNAPSHOT included) on the real engine; store and return the report."""
    number = definition_number(tenant=tenant, kind=Kind.WORKFLOW, key=key, version=version)
    body = definition_get(tenant=tenant, kind=Kind.WORKFLOW, key=key, version=number)
    cases = body.get("tests") or []
    runnable = {k: v for k, v in body.items() if k != "tests"}  # the cases travel apart, one per run
    definition = workflow_inline_nodes(tenant=tenant, body=runnable, pin=True, strict=True) if cases else runnable
    reports = run_cases(tenant=tenant, key=key, version=number, definition=definition, limits=run_limits(),
                        cases=cases)
    return TestReport.objects.create(tenant=tenant, workflow_key=key, version=number, actor=actor, cases=reports,
                                     passed=all(case["passed"] for case in reports))


def workflow_cases_verdict(*, tenant: str, key: str, version: int, actor: str) -> CasesVerdict:
    """The activation gate (registered in apps.py): run the version's cases; one problem per failing case."""
    report = workflow_test(tenant=tenant, key=key, version=version, actor=actor)
    failures = [Problem(f"$.tests[{index}]", f"{case['name']}: {case['failure']}")
                for index, case in enumerate(report.cases) if not case["passed"]]
    return CasesVerdict(report_id=report.pk, total=len(report.cases), failures=failures)


def workflow_add_test_case(*, tenant: str, key: str, case: dict, actor: str) -> str:
    """Append `case` to the SNAPSHOT's tests (validated like any save); returns the name it got (made unique)."""
    snapshot = definition_get(tenant=tenant, kind=Kind.WORKFLOW, key=key, version=SNAPSHOT)
    tests = list(snapshot.get("tests") or [])
    names = {existing.get("name") for existing in tests if isinstance(existing, dict)}
    name, counter = case["name"], 1
    while name in names:
        counter += 1
        name = f"{case['name']} ({counter})"
    body = {**snapshot, "tests": [*tests, {**case, "name": name}]}
    definition_save_snapshot(tenant=tenant, kind=Kind.WORKFLOW, body=body, actor=actor, create=False)
    return name
