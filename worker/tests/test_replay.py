"""`manage.py replay`: real histories replay cleanly against the current code; a changed command order is caught."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import CommandError, call_command

from apps.runs.contract import SIGNAL_EVENT, UPDATE_RESUME
from devtools.testing.builders import (
    branch_node,
    instruction_node,
    script_node,
    state,
    success_node,
    wait_node,
)
from devtools.testing.builders import workflow as workflow_body
from devtools.testing.definitions import publish_definitions
from drift.temporal import run_async
from worker.replay import fetch_closed_histories, replay_histories
from worker.tests.reordered import ReorderedWorkflow

pytestmark = pytest.mark.temporal


def _publish_mixed_flows(tenant: str) -> None:
    publish_definitions(
        tenant,
        [script_node("double", "return nodeParameters.n * 2", ["n"]),
         branch_node("route", [("return _global.d > 10", "ask")], default="done"),
         instruction_node("question", [{"id": "choice", "possibleValues": [{"value": "A"}]}]),
         wait_node("pause", waitType="SCHEDULER_WAIT", duration=1, executionMode="ASYNC"),
         wait_node("await_payment", waitType="ON_EVENT", eventName="paid"), success_node()],
        [workflow_body("mixed", "d", [
            state("d", "double", "r", parameters={"n": "$.params.n"}), state("r", "route"),
            state("ask", "question", "p"), state("p", "pause", "e"), state("e", "await_payment", "done"),
            state("done"),
        ])],
    )


def _finished_runs(runs) -> list[str]:
    """Closed runs of every node kind: script chain + branch (both ways), instruction + resume, timer, event."""
    _publish_mixed_flows(runs.tenant)
    short = runs.start("mixed", {"n": 1})
    assert short["workflowStatus"] == "COMPLETED"
    long = runs.start("mixed", {"n": 21})
    assert long["workflowStatus"] == "WAITING"
    runs.signal(long["workflowId"], SIGNAL_EVENT, "paid", {"amount": 3})  # kept until the run reaches the wait
    resumed = runs.update(long["workflowId"], UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"choice": "A"}}})
    assert resumed["workflowStatus"] == "SCHEDULER_WAITING"
    assert runs.result(long["workflowId"])["workflowStatus"] == "COMPLETED"
    return [short["workflowId"], long["workflowId"]]


def _replay_command(*args: str) -> str:
    out = io.StringIO()
    call_command("replay", *args, stdout=out)
    return out.getvalue()


def test_finished_runs_replay_without_nondeterminism(runs):
    workflow_ids = _finished_runs(runs)
    output = _replay_command(*[arg for wid in workflow_ids for arg in ("--workflow-id", wid)])
    for wid in workflow_ids:
        assert f"ok              {wid}" in output
    assert "2 replayed, 0 failed" in output


def test_changed_command_order_is_reported_as_nondeterminism(runs, temporal):
    workflow_ids = _finished_runs(runs)[:1]
    histories = run_async(fetch_closed_histories(temporal, workflow_ids=workflow_ids))
    report = run_async(replay_histories(histories, workflow_class=ReorderedWorkflow))
    assert not report.ok
    [failure] = report.failures
    assert failure.workflow_id == workflow_ids[0] and failure.nondeterminism
    assert run_async(replay_histories(histories)).ok  # the same history against the current code


def test_replay_command_fails_on_nondeterminism(runs):
    workflow_ids = _finished_runs(runs)[:1]
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 replayed, 1 failed"):
        call_command("replay", "--workflow-id", workflow_ids[0], "--workflow-class",
                     "worker.tests.reordered.ReorderedWorkflow", stdout=out)
    assert f"NONDETERMINISM  {workflow_ids[0]}" in out.getvalue()


def test_closed_runs_are_found_through_the_visibility_query(runs):
    workflow_id = _finished_runs(runs)[0]
    deadline = time.monotonic() + 15
    while True:  # visibility is eventually consistent
        output = _replay_command("--query", f"WorkflowId = '{workflow_id}'", "--limit", "5")
        if workflow_id in output or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert f"ok              {workflow_id}" in output
    assert "1 replayed, 0 failed" in output


def test_unknown_workflow_id_is_a_clear_error(worker):
    with pytest.raises(CommandError, match="Temporal refused"):
        _replay_command("--workflow-id", "no-such-run")
