"""Schemathesis over /api/schema/, in-process through the WSGI app: no generated request gets a 500."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from apps.clients.services import api_key_create
from apps.runs.tests.rest import start_order

pytestmark = pytest.mark.temporal


def _import_all_of(package) -> None:
    """Import every submodule now, at collection. pytest rewrites (compiles) schemathesis' modules, a plugin,
    on import; done lazily mid-test it raced compiles in worker threads, which CPython 3.11.7 turns into
    "SystemError: AST constructor recursion depth mismatch"."""
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        try:
            importlib.import_module(module.name)
        except ImportError:  # optional integrations whose libraries are not installed
            continue


_import_all_of(schemathesis)

MAX_EXAMPLES = 12


def _auth_headers(tenant: str) -> dict[str, str]:
    _, raw_key = api_key_create(tenant=tenant, client_id="fuzz", scopes=["runtime", "definitions"])
    return {"Authorization": f"Api-Key {raw_key}", "X-Tenant-Id": tenant, "X-Client-Id": "fuzz"}


def _server_errors(operation, headers: dict[str, str], mode: GenerationMode, **fixed) -> list[str]:
    found: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, headers=headers, **fixed))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    def probe(case) -> None:
        response = case.call()
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (AssertionError, FailureGroup):  # collect every failure, report them together
            found.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

    try:
        probe()
    except Unsatisfiable:  # nothing of this operation can be made invalid (no parameters, no body)
        assert mode == GenerationMode.NEGATIVE, f"{operation.method} {operation.path}: no valid request generated"
    return found


def _run_operations_last_terminate(operations: list) -> list:
    return sorted(operations, key=lambda op: "terminate" in op.path)


def test_fuzzed_requests_never_get_a_server_error(api, samples, tenant, settings):
    settings.DRIFT_SYNC_TIMEOUT_SECONDS = 2  # a generated start that does run must not hold the test long
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    headers = _auth_headers(tenant)
    errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/v3/workflow/start" for op in operations)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            errors += _server_errors(operation, headers, mode)
    # Fuzzed bodies against a real WAITING run reach Temporal (resume, events, disconnected nodes, terminate).
    waiting = start_order(api, "1").json()["workflowId"]
    for operation in _run_operations_last_terminate([op for op in operations if "{workflow_id}" in op.path]):
        errors += _server_errors(operation, _auth_headers(tenant), GenerationMode.POSITIVE,
                                 path_parameters={"workflow_id": waiting})
    _delete_fuzzed_schedules()
    assert errors == []


def _delete_fuzzed_schedules() -> None:
    """Generated schedules would go on firing in Temporal for the rest of the session."""
    from apps.runs.models import Schedule
    from apps.runs.schedules import schedule_delete

    for row in Schedule.objects.all():
        schedule_delete(row)


def test_definition_api_rejects_a_non_ascii_version_number(api, db):
    assert api.get("/nodeDefinition/anything?version=%C2%B2").status_code == 400
