"""PARALLEL states (spec §8) on the real engine: failure policies, nesting, terminate, waits in a branch,
and the validation of branches (shared states, key collisions, screens)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.definitions import dsl
from apps.definitions.graph_render import labelled_edges
from apps.runs.contract import SIGNAL_EVENT, UPDATE_TERMINATE
from apps.runs.models import NodeExecution
from devtools.testing.builders import (
    failure_node,
    instruction_node,
    parallel,
    script_node,
    state,
    success_node,
    value,
    wait_node,
    workflow,
)
from devtools.testing.definitions import publish_definitions

pytestmark = pytest.mark.temporal

NODES = [
    script_node("one", "return 1"), script_node("two", "return _global.one_out + 1"),
    script_node("boom", "return 1 / 0"), script_node("tail", "return 'tail'"),
    wait_node("hold", waitType="ON_EVENT", eventName="go"), success_node(), failure_node("oops", "parallel failed"),
]


def _publish(tenant: str, key: str, states: list[dict], **extra: Any) -> None:
    publish_definitions(tenant, NODES, [workflow(key, "p", states, **extra)])


def _rows(workflow_id: str) -> list[tuple[str, str]]:
    rows = NodeExecution.objects.filter(run__workflow_id=workflow_id).order_by("seq")
    return list(rows.values_list("instance_name", "outcome"))


def test_wait_all_runs_every_branch_then_fails_the_state(runs, tenant):
    _publish(tenant, "all", [
        parallel("p", [("bad", "b1"), ("good", "g1")], "WAIT_ALL", "t"),
        state("b1", "boom"), state("g1", "one", "g2", contextOverrideKey="one_out"), state("g2", "two"),
        state("t", "tail", "done"), state("done"), state("oops"),
    ], defaultFailureNode="oops")
    result = runs.result(runs.start("all")["workflowId"])
    assert result["workflowStatus"] == "FAILED"
    assert result["errorMessage"].startswith("parallel failed: PARALLEL p: branch bad failed: node b1 failed")
    output = result["output"]
    assert output["p"]["good"] == {"status": "COMPLETED", "error": None}
    assert output["p"]["bad"]["status"] == "FAILED" and "division by zero" in output["p"]["bad"]["error"]
    assert (output["one_out"], output["g2"]) == (1, 2)  # branches share _global
    assert "t" not in output


def test_fail_fast_cancels_the_other_branches(runs, tenant):
    _publish(tenant, "fast", [
        parallel("p", [("bad", "b1"), ("slow", "h")], None, "t"),  # FAIL_FAST is the default
        state("b1", "boom"), state("h", "hold", "g1"), state("g1", "one"), state("t", "tail", "done"),
        state("done"),
    ])
    result = runs.result(runs.start("fast")["workflowId"])
    assert result["workflowStatus"] == "FAILED"
    assert result["output"]["p"]["slow"] == {"status": "CANCELLED", "error": None}
    assert "g1" not in result["output"]


def test_continue_records_failures_and_goes_on(runs, tenant):
    _publish(tenant, "cont", [
        parallel("p", [("bad", "b1"), ("good", "g1")], "CONTINUE", "t"),
        state("b1", "boom"), state("g1", "one"), state("t", "tail", "done"), state("done"),
    ])
    response = runs.start("cont")
    result = runs.result(response["workflowId"])
    assert result["workflowStatus"] == "COMPLETED"
    assert result["output"]["p"]["bad"]["status"] == "FAILED"
    assert (result["output"]["g1"], result["output"]["t"]) == (1, "tail")
    assert ("p", "SUCCESS") in _rows(response["workflowId"])


def test_nested_parallel(runs, tenant):
    _publish(tenant, "nest", [
        parallel("p", [("inner", "q"), ("plain", "g1")], "WAIT_ALL", "done"),
        parallel("q", [("x", "x1"), ("y", "y1")], "WAIT_ALL"),
        state("x1", "one", contextOverrideKey="x_out"), state("y1", "tail", contextOverrideKey="y_out"),
        state("g1", "one"), state("done"),
    ])
    response = runs.start("nest")
    result = runs.result(response["workflowId"])
    assert result["workflowStatus"] == "COMPLETED"
    # The admin timeline's lane column: where each node ran.
    lanes = dict(NodeExecution.objects.filter(run__workflow_id=response["workflowId"])
                 .values_list("instance_name", "lane"))
    assert lanes == {"x1": "p/inner > q/x", "y1": "p/inner > q/y", "q": "p/inner", "g1": "p/plain", "p": "",
                     "done": ""}
    output = result["output"]
    assert output["q"] == {"x": {"status": "COMPLETED", "error": None}, "y": {"status": "COMPLETED", "error": None}}
    assert output["p"]["inner"]["status"] == "COMPLETED"
    assert (output["x_out"], output["y_out"], output["g1"]) == (1, "tail", 1)


def test_a_branch_waits_for_an_event_while_the_other_completes(runs, tenant):
    _publish(tenant, "evt", [
        parallel("p", [("waits", "h"), ("works", "g1")], "WAIT_ALL", "done"),
        state("h", "hold"), state("g1", "one"), state("done"),
    ])
    waiting = runs.start("evt")
    assert waiting["workflowStatus"] == "WAITING"  # the sync caller gets the first stable state
    runs.signal(waiting["workflowId"], SIGNAL_EVENT, "go", {"ok": True})
    result = runs.result(waiting["workflowId"])
    assert result["workflowStatus"] == "COMPLETED"
    assert result["output"]["g1"] == 1 and result["output"]["h:event"] == {"ok": True}
    assert {branch: end["status"] for branch, end in result["output"]["p"].items()} == {
        "waits": "COMPLETED", "works": "COMPLETED"}


def test_terminate_reaches_every_branch(runs, tenant):
    _publish(tenant, "term", [
        parallel("p", [("a", "h"), ("b", "h2")], "WAIT_ALL", "done"),
        state("h", "hold", "t"), state("h2", "hold", "t2", contextOverrideKey="h2"),
        state("t", "tail"), state("t2", "tail", contextOverrideKey="t2"), state("done"),
    ])
    waiting = runs.start("term")
    assert waiting["workflowStatus"] == "WAITING"
    assert runs.update(waiting["workflowId"], UPDATE_TERMINATE, "stop")["workflowStatus"] == "TERMINATED"
    result = runs.result(waiting["workflowId"])
    assert result["workflowStatus"] == "TERMINATED"
    assert not {"t", "t2", "done"} & {name for name, _ in _rows(waiting["workflowId"])}


# --- validation -----------------------------------------------------------------------------


def _problems(states: list[dict], **extra: Any) -> list[tuple[str, str]]:
    nodes = {node["id"]: node for node in [*NODES, instruction_node("ask")]}
    body = workflow("v", "p", states, **extra)
    return [(p.path, p.problem) for p in dsl.errors_of(dsl.validate_workflow(body, lambda key, _: nodes.get(key)))]


def test_validation_refuses_shared_states_collisions_and_screens():
    assert _problems([parallel("p", [("a", "x"), ("b", "y")], "WAIT_ALL", "done"),
                      state("x", "one"), state("y", "two"), state("done")]) == []
    shared = _problems([parallel("p", [("a", "x"), ("b", "y")], None, "done"),
                        state("x", "one", "z"), state("y", "two", "z"), state("z", "tail"), state("done")])
    assert shared == [("$.states.p.branches[1].startNode", "state 'z' also belongs to branch 'a'")]
    on_main = _problems([parallel("p", [("a", "x"), ("b", "y")], None, "done"),
                         state("x", "one", "done"), state("y", "two"), state("done")])
    assert on_main == [("$.states.p.branches[0].startNode", "states ['done'] are also on the main path")]
    collision = _problems([parallel("p", [("a", "x"), ("b", "y")], None, "done"),
                           state("x", "one", contextOverrideKey="k"), state("y", "two", contextOverrideKey="k"),
                           state("done")])
    assert collision == [("$.states.p.branches[1]", "branches 'a' and 'b' both write the context key 'k'")]
    screen = _problems([parallel("p", [("a", "x"), ("b", "y")], None, "done"),
                        state("x", "ask"), state("y", "two"), state("done")])
    assert screen == [("$.states.x", "a INSTRUCTION node cannot run inside branch 'a' of PARALLEL 'p'")]
    after = _problems([parallel("p", [("a", "x"), ("b", "y")], None, "done"), state("x", "one"), state("y", "two"),
                       state("done")], postWorkflowCompletionNodes=["p"])
    assert after == [("$.postWorkflowCompletionNodes[0]",
                      "a PARALLEL state cannot run after completion; use HTTP or SCRIPT")]
    fields = _problems([parallel("p", [("a", "x"), ("a", 3)], "SOMETIMES", "nowhere"), state("x", "one")])
    assert set(fields) == {
        ("$.states.p.failurePolicy", "must be one of FAIL_FAST, WAIT_ALL, CONTINUE (got 'SOMETIMES')"),
        ("$.states.p.branches[1].startNode", "must be a non-empty string"),
        ("$.states.p.branches[1].name", "branch name 'a' is used twice"),
        ("$.states.p.nextNode", "unknown state 'nowhere'"),
    }


def test_graph_pictures_label_branches():
    body = workflow("v", "p", [parallel("p", [("a", "x"), ("b", "y")], None, "done"),
                               {"instanceName": "x", "nodeDefinition": script_node("x", "return 1")},
                               {"instanceName": "y", "nodeDefinition": script_node("y", "return 1")},
                               {"instanceName": "done", "nodeDefinition": success_node()}])
    assert {("p", "x", "branch a"), ("p", "y", "branch b"), ("p", "done", "")} <= set(labelled_edges(body))


def test_the_dsl_schema_takes_parallel_and_map_states():
    from jsonschema import Draft202012Validator

    from apps.definitions.dsl_schema import dsl_json_schema

    body = workflow("v", "p", [parallel("p", [("a", "x"), ("b", "y")], "CONTINUE", "m"),
                               state("x", "one"), state("y", "two"),
                               {"instanceName": "m", "type": "MAP", "items": "$.lines", "maxConcurrency": 5,
                                "iterator": {"workflowId": "line", "resultPath": "$.d"}, "nextNode": "done"},
                               state("done")])
    validator = Draft202012Validator(dsl_json_schema())
    assert list(validator.iter_errors(body)) == []
    bad = {**body, "states": {**body["states"], "p": {**body["states"]["p"], "failurePolicy": "SOMETIMES"}}}
    assert [list(error.absolute_path) for error in validator.iter_errors(bad)] == [["states", "p", "failurePolicy"]]


def test_continue_as_new_between_parallel_states_carries_their_results(runs, tenant, settings, httpserver):
    """The nodes in the branches grow the history (local activities' markers, counted by the hand-over check
    before their workflow task records them), so the run continues as new between PARALLEL states; every
    state's branch results and outputs survive."""
    settings.DRIFT_HISTORY_EVENT_LIMIT = 10
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/ping").respond_with_json({"pong": True})
    ping = {"id": "ping", "name": "ping", "type": "HTTP",
            "httpComponents": {"url": value(httpserver.url_for("/ping"), "STATIC"), "method": "GET"}}
    count = 6
    states = [state("done")]
    for index in range(1, count + 1):
        states += [parallel(f"p{index}", [("a", f"x{index}"), ("b", f"y{index}")], "WAIT_ALL",
                            f"p{index + 1}" if index < count else "done"),
                   state(f"x{index}", "ping"), state(f"y{index}", "tail")]
    publish_definitions(tenant, [*NODES, ping], [workflow("chain", "p1", states)])
    workflow_id = runs.start("chain", timeout=60)["workflowId"]
    output = runs.result(workflow_id)["output"]
    assert runs.run_count(workflow_id) > 1, "the run never continued as new"
    for index in range(1, count + 1):
        assert {branch: end["status"] for branch, end in output[f"p{index}"].items()} == {
            "a": "COMPLETED", "b": "COMPLETED"}
        assert (output[f"x{index}"], output[f"y{index}"]) == ({"pong": True}, "tail")
