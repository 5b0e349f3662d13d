"""Issue 8 (items 3-5): NaN/Infinity, lone surrogates and deep nesting never enter a run. The API refuses them
with 400 and the JSON path; a script or an upstream that produces them fails its node; a state that cannot be
stored fails the run with a clear error instead of retrying for ever; no start failure leaves a Run row behind.
Real stack: REST in-process, real Temporal, the live worker, a real local order service."""

from __future__ import annotations

import json
import uuid

import pytest

from apps.runs.context_store import get_context_store
from apps.runs.models import NodeExecution, Run, RunStatus
from devtools.testing.builders import script_node, state, success_node, value, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import publish_event_flow, start, start_order, wait_final

pytestmark = pytest.mark.temporal

DEEP = '{"d":' * 600 + "1" + "}" * 600

# (raw params JSON inside a start of the sample, the path the 400 names, what it says)
BAD_STARTS = [
    ('"params": {"orderId": "1", "big": 1e400}', "$.params.big", "finite"),
    ('"params": {"orderId": "1", "x": [1, NaN]}', "$.params.x[1]", "finite"),
    ('"params": {"orderId": "1"}, "customer": {"score": -Infinity}', "$.customer.score", "finite"),
    ('"params": {"orderId": "1"}, "customer": {"id": "\\ud800"}', "$.customer.id", "surrogate"),
    ('"params": {"orderId": "1", "\\udc00k": 1}', "$.params.\\udc00k", "surrogate"),
    ('"params": {"orderId": "1"}, "orderDetails": {"note": "a\\udfffb"}', "$.orderDetails.note", "surrogate"),
    (f'"params": {{"orderId": "1", "deep": {DEEP}}}', "$.params.deep", "nested deeper"),
]


def _post_raw(api, path: str, raw: str, method: str = "post"):
    return getattr(api, method)(path, data=raw.encode(), content_type="application/json")


def _refused(response, path: str, words: str) -> None:
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert body["error"] == "INVALID"
    assert any(d["path"].startswith(path) and words in d["problem"] for d in body["details"]), body


def test_start_refuses_non_finite_surrogate_and_deep_values_with_their_path_and_leaves_no_row(api, samples, tenant):
    for fields, path, words in BAD_STARTS:
        raw = f'{{"issueDetail": {{"issueId": "order_status"}}, {fields}}}'
        _refused(_post_raw(api, "/v3/workflow/start", raw), path, words)
    assert not Run.objects.filter(tenant=tenant).exists(), "a refused start must leave no Run row"
    assert start_order(api, "1").status_code == 200, "a clean start still goes through"


def test_event_bodies_with_non_finite_numbers_or_surrogates_are_refused_and_the_run_still_completes(api, runs,
                                                                                                   tenant):
    publish_event_flow(tenant)
    waiting = start(api, params={"workflowId": "evt"}).json()
    assert waiting["workflowStatus"] == "WAITING"
    url = f"/v3/workflow/{waiting['workflowId']}/event/paid"
    _refused(_post_raw(api, url, '{"amount": 1e999}'), "$.amount", "finite")
    _refused(_post_raw(api, url, '{"amount": 1, "who": ["\\ud83d"]}'), "$.who[0]", "surrogate")
    _refused(_post_raw(api, url, "[" * 300 + "]" * 300), "$", "nested deeper")
    assert Run.objects.get(workflow_id=waiting["workflowId"]).status == RunStatus.WAITING
    assert api.post(url, {"amount": 12}, format="json").status_code == 202
    assert wait_final(waiting["workflowId"]).status == RunStatus.COMPLETED


def test_resume_and_disconnected_bodies_are_checked_too(api, samples):
    waiting = start_order(api, "1").json()
    assert waiting["workflowStatus"] == "WAITING"
    resume = f"/v3/workflow/resume/{waiting['workflowId']}"
    _refused(_post_raw(api, resume, '{"viewResponse": {"selectedOptions": {"reason": "\\ud800"}}}', "put"),
             "$.viewResponse.selectedOptions.reason", "surrogate")
    _refused(_post_raw(api, resume, '{"viewResponse": {"selectedOptions": {}}, "params": {"n": NaN}}', "put"),
             "$.params.n", "finite")
    _refused(_post_raw(api, f"/v3/workflow/{waiting['workflowId']}/disconnected-node/execute",
                       '{"node": "x", "parameters": {"n": Infinity}}'), "$.parameters.n", "finite")
    done = api.put(resume, {"viewResponse": {"selectedOptions": {"reason": "DAMAGED"}}}, format="json")
    assert done.json()["workflowStatus"] == RunStatus.COMPLETED


