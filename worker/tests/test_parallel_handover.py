"""Continue-as-new inside PARALLEL states (spec §8, issue 10): a long loop in a branch hands the run over
to new Temporal runs while its sibling branches wait; each state's progress is carried and resumed.

A low `DRIFT_HISTORY_EVENT_LIMIT` forces the hand-overs; the HTTP node makes the history grow (since engine level
3 it runs as a local activity with the nodes after it, one marker a round, and the hand-over check counts the
markers its workflow task will add). Every test waits until the run has continued as new at least twice while the
PARALLEL state was running, which the old code (hand-overs between main-path states only) never did."""

from __future__ import annotations

import time
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHistory

from apps.runs.contract import SIGNAL_EVENT, UPDATE_TERMINATE
from apps.runs.models import NodeExecution
from devtools.testing.builders import (
    branch_node,
    parallel,
    script_node,
    state,
    success_node,
    value,
    wait_node,
    workflow,
)
from devtools.testing.definitions import publish_definitions
from drift.temporal import run_async
from worker.replay import replay_histories

pytestmark = pytest.mark.temporal

LOOPS = 40  # each round: count (SCRIPT) -> ping (HTTP) -> check (BRANCH); a few rounds per run at 20 events


@pytest.fixture
def loop_nodes(settings, httpserver) -> list[dict[str, Any]]:
    settings.DRIFT_HISTORY_EVENT_LIMIT = 20
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/ping").respond_with_json({"pong": True})
    return [
        script_node("inc", "return (_global.counter or 0) + 1"), script_node("boom", "return 1 / 0"),
        script_node("tail", "return 'tail'"), script_node("one", "return 1"),
        branch_node("more", [(f"return _global.counter < {LOOPS}", "count")], default="fin"),
        {"id": "ping", "name": "ping", "type": "HTTP",
         "httpComponents": {"url": value(httpserver.url_for("/ping"), "STATIC"), "method": "GET"}},
        wait_node("hold", waitType="ON_EVENT", eventName="go"),
        wait_node("hold2", waitType="ON_EVENT", eventName="go2", timeoutSeconds=3600),
        success_node(),
    ]


def loop_states(start: str = "count", fin: str = "tail") -> list[dict[str, Any]]:
    """A branch that loops LOOPS rounds, then ends at `fin` (keyed `fin`)."""
    return [state(start, "inc", "ping", contextOverrideKey="counter"), state("ping", "ping", "check"),
            state("check", "more"), state("fin", fin, contextOverrideKey="fin")]


def chain(temporal: Client, workflow_id: str) -> list[WorkflowHistory]:
    """The histories of every Temporal run of the workflow id, oldest first (followed back from the latest)."""

    async def histories() -> list[WorkflowHistory]:
        found = [await temporal.get_workflow_handle(workflow_id).fetch_history()]
        while previous := found[0].events[0].workflow_execution_started_event_attributes.continued_execution_run_id:
            found.insert(0, await temporal.get_workflow_handle(workflow_id, run_id=previous).fetch_history())
        return found

    return run_async(histories())


def handed_over(temporal: Client, workflow_id: str, times: int, within: float = 90) -> int:
    """Wait (bounded) until the run has continued as new `times` times; how many runs it has had."""
    deadline = time.monotonic() + within
    while (count := len(chain(temporal, workflow_id))) <= times and time.monotonic() < deadline:
        time.sleep(0.3)
    return count


def rows(workflow_id: str) -> list[tuple[str, str, str]]:
    executions = NodeExecution.objects.filter(run__workflow_id=workflow_id).order_by("seq")
    return list(executions.values_list("instance_name", "outcome", "lane"))


