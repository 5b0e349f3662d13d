"""The interpreter against a real Temporal dev server and a worker in this process: every node type
and every rule of the DSL (spec §2.3)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from apps.runs.context_store import get_context_store
from apps.runs.contract import UPDATE_DISCONNECTED, UPDATE_RESUME, UPDATE_TERMINATE
from apps.runs.models import NodeExecution, Run
from devtools.testing.builders import (
    branch_node,
    child_node,
    failure_node,
    instruction_node,
    script_node,
    state,
    success_node,
    value,
    wait_node,
    workflow,
)
from devtools.testing.definitions import publish_definitions

pytestmark = pytest.mark.temporal


def _path(workflow_id: str) -> list[str]:
    rows = NodeExecution.objects.filter(run__workflow_id=workflow_id).order_by("seq")
    return list(rows.values_list("instance_name", flat=True))


def test_script_chain_completes_with_outputs_in_context(runs, tenant):
    publish_definitions(
        tenant,
        [script_node("double", "return nodeParameters.n * 2", ["n"]), script_node("inc", "return _global.d + 1"),
         success_node()],
        [workflow("chain", "d", [
            state("d", "double", "i", parameters={"n": "$.params.n"}), state("i", "inc", "done"), state("done"),
        ])],
    )
    response = runs.start("chain", {"n": 21})
    assert response["workflowStatus"] == "COMPLETED"
    result = runs.result(response["workflowId"])
    assert result["output"]["d"] == 42
    assert result["output"]["i"] == 43
    stored = get_context_store().load(response["workflowId"])
    assert stored.context["i"] == 43 and stored.status == "COMPLETED"
    run = Run.objects.get(workflow_id=response["workflowId"])
    assert (run.status, run.definition_version) == ("COMPLETED", 1)
    assert _path(response["workflowId"]) == ["d", "i", "done"]


def _branch_flow(tenant: str) -> None:
    publish_definitions(
        tenant,
        [branch_node("route", [("return _global.params.x > 10", "big"), ("return _global.params.x < 0", "neg")],
                     default="small"),
         script_node("big", "return 'big'"), script_node("neg", "return 'neg'"), script_node("small", "return 'small'"),
         success_node()],
        [workflow("branchy", "r", [
            state("r", "route"), state("big", next_node="done"), state("neg", next_node="done"),
            state("small", next_node="done"), state("done"),
        ])],
    )


@pytest.mark.parametrize(("x", "taken"), [(50, "big"), (-5, "neg"), (3, "small")])
def test_branch_outcomes_and_default(runs, tenant, x, taken):
    _branch_flow(tenant)
    response = runs.start("branchy", {"x": x})
    assert response["workflowStatus"] == "COMPLETED"
    assert _path(response["workflowId"]) == ["r", taken, "done"]


def test_branch_without_match_or_default_fails_the_run(runs, tenant):
    publish_definitions(
        tenant,
        [branch_node("route", [("return False", "done")]), success_node()],
        [workflow("nomatch", "r", [state("r", "route"), state("done")])],
    )
    response = runs.start("nomatch")
    assert response["workflowStatus"] == "FAILED"
    assert "r" in response["errorMessage"]


def _loop_flow(tenant: str, exit_at: int, ping: str = "") -> None:
    """count -> check -> count ... -> done; with a `ping` URL, an HTTP node each round, so that the history
    grows across workflow tasks (a loop of local activities alone runs inside one task)."""
    nodes = [script_node("inc", "return (_global.counter or 0) + 1"),
             branch_node("more", [(f"return _global.counter < {exit_at}", "count")], default="done"), success_node()]
    states = [state("count", "inc", "ping" if ping else "check", contextOverrideKey="counter"),
              state("check", "more"), state("done")]
    if ping:
        nodes.append({"id": "ping", "name": "ping", "type": "HTTP",
                      "httpComponents": {"url": value(ping, "STATIC"), "method": "GET"}})
        states.append(state("ping", "ping", "check"))
    publish_definitions(tenant, nodes, [workflow("loop", "count", states)])


def test_loop_that_exits(runs, tenant):
    _loop_flow(tenant, exit_at=5)
    response = runs.start("loop")
    assert response["workflowStatus"] == "COMPLETED"
    assert runs.result(response["workflowId"])["output"]["counter"] == 5


def test_loop_that_hits_the_node_limit(runs, tenant, settings):
    settings.DRIFT_MAX_NODE_EXECUTIONS = 25
    _loop_flow(tenant, exit_at=10_000)
    response = runs.start("loop")
    assert response["workflowStatus"] == "FAILED"
    assert "node limit" in response["errorMessage"]


def test_long_loop_continues_as_new_and_keeps_its_context(runs, tenant, settings, httpserver):
    settings.DRIFT_HISTORY_EVENT_LIMIT = 40
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/ping").respond_with_json({"pong": True})
    _loop_flow(tenant, exit_at=60, ping=httpserver.url_for("/ping"))
    response = runs.start("loop", timeout=60)
    # The sync caller cannot follow the run into its new execution: it is answered RUNNING at the hand-over.
    assert response["workflowStatus"] == "RUNNING"
    assert runs.result(response["workflowId"])["output"]["counter"] == 60
    assert NodeExecution.objects.filter(run__workflow_id=response["workflowId"]).count() == 181
    assert runs.run_count(response["workflowId"]) > 1, "the run never continued as new"


def test_node_error_goes_to_default_failure_node(runs, tenant):
    publish_definitions(
        tenant,
        [script_node("boom", "return 1 / 0"), failure_node("oops", "could not compute"), success_node()],
        [workflow("errs", "b", [state("b", "boom", "done"), state("done"), state("f", "oops")],
                  defaultFailureNode="f")],
    )
    response = runs.start("errs")
    assert response["workflowStatus"] == "FAILED"
    # The FAILURE node's text, and the cause still visible on the run (issue 9).
    assert response["errorMessage"].startswith("could not compute: node b failed: ")
    assert "division by zero" in response["errorMessage"]
    assert "division by zero" in Run.objects.get(workflow_id=response["workflowId"]).error_message
    output = runs.result(response["workflowId"])["output"]
    assert "division by zero" in output["errorMessage"]
    assert _path(response["workflowId"]) == ["b", "f"]


def test_failure_node_with_a_computed_error_says_otherwise(runs, tenant):
    """A template or value component `error` is the errorMessage as computed (it may read the cause)."""
    scripted = {"id": "scripted", "type": "FAILURE",
                "error": {"type": "SCRIPT", "value": {"type": "STRING",
                                                      "data": "return 'refund failed for ' + _global.params.order"}}}
    templated = {"id": "templated", "type": "FAILURE", "error": "order {{params.order}}: {{errorMessage}}"}
    publish_definitions(
        tenant, [script_node("boom", "return 1 / 0"), scripted, templated, success_node()],
        [workflow("errs_s", "b", [state("b", "boom", "done"), state("done"), state("f", "scripted")],
                  defaultFailureNode="f"),
         workflow("errs_t", "b", [state("b", "boom", "done"), state("done"), state("f", "templated")],
                  defaultFailureNode="f")],
    )
    scripted_run = runs.start("errs_s", {"order": "o-1"})
    assert scripted_run["errorMessage"] == "refund failed for o-1"
    assert _path(scripted_run["workflowId"]) == ["b", "f"]
    outcomes = NodeExecution.objects.filter(run__workflow_id=scripted_run["workflowId"]).order_by("seq")
    assert [(row.outcome, row.error) for row in outcomes][-1] == ("FAILURE", "refund failed for o-1")
    templated_message = runs.start("errs_t", {"order": "o-2"})["errorMessage"]
    assert templated_message.startswith("order o-2: node b failed: ") and "division by zero" in templated_message


def test_terminal_instruction_completes_with_its_view(runs, tenant):
    options = [{"id": "msg", "tags": {"values": ["ui.static_text"]},
                "instructions": [{"templateId": "t", "templateVariables": {"name": "{{params.name}}"}}]}]
    publish_definitions(
        tenant,
        [instruction_node("bye", options, layoutId="final", disposition="DONE")],
        [workflow("goodbye", "s", [state("s", "bye", end=True)])],
    )
    response = runs.start("goodbye", {"name": "Ada"})
    assert response["workflowStatus"] == "COMPLETED"
    assert response["disposition"] == "DONE"
    assert response["view"]["layoutId"] == "final"
    assert response["view"]["inputOptions"][0]["instructions"][0]["templateVariables"] == {"name": "Ada"}


def test_instruction_waits_then_resume_continues(runs, tenant):
    publish_definitions(
        tenant,
        [instruction_node("ask", [{"id": "choice", "possibleValues": [{"value": "A"}, {"value": "B"}]}]),
         script_node("echo", "return _global['q:viewResponse'].selectedOptions.choice"), success_node()],
        [workflow("ask", "q", [state("q", "ask", "e"), state("e", "echo", "done"), state("done")])],
    )
    waiting = runs.start("ask")
    assert waiting["workflowStatus"] == "WAITING"
    assert waiting["view"]["inputOptions"][0]["id"] == "choice"
    done = runs.update(waiting["workflowId"], UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"choice": "B"}}})
    assert done["workflowStatus"] == "COMPLETED"
    assert runs.result(waiting["workflowId"])["output"]["e"] == "B"


def test_failing_post_completion_node_leaves_run_completed(runs, tenant):
    publish_definitions(
        tenant,
        [script_node("ok", "return 1"), script_node("notify", "return 1 / 0"), script_node("audit", "return 'seen'"),
         success_node()],
        [workflow("post", "a", [state("a", "ok", "done"), state("done"), state("n", "notify"), state("au", "audit")],
                  postWorkflowCompletionNodes=["n", "au"])],
    )
    response = runs.start("post")
    assert response["workflowStatus"] == "COMPLETED"
    result = runs.result(response["workflowId"])
    assert result["workflowStatus"] == "COMPLETED"
    assert result["output"]["au"] == "seen"
    failures = NodeExecution.objects.filter(run__workflow_id=response["workflowId"], outcome="FAILURE")
    assert [row.instance_name for row in failures] == ["n"]


def _child_flows(tenant: str, mode: str) -> None:
    publish_definitions(
        tenant,
        [script_node("triple", "return nodeParameters.n * 3", ["n"]), success_node(),
         child_node("call", "kid", mode), script_node("after", "return 'parent went on'")],
        [workflow("kid", "t", [state("t", "triple", "done", parameters={"n": "$.params.n"}), state("done")]),
         workflow("parent", "c", [state("c", "call", "a", parameters={"n": "$.params.n"}), state("a", "after", "done"),
                                  state("done")])],
    )


def test_sync_child_result_lands_at_the_instance_key(runs, tenant):
    _child_flows(tenant, "SYNC")
    response = runs.start("parent", {"n": 7})
    assert response["workflowStatus"] == "COMPLETED"
    child = runs.result(response["workflowId"])["output"]["c"]
    assert child["workflowStatus"] == "COMPLETED"
    assert child["output"]["t"] == 21
    assert Run.objects.get(workflow_id=child["workflowId"]).parent_workflow_id == response["workflowId"]


def test_async_child_starts_and_parent_moves_on(runs, tenant):
    _child_flows(tenant, "ASYNC")
    response = runs.start("parent", {"n": 2})
    assert response["workflowStatus"] == "COMPLETED"
    child_id = runs.result(response["workflowId"])["output"]["c"]["workflowId"]
    assert runs.result(child_id)["output"]["t"] == 6


def test_child_depth_limit(runs, tenant, settings):
    settings.DRIFT_MAX_CHILD_DEPTH = 2
    publish_definitions(
        tenant, [child_node("again", "nest")], [workflow("nest", "c", [state("c", "again")])]
    )
    response = runs.start("nest", timeout=60)
    assert response["workflowStatus"] == "FAILED"
    assert "deeper than 2" in response["errorMessage"] or "child" in response["errorMessage"]


def _event_flow(tenant: str, timeout: float | None) -> None:
    config = {"waitType": "ON_EVENT", "eventName": "paid"}
    if timeout:
        config["timeoutSeconds"] = timeout
    publish_definitions(
        tenant,
        [wait_node("await_payment", **config), script_node("amount", "return _global['w:event'].amount"),
         success_node(), failure_node()],
        [workflow("evt", "w", [state("w", "await_payment", "a"), state("a", "amount", "done"), state("done"),
                               state("failed")], defaultFailureNode="failed")],
    )


def test_on_event_wait_continues_when_the_event_arrives(runs, tenant):
    _event_flow(tenant, timeout=None)
    waiting = runs.start("evt")
    assert waiting["workflowStatus"] == "WAITING"
    runs.signal(waiting["workflowId"], "event", "paid", {"amount": 12})
    result = runs.result(waiting["workflowId"])
    assert result["workflowStatus"] == "COMPLETED"
    assert result["output"]["a"] == 12


def test_on_event_wait_times_out_to_the_failure_node(runs, tenant):
    _event_flow(tenant, timeout=1)
    waiting = runs.start("evt")
    assert waiting["workflowStatus"] == "WAITING"
    result = runs.result(waiting["workflowId"])
    assert result["workflowStatus"] == "FAILED"
    assert "did not arrive" in result["output"]["errorMessage"]


def _timer_flow(tenant: str, **config) -> None:
    publish_definitions(
        tenant,
        [wait_node("pause", **config), script_node("after", "return 'woke'"), success_node()],
        [workflow("timer", "p", [state("p", "pause", "a"), state("a", "after", "done"), state("done")])],
    )


def test_scheduler_wait_async_reports_scheduler_waiting_then_continues(runs, tenant):
    _timer_flow(tenant, waitType="SCHEDULER_WAIT", duration=1, executionMode="ASYNC")
    response = runs.start("timer")
    assert response["workflowStatus"] == "SCHEDULER_WAITING"
    assert runs.result(response["workflowId"])["output"]["a"] == "woke"


def test_scheduler_wait_sync_holds_the_caller_until_the_timer_fires(runs, tenant):
    _timer_flow(tenant, waitType="SCHEDULER_WAIT", duration=1, executionMode="SYNC")
    response = runs.start("timer")
    assert response["workflowStatus"] == "COMPLETED"


def test_absolute_wait_sleeps_until_the_timestamp(runs, tenant):
    until = (datetime.now(UTC) + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    _timer_flow(tenant, waitType="ABSOLUTE_WAIT", timestamp=until)
    response = runs.start("timer")
    assert response["workflowStatus"] == "SCHEDULER_WAITING"
    result = runs.result(response["workflowId"])
    assert result["workflowStatus"] == "COMPLETED"
    assert datetime.now(UTC) >= datetime.fromisoformat(until.replace("Z", "+00:00"))


def test_disconnected_node_returns_its_result_without_moving_the_run(runs, tenant):
    publish_definitions(
        tenant,
        [instruction_node("ask", [{"id": "x"}]), script_node("quote", "return nodeParameters.qty * 3", ["qty"]),
         success_node()],
        [workflow("util", "q", [state("q", "ask", "done"), state("done"),
                                state("price", "quote", parameters={"qty": "$.params.qty"})])],
    )
    waiting = runs.start("util", {"qty": 1})
    reply = runs.update(waiting["workflowId"], UPDATE_DISCONNECTED, {"node": "price", "parameters": {"qty": 5}})
    assert reply == {"workflowId": waiting["workflowId"], "node": "price", "status": "SUCCESS", "response": 15}
    run = Run.objects.get(workflow_id=waiting["workflowId"])
    assert (run.status, run.current_node) == ("WAITING", "q")
    deadline = time.monotonic() + 10
    while get_context_store().load(waiting["workflowId"]).context.get("price") != 15:
        assert time.monotonic() < deadline, "disconnected output never reached the context store"
        time.sleep(0.05)


def test_terminate_ends_a_waiting_run(runs, tenant):
    publish_definitions(tenant, [instruction_node("ask")], [workflow("t", "q", [state("q", "ask")])])
    waiting = runs.start("t")
    ended = runs.update(waiting["workflowId"], UPDATE_TERMINATE, "operator said so")
    assert ended["workflowStatus"] == "TERMINATED"
    assert Run.objects.get(workflow_id=waiting["workflowId"]).status == "TERMINATED"


def test_unknown_workflow_fails_the_run_clearly(runs, tenant):
    response = runs.start("does-not-exist")
    assert response["workflowStatus"] == "FAILED"
    assert "does-not-exist" in response["errorMessage"]



@pytest.mark.parametrize("config", [
    {"waitType": "ON_EVENT", "eventName": "never"},
    {"waitType": "SCHEDULER_WAIT", "duration": 3600, "executionMode": "ASYNC"},
])
def test_terminate_inside_a_last_wait_ends_terminated_not_completed(runs, tenant, config):
    publish_definitions(
        tenant, [wait_node("hold", **config), script_node("after", "return 1")],
        [workflow("holds", "h", [state("h", "hold", end=True), state("a", "after")],
                  postWorkflowCompletionNodes=["a"])],
    )
    waiting = runs.start("holds")
    assert waiting["workflowStatus"] in {"WAITING", "SCHEDULER_WAITING"}
    ended = runs.update(waiting["workflowId"], UPDATE_TERMINATE, "stop")
    assert ended["workflowStatus"] == "TERMINATED"
    assert "a" not in runs.result(waiting["workflowId"])["output"], "post-completion nodes ran after a terminate"


def test_delegated_instruction_is_a_stable_state(runs, tenant):
    publish_definitions(
        tenant, [instruction_node("handoff", [{"id": "x"}], workflowStatus="DELEGATED"), success_node()],
        [workflow("delegate", "d", [state("d", "handoff", "done"), state("done")])],
    )
    response = runs.start("delegate", timeout=10)
    assert response["workflowStatus"] == "DELEGATED"
    assert runs.update(response["workflowId"], UPDATE_RESUME, {"viewResponse": {}})["workflowStatus"] == "COMPLETED"


def test_an_oversized_node_output_fails_the_node_not_the_run_machinery(runs, tenant, settings):
    settings.DRIFT_MAX_NODE_OUTPUT_BYTES = 10_000
    publish_definitions(
        tenant, [script_node("big", "return 'x' * 20000"), success_node()],
        [workflow("big", "b", [state("b", "big", "done"), state("done")])],
    )
    response = runs.start("big", timeout=10)
    assert response["workflowStatus"] == "FAILED"
    assert "DRIFT_MAX_NODE_OUTPUT_BYTES" in response["errorMessage"]


def test_disposition_changes_only_when_a_screen_sets_one_and_stays_to_the_end(runs, tenant):
    """docs/engine.md: the run's disposition is the last non-empty one a screen set (issue 9)."""
    publish_definitions(
        tenant,
        [instruction_node("first", [{"id": "ok"}], disposition="FIRST_SHOWN"),
         instruction_node("plain", [{"id": "ok"}]),
         instruction_node("second", [{"id": "ok"}], disposition="SECOND_SHOWN"),
         script_node("work", "return 1"), success_node()],
        [workflow("dispo", "a", [state("a", "first", "b"), state("b", "plain", "c"), state("c", "second", "w"),
                                 state("w", "work", "done"), state("done")])],
    )
    first = runs.start("dispo")
    assert (first["currentNode"], first["disposition"]) == ("a", "FIRST_SHOWN")
    plain = runs.update(first["workflowId"], UPDATE_RESUME, {"viewResponse": {}})
    assert (plain["currentNode"], plain["disposition"]) == ("b", "FIRST_SHOWN")  # no disposition: kept
    second = runs.update(first["workflowId"], UPDATE_RESUME, {"viewResponse": {}})
    assert (second["currentNode"], second["disposition"]) == ("c", "SECOND_SHOWN")
    done = runs.update(first["workflowId"], UPDATE_RESUME, {"viewResponse": {}})
    assert (done["workflowStatus"], done["disposition"]) == ("COMPLETED", "SECOND_SHOWN")
    assert Run.objects.get(workflow_id=first["workflowId"]).disposition == "SECOND_SHOWN"