def test_a_start_that_fails_after_registering_leaves_no_orphan_row(api, samples, tenant):
    workflow_id = f"orphan-{uuid.uuid4().hex[:8]}"
    assert start_order(api, "2", workflowId=workflow_id).json()["workflowStatus"] == RunStatus.COMPLETED
    Run.objects.filter(workflow_id=workflow_id).delete()  # an operator removed the row; Temporal keeps the run
    again = start_order(api, "2", workflowId=workflow_id)
    assert again.status_code == 409, again.content
    assert not Run.objects.filter(workflow_id=workflow_id).exists(), "the failed start left a CREATED row"


@pytest.mark.parametrize(("source", "words"), [
    ("return {'x': float('nan')}", "$.output.x is not a finite number"),
    ("return [1, float('inf')]", "$.output[1] is not a finite number"),
    ("return {'name': 'a\\ud800'}", "$.output.name contains a lone surrogate"),
    ("v = 1\nfor i in range(150):\n    v = [v]\nreturn v", "nested deeper than"),
    ("raise ValueError('bad \\ud800')", "bad \\ud800"),  # the message itself, shown escaped
])
def test_a_script_producing_what_a_run_cannot_hold_fails_its_node(api, runs, tenant, source, words):
    publish_definitions(tenant, [script_node("bad", source), success_node()],
                        [workflow("bad_script", "b", [state("b", "bad", "done"), state("done")])])
    response = start(api, params={"workflowId": "bad_script"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["workflowStatus"] == RunStatus.FAILED, body
    assert "node b failed" in body["errorMessage"] and words in body["errorMessage"], body
    row = NodeExecution.objects.get(run__workflow_id=body["workflowId"], instance_name="b")
    assert row.outcome == "FAILURE" and words in row.error


def test_an_upstream_answering_nan_fails_the_node_instead_of_wedging_the_run(api, samples, oms, tenant):
    oms.expect_request("/oms/orders/3").respond_with_data('{"status": NaN, "returnable": false}',
                                                          content_type="application/json")
    response = start_order(api, "3")
    assert response.status_code == 200, response.content
    run = wait_final(response.json()["workflowId"])
    assert run.status == RunStatus.FAILED  # through the sample's defaultFailureNode
    error = NodeExecution.objects.get(run=run, instance_name="get_order").error
    assert "$.output.status is not a finite number" in error
    context = api.get(f"/v3/workflow/{run.workflow_id}?includeContext=true").json()["_global"]
    assert "not a finite number" in context["errorMessage"]


def test_a_start_bypassing_the_api_with_nan_fails_with_a_clear_error_and_keeps_its_row(runs, tenant):
    publish_definitions(tenant, [script_node("echo", "return 1")],
                        [workflow("echo", "e", [state("e", "echo", None, end=True)])])
    answer = runs.start("echo", {"x": float("nan"), "keep": "me"}, timeout=60)
    assert answer["workflowStatus"] == RunStatus.FAILED, answer
    assert answer["errorMessage"] == ("the run input cannot be stored: $.start.params.x is not a finite number "
                                      "(NaN, Infinity and numbers beyond 1.8e308 are not allowed)")
    run = Run.objects.get(workflow_id=answer["workflowId"])
    assert run.status == RunStatus.FAILED and run.error_message == answer["errorMessage"]
    assert run.start_request["start"]["params"] == {"x": None, "keep": "me"}


def test_a_state_that_can_never_be_stored_fails_the_run_instead_of_retrying_for_ever(runs, tenant):
    """The safety net behind the API's refusal: an event signalled straight through Temporal (whose JSON carries
    NaN) puts NaN in the context; the run ends FAILED with a clear error, its context stored with it nulled."""
    publish_event_flow(tenant)
    waiting = runs.start("evt")
    assert waiting["workflowStatus"] == RunStatus.WAITING
    runs.signal(waiting["workflowId"], "event", "paid", {"amount": float("inf"), "keep": "me"})
    run = wait_final(waiting["workflowId"])
    assert run.status == RunStatus.FAILED
    assert run.error_message.startswith("the run state cannot be stored: $.context.w:event.amount is not a finite")
    stored = get_context_store().load(run.workflow_id)
    assert stored is not None and stored.status == RunStatus.FAILED
    assert stored.context["w:event"] == {"amount": None, "keep": "me"}
    result = runs.result(run.workflow_id)
    assert result["workflowStatus"] == RunStatus.FAILED
    json.dumps(result["output"], allow_nan=False)  # the workflow's own result holds no NaN either



def test_a_script_resolved_wait_longer_than_a_timer_can_hold_fails_its_node(api, runs, tenant):
    publish_definitions(tenant, [wait_node("pause", waitType="SCHEDULER_WAIT", duration=value("return 1e300")),
                                 success_node()],
                        [workflow("long_wait", "p", [state("p", "pause", "done"), state("done")])])
    body = start(api, params={"workflowId": "long_wait"}).json()
    assert body["workflowStatus"] == RunStatus.FAILED, body
    assert "config.duration: a wait of 1e+300 seconds is longer than" in body["errorMessage"]
