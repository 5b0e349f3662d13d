"""`manage.py rerun`: a failed run, once its cause is fixed, starts again with its original input and completes."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from apps.definitions.models import Kind
from apps.definitions.services import definition_sync, enum_entry_set
from apps.runs.contract import UPDATE_TERMINATE, UPDATE_WAIT_STABLE
from apps.runs.models import Run
from devtools.testing.builders import instruction_node, script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions

pytestmark = pytest.mark.temporal


def _rerun(*args: str) -> dict[str, str]:
    """old workflow id -> new one, as the command prints them."""
    out = io.StringIO()
    call_command("rerun", *args, stdout=out)
    return dict(line.split(" -> ") for line in out.getvalue().splitlines())


def _priced_flow(tenant: str, code: str) -> None:
    publish_definitions(
        tenant, [script_node("price", code, ["n"]), success_node()],
        [workflow("priced", "p", [state("p", "price", "done", parameters={"n": "$.params.n"}), state("done")])],
    )


def test_run_failing_on_a_missing_enum_entry_completes_when_rerun_after_the_fix(runs, tenant):
    _priced_flow(tenant, "return nodeParameters.n * _enum_store.discount.rate")
    failed = runs.start("priced", {"n": 5})
    assert failed["workflowStatus"] == "FAILED"

    enum_entry_set(tenant=tenant, key="discount", value={"rate": 3}, actor="tests")
    new_id = _rerun(failed["workflowId"])[failed["workflowId"]]

    result = runs.result(new_id)
    assert result["workflowStatus"] == "COMPLETED"
    assert result["output"]["p"] == 15  # the original params came along
    assert Run.objects.get(workflow_id=new_id).start_request == Run.objects.get(
        workflow_id=failed["workflowId"]).start_request


def test_failed_run_completes_when_rerun_after_a_fixed_version_is_activated(runs, tenant):
    _priced_flow(tenant, "return 1 / 0")
    failed = runs.start("priced", {"n": 2})
    assert failed["workflowStatus"] == "FAILED"

    definition_sync(tenant=tenant, kind=Kind.NODE, body=script_node("price", "return nodeParameters.n + 1", ["n"]),
                    actor="tests")
    new_id = _rerun(failed["workflowId"])[failed["workflowId"]]

    result = runs.result(new_id)
    assert (result["workflowStatus"], result["output"]["p"]) == ("COMPLETED", 3)


def _ask_flow(tenant: str) -> None:
    publish_definitions(
        tenant, [instruction_node("ask", [{"id": "x"}]), success_node()],
        [workflow("ask", "q", [state("q", "ask", "done"), state("done")])],
    )


def test_unfinished_runs_are_refused_and_nothing_is_started(runs, tenant):
    _ask_flow(tenant)
    waiting, terminated = (runs.start("ask")["workflowId"] for _ in range(2))
    assert runs.update(terminated, UPDATE_TERMINATE, "test")["workflowStatus"] == "TERMINATED"
    before = Run.objects.count()
    with pytest.raises(CommandError, match=f"{waiting}: is WAITING, not finished") as refused:
        _rerun(terminated, waiting, "no-such-run")
    assert "no-such-run: no such run" in str(refused.value)
    assert Run.objects.count() == before

    new_id = _rerun(terminated)[terminated]
    assert runs.update(new_id, UPDATE_WAIT_STABLE, 0)["workflowStatus"] == "WAITING"  # the rerun asks again


def test_completed_run_is_rerun_only_when_asked(runs, tenant):
    _priced_flow(tenant, "return nodeParameters.n")
    completed = runs.start("priced", {"n": 1})["workflowId"]
    with pytest.raises(CommandError, match="ended COMPLETED; only FAILED, TERMINATED runs are rerun"):
        _rerun(completed)
    new_id = _rerun(completed, "--status", "COMPLETED")[completed]
    assert runs.result(new_id)["workflowStatus"] == "COMPLETED"
    with pytest.raises(CommandError, match="--status takes final statuses"):
        _rerun(completed, "--status", "RUNNING")