def statuses(ends: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {branch: end["status"] for branch, end in ends.items()}


def assert_replays(temporal: Client, workflow_id: str) -> None:
    report = run_async(replay_histories(chain(temporal, workflow_id)))
    assert report.ok, [outcome.error for outcome in report.failures]


def test_a_looping_branch_hands_over_while_its_sibling_waits_for_an_event(runs, tenant, temporal, loop_nodes):
    publish_definitions(tenant, loop_nodes, [workflow("loop", "p", [
        parallel("p", [("loop", "count"), ("waits", "h")], "WAIT_ALL", "done"),
        *loop_states(), state("h", "hold2"), state("done"),
    ])])
    started = runs.start("loop", timeout=60)
    assert started["workflowStatus"] in {"WAITING", "RUNNING"}  # RUNNING when a hand-over came first
    workflow_id = started["workflowId"]
    assert handed_over(temporal, workflow_id, 2) > 2, "the run never continued as new inside the PARALLEL state"
    runs.signal(workflow_id, SIGNAL_EVENT, "go2", {"ok": True})
    result = runs.result(workflow_id, timeout=120)
    assert result["workflowStatus"] == "COMPLETED"
    output = result["output"]
    assert (output["counter"], output["fin"], output["h:event"]) == (LOOPS, "tail", {"ok": True})
    assert statuses(output["p"]) == {"loop": "COMPLETED", "waits": "COMPLETED"}
    timeline = rows(workflow_id)
    assert [name for name, _, _ in timeline].count("count") == LOOPS
    assert [row for row in timeline if row[0] == "h"] == [("h", "SUCCESS", "p/waits")]  # waited once, not redone
    assert {lane for name, _, lane in timeline if name in {"count", "ping", "check", "fin"}} == {"p/loop"}
    assert [row for row in timeline if row[0] in {"p", "done"}] == [("p", "SUCCESS", ""), ("done", "SUCCESS", "")]
    assert_replays(temporal, workflow_id)


def test_nested_parallel_states_are_carried_with_their_branches(runs, tenant, temporal, loop_nodes):
    publish_definitions(tenant, loop_nodes, [workflow("nest", "p", [
        parallel("p", [("inner", "q"), ("waits", "h2"), ("quick", "g1")], "WAIT_ALL", "done"),
        parallel("q", [("loop", "count"), ("waits", "h")], "WAIT_ALL"),
        *loop_states(), state("h", "hold", "after"), state("after", "one", contextOverrideKey="after"),
        state("h2", "hold2"), state("g1", "one"), state("done"),
    ])])
    workflow_id = runs.start("nest", timeout=60)["workflowId"]
    assert handed_over(temporal, workflow_id, 2) > 2, "the run never continued as new inside the PARALLEL state"
    runs.signal(workflow_id, SIGNAL_EVENT, "go", {"inner": True})
    runs.signal(workflow_id, SIGNAL_EVENT, "go2", {"outer": True})
    result = runs.result(workflow_id, timeout=120)
    assert result["workflowStatus"] == "COMPLETED", result["errorMessage"]
    output = result["output"]
    assert statuses(output["q"]) == {"loop": "COMPLETED", "waits": "COMPLETED"}
    assert statuses(output["p"]) == {"inner": "COMPLETED", "waits": "COMPLETED", "quick": "COMPLETED"}
    assert (output["counter"], output["h:event"], output["h2:event"]) == (LOOPS, {"inner": True}, {"outer": True})
    assert (output["after"], output["g1"]) == (1, 1)
    lanes = {name: lane for name, _, lane in rows(workflow_id)}
    assert lanes == {"count": "p/inner > q/loop", "ping": "p/inner > q/loop", "check": "p/inner > q/loop",
                     "fin": "p/inner > q/loop", "h": "p/inner > q/waits", "after": "p/inner > q/waits",
                     "q": "p/inner", "h2": "p/waits", "g1": "p/quick", "p": "", "done": ""}
    assert [name for name, _, _ in rows(workflow_id)].count("q") == 1
    assert_replays(temporal, workflow_id)


def test_fail_fast_after_a_hand_over_cancels_the_waiting_branch(runs, tenant, temporal, loop_nodes):
    publish_definitions(tenant, loop_nodes, [workflow("fast", "p", [
        parallel("p", [("loop", "count"), ("waits", "h")], "FAIL_FAST", "done"),
        *loop_states(fin="boom"), state("h", "hold", "after"), state("after", "one", contextOverrideKey="after"),
        state("done"),
    ])])
    workflow_id = runs.start("fast", timeout=60)["workflowId"]
    result = runs.result(workflow_id, timeout=120)
    assert len(chain(temporal, workflow_id)) > 2, "the run never continued as new inside the PARALLEL state"
    assert result["workflowStatus"] == "FAILED"
    assert result["errorMessage"].startswith("PARALLEL p: branch loop failed: node fin failed")
    output = result["output"]
    assert output["counter"] == LOOPS
    assert output["p"]["waits"] == {"status": "CANCELLED", "error": None}
    assert output["p"]["loop"]["status"] == "FAILED" and "division by zero" in output["p"]["loop"]["error"]
    assert "after" not in output and "done" not in output
    assert_replays(temporal, workflow_id)


def test_terminate_after_a_hand_over_reaches_every_branch(runs, tenant, temporal, loop_nodes, settings):
    publish_definitions(tenant, loop_nodes, [workflow("term", "p", [
        parallel("p", [("inner", "q"), ("waits", "h2")], "WAIT_ALL", "done"),
        parallel("q", [("loop", "count"), ("waits", "h")], "WAIT_ALL"),
        *loop_states(), state("h", "hold", "after"), state("after", "one", contextOverrideKey="after"),
        state("h2", "hold2", "after2"), state("after2", "one", contextOverrideKey="after2"), state("done"),
    ])])
    workflow_id = runs.start("term", timeout=60)["workflowId"]
    assert handed_over(temporal, workflow_id, 2) > 2, "the run never continued as new inside the PARALLEL state"
    assert runs.update(workflow_id, UPDATE_TERMINATE, "stop")["workflowStatus"] == "TERMINATED"
    assert runs.result(workflow_id)["workflowStatus"] == "TERMINATED"
    ran = {name for name, _, _ in rows(workflow_id)}
    assert not {"after", "after2", "q", "p", "done"} & ran
    described = run_async(temporal.get_workflow_handle(workflow_id).describe())
    assert described.status.name == "COMPLETED"  # the run's workflow ended itself, every branch with it
    assert_replays(temporal, workflow_id)
