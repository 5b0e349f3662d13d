"""The runtime API (spec §3.1-3.6) over REST against a real Temporal dev server and an in-process worker."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from temporalio.client import WorkflowExecutionStatus

from apps.runs.models import Run
from devtools.testing.builders import (
    branch_node,
    instruction_node,
    script_node,
    state,
    success_node,
    value,
    wait_node,
    workflow,
)
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import client_for, publish_event_flow, start, start_order, wait_final
from drift.temporal import run_async

pytestmark = pytest.mark.temporal


def _resume(api, workflow_id: str, **selected):
    return api.put(f"/v3/workflow/resume/{workflow_id}", {"viewResponse": {"selectedOptions": selected}},
                   format="json")


# --------------------------------------------------------------------------- (a) (b) the sample, both branches


def test_sample_return_branch_waits_with_the_view_then_resume_completes(api, samples):
    waits_before = REGISTRY.get_sample_value("drift_sync_wait_seconds_count") or 0
    waiting = start_order(api, "1", incidentId="inc-7")
    assert waiting.status_code == 200, waiting.json()
    body = waiting.json()
    assert (body["workflowStatus"], body["currentNode"], body["incidentId"]) == ("WAITING", "ask_reason", "inc-7")
    assert body["view"]["layoutId"] == "return_form"
    assert [option["id"] for option in body["view"]["inputOptions"]] == ["reason", "submit"]
    assert (body["workflowDefinitionId"], body["workflowVersion"]) == ("order_status", 1)

    done = _resume(api, body["workflowId"], reason="DAMAGED", submit="SUBMIT")
    assert done.status_code == 200, done.json()
    assert done.json()["workflowStatus"] == "COMPLETED"
    assert REGISTRY.get_sample_value("drift_sync_wait_seconds_count") == waits_before + 2  # start and resume

    detail = api.get(f"/v3/workflow/{body['workflowId']}?includeContext=true").json()
    assert detail["workflowStatus"] == "COMPLETED" and detail["finishedAt"]
    assert detail["_global"]["get_order"] == {"status": "DELIVERED", "returnable": True}
    assert detail["_global"]["record_reason"] == {"reason": "DAMAGED"}
    assert detail["_global"]["ask_reason:viewResponse"]["selectedOptions"]["reason"] == "DAMAGED"
    assert detail["_global"]["customer"] == {"id": "c-1"}


def test_sample_status_branch_completes_with_disposition(api, samples):
    response = start_order(api, "2")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["workflowStatus"], body["disposition"], body["currentNode"]) == (
        "COMPLETED", "STATUS_SHOWN", "show_status")
    variables = body["view"]["inputOptions"][0]["instructions"][0]["templateVariables"]
    assert variables == {"status": "SHIPPED"}


def test_get_without_context_and_start_by_explicit_workflow(api, samples):
    response = start(api, params={"workflowId": "order_status", "version": 1, "orderId": "2"}, workflowId="wf-exp-1")
    assert response.status_code == 200, response.json()
    assert response.json()["workflowId"] == "wf-exp-1"
    detail = api.get("/v3/workflow/wf-exp-1").json()
    assert "_global" not in detail
    assert (detail["workflowStatus"], detail["mode"], detail["workflowVersion"]) == ("COMPLETED", "SYNC", 1)


def test_same_workflow_id_while_open_joins_the_first_run(api, samples, temporal):
    first = start_order(api, "1", workflowId="same-id-1")
    assert first.json()["workflowStatus"] == "WAITING"
    run_id = run_async(temporal.get_workflow_handle("same-id-1").describe()).run_id
    again = start_order(api, "2", workflowId="same-id-1")  # another order: must not start a second run
    assert again.status_code == 200
    assert again.json() == first.json()
    assert run_async(temporal.get_workflow_handle("same-id-1").describe()).run_id == run_id
    assert Run.objects.filter(workflow_id="same-id-1").count() == 1
    _resume(api, "same-id-1", reason="DAMAGED")
    ended = start_order(api, "1", workflowId="same-id-1")
    assert ended.status_code == 409
    assert "already ended" in ended.json()["message"]


# --------------------------------------------------------------------------- (c) disconnected node


def _utility_flow(tenant: str) -> None:
    publish_definitions(
        tenant,
        [instruction_node("ask", [{"id": "x"}]), script_node("quote", "return nodeParameters.qty * 3", ["qty"]),
         success_node()],
        [workflow("util", "q", [state("q", "ask", "done"), state("done"), state("bye", "done"),
                                state("price", "quote", parameters={"qty": "$.params.qty"})])],
    )


def test_disconnected_node_runs_against_the_context_without_moving_the_run(api, runs, tenant):
    _utility_flow(tenant)
    waiting = start(api, params={"workflowId": "util", "qty": 2}).json()
    url = f"/v3/workflow/{waiting['workflowId']}/disconnected-node/execute"

    with_params = api.post(url, {"node": "price", "parameters": {"qty": 5}}, format="json")
    assert with_params.status_code == 200, with_params.json()
    assert with_params.json() == {"workflowId": waiting["workflowId"], "node": "price", "status": "SUCCESS",
                                  "response": 15}
    from_context = api.post(url, {"node": "price"}, format="json")
    assert from_context.json()["response"] == 6

    unknown = api.post(url, {"node": "nope"}, format="json")
    assert unknown.status_code == 404 and "nope" in unknown.json()["message"]
    not_runnable = api.post(url, {"node": "bye"}, format="json")
    assert not_runnable.status_code == 400 and "SUCCESS" in not_runnable.json()["message"]
    assert api.get(f"/v3/workflow/{waiting['workflowId']}").json()["workflowStatus"] == "WAITING"


# --------------------------------------------------------------------------- (d) terminate


def test_terminate_a_waiting_run_then_everything_conflicts(api, samples):
    workflow_id = start_order(api, "1").json()["workflowId"]
    ended = api.delete(f"/v3/workflow/terminate/{workflow_id}", {"reason": "customer hung up"}, format="json")
    assert ended.status_code == 200, ended.json()
    assert (ended.json()["workflowStatus"], ended.json()["errorMessage"]) == ("TERMINATED", "customer hung up")
    assert Run.objects.get(workflow_id=workflow_id).status == "TERMINATED"
    assert api.delete(f"/v3/workflow/terminate/{workflow_id}").status_code == 409
    assert _resume(api, workflow_id, reason="DAMAGED").status_code == 409
    assert api.post(f"/v3/workflow/{workflow_id}/event/paid", {}, format="json").status_code == 409


def test_terminate_falls_back_to_a_hard_terminate_when_no_worker_answers(api, samples, settings, temporal):
    settings.TEMPORAL_TASK_QUEUE = "nobody-polls-this-queue"
    settings.DRIFT_TERMINATE_UPDATE_TIMEOUT_SECONDS = 1
    accepted = start_order(api, "1", mode="ASYNC")
    # RUNNING: the API pins the definition and writes the row as start_run would (issue 26), before any worker.
    assert accepted.status_code == 202 and accepted.json()["workflowStatus"] == "RUNNING"
    workflow_id = accepted.json()["workflowId"]
    ended = api.delete(f"/v3/workflow/terminate/{workflow_id}?reason=stuck")
    assert ended.status_code == 200, ended.json()
    assert (ended.json()["workflowStatus"], ended.json()["errorMessage"]) == ("TERMINATED", "stuck")
    described = run_async(temporal.get_workflow_handle(workflow_id).describe())
    assert described.status == WorkflowExecutionStatus.TERMINATED


# --------------------------------------------------------------------------- (e) events


def test_event_reaches_the_on_event_wait(api, runs, tenant):
    publish_event_flow(tenant)
    waiting = start(api, params={"workflowId": "evt"}).json()
    assert waiting["workflowStatus"] == "WAITING"
    sent = api.post(f"/v3/workflow/{waiting['workflowId']}/event/paid", {"amount": 12}, format="json")
    assert sent.status_code == 202
    assert sent.json() == {"workflowId": waiting["workflowId"], "event": "paid", "delivered": True}
    assert wait_final(waiting["workflowId"]).status == "COMPLETED"
    context = api.get(f"/v3/workflow/{waiting['workflowId']}?includeContext=true").json()["_global"]
    assert (context["w:event"], context["a"]) == ({"amount": 12}, 12)
    again = api.post(f"/v3/workflow/{waiting['workflowId']}/event/paid", {"amount": 1}, format="json")
    assert again.status_code == 409


# --------------------------------------------------------------------------- (f) sync timeout


def test_start_past_the_sync_timeout_answers_202_and_the_run_goes_on(api, runs, tenant, settings):
    settings.DRIFT_SYNC_TIMEOUT_SECONDS = 0.5
    publish_definitions(
        tenant,
        [wait_node("pause", waitType="SCHEDULER_WAIT", duration=3, executionMode="SYNC"), success_node()],
        [workflow("slow", "p", [state("p", "pause", "done"), state("done")])],
    )
    response = start(api, params={"workflowId": "slow"})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["workflowId"] and body["workflowStatus"] in {"CREATED", "RUNNING"}
    assert wait_final(body["workflowId"]).status == "COMPLETED"


def test_a_run_handing_over_to_continue_as_new_answers_202(api, runs, tenant, settings, httpserver):
    settings.DRIFT_HISTORY_EVENT_LIMIT = 15
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/ping").respond_with_json({"pong": True})
    ping = {"id": "ping", "name": "ping", "type": "HTTP",
            "httpComponents": {"url": value(httpserver.url_for("/ping"), "STATIC"), "method": "GET"}}
    publish_definitions(
        tenant,
        [script_node("inc", "return (_global.n or 0) + 1"), success_node(), ping,
         branch_node("more", [("return _global.n < 25", "count")], default="done")],
        [workflow("long", "count", [state("count", "inc", "call", contextOverrideKey="n"),
                                    state("call", "ping", "check"), state("check", "more"), state("done")])],
    )
    response = start(api, params={"workflowId": "long"})
    assert response.status_code == 202, response.json()
    assert response.json()["workflowStatus"] == "RUNNING"
    assert wait_final(response.json()["workflowId"]).status == "COMPLETED"


# --------------------------------------------------------------------------- (i) tenant isolation


def test_another_tenant_sees_nothing_of_a_run_or_its_definitions(api, samples, tenant):
    workflow_id = start_order(api, "1").json()["workflowId"]
    other = client_for(f"{tenant}-b")
    calls = {
        "get": other.get(f"/v3/workflow/{workflow_id}?includeContext=true"),
        "resume": _resume(other, workflow_id, reason="DAMAGED"),
        "terminate": other.delete(f"/v3/workflow/terminate/{workflow_id}"),
        "event": other.post(f"/v3/workflow/{workflow_id}/event/paid", {}, format="json"),
        "disconnected": other.post(f"/v3/workflow/{workflow_id}/disconnected-node/execute", {"node": "x"},
                                   format="json"),
        "definition": other.get("/workflowDefinition/order_status"),
    }
    assert {name: response.status_code for name, response in calls.items()} == dict.fromkeys(calls, 404)
    assert not any("WAITING" in str(response.json()) for response in calls.values())
    taken = start(other, params={"workflowId": "order_status"}, workflowId=workflow_id)
    assert taken.status_code == 409  # the id is taken; nothing of the run is shown
    assert "workflowStatus" not in taken.json()
    unknown_flow = start(other, issueDetail={"issueId": "order_status"})
    assert unknown_flow.status_code == 404
    assert Run.objects.get(workflow_id=workflow_id).status == "WAITING"
