"""Spec §7 / issue 9: start requests shaped as the original Drift's (orderDetails array, customer.customerId,
queueDetail, parentWorkflowId), through the real API and engine."""

from __future__ import annotations

import pytest

from apps.definitions.services import route_save
from apps.runs.models import Run
from devtools.testing.builders import state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_for

pytestmark = pytest.mark.temporal


def _flows(tenant: str) -> None:
    publish_definitions(tenant, [success_node()], [workflow("variant_a", "done", [state("done")]),
                                                   workflow("variant_b", "done", [state("done")])])
    route_save(tenant=tenant, issue_id="ab", workflow_key="variant_a", actor="tests",
               variants=[{"workflowId": "variant_a", "weight": 1}, {"workflowId": "variant_b", "weight": 1}])


@pytest.mark.parametrize("order_details", [[{"orderId": "OD_1"}, {"orderId": "OD_2"}], {"orderId": "OD_3"}, []])
def test_order_details_array_or_object_is_stored(api, runs, tenant, order_details):
    _flows(tenant)
    response = start(api, issueDetail={"issueId": "ab"}, orderDetails=order_details)
    assert response.status_code == 200, response.json()
    context = api.get(f"/v3/workflow/{response.json()['workflowId']}?includeContext=true").json()["_global"]
    assert context["orderDetails"] == order_details


@pytest.mark.parametrize("bad", ["OD_1", 5, ["OD_1"], [{"orderId": 1}, None], True])
def test_order_details_of_another_shape_is_a_400_with_its_path(api, db, bad):
    response = start(api, issueDetail={"issueId": "ab"}, orderDetails=bad)
    assert response.status_code == 400, response.json()
    assert "$.orderDetails" in [detail["path"] for detail in response.json()["details"]]


def test_openapi_schema_says_array_or_object(api, db):
    schema = api.get("/api/schema/?format=json").json()
    start_schema = next(s for name, s in schema["components"]["schemas"].items() if name.startswith("Start"))
    shapes = start_schema["properties"]["orderDetails"]["oneOf"]
    assert {shape["type"] for shape in shapes} == {"array", "object"}
    assert {"queueDetail", "parentWorkflowId"} <= set(start_schema["properties"])


def test_customer_id_and_customer_customer_id_bucket_alike_and_fill_the_mirror(api, runs, tenant):
    _flows(tenant)
    variants = {}
    for n in range(12):
        customer = f"cust-{n}"
        by_id = start(api, issueDetail={"issueId": "ab"}, customer={"id": customer}, mode="ASYNC").json()
        by_original = start(api, issueDetail={"issueId": "ab"}, customer={"customerId": customer}, mode="ASYNC").json()
        first, second = (Run.objects.get(workflow_id=r["workflowId"]) for r in (by_id, by_original))
        assert first.definition_key == second.definition_key, customer
        assert first.customer_id == second.customer_id == customer
        variants[customer] = first.definition_key
    assert set(variants.values()) == {"variant_a", "variant_b"}  # bucketing does split customers


def test_queue_detail_and_parent_workflow_id_are_accepted_and_stored(api, runs, tenant):
    _flows(tenant)
    queue = {"queueId": "Q1", "queueName": "refunds"}
    response = start(api, issueDetail={"issueId": "ab"}, queueDetail=queue, parentWorkflowId="WF_PARENT_1")
    assert response.status_code == 200, response.json()
    workflow_id = response.json()["workflowId"]
    detail = api.get(f"/v3/workflow/{workflow_id}?includeContext=true").json()
    assert detail["_global"]["queueDetail"] == queue
    assert detail["_global"]["parentWorkflowId"] == "WF_PARENT_1"
    # Stored, but it does not link runs (only CHILD nodes do): terminating WF_PARENT_1 could not reach this run.
    assert detail["parentWorkflowId"] is None
    start_request = wait_for(lambda: Run.objects.get(workflow_id=workflow_id).start_request, "start request")
    assert start_request["start"]["queueDetail"] == queue


@pytest.mark.parametrize("field, bad", [("queueDetail", "Q1"), ("queueDetail", [1]), ("parentWorkflowId", {"a": 1}),
                                        ("parentWorkflowId", "x" * 201)])
def test_queue_detail_and_parent_workflow_id_bad_input_is_a_400(api, db, field, bad):
    response = start(api, issueDetail={"issueId": "ab"}, **{field: bad})
    assert response.status_code == 400, response.json()
    assert f"$.{field}" in [detail["path"] for detail in response.json()["details"]]


def test_thread_context_keeps_the_callers_entries_but_not_a_forged_identity(api, runs, tenant):
    _flows(tenant)
    response = start(api, issueDetail={"issueId": "ab"}, incidentId="IN-1",
                     threadContext={"perfFlag": "true", "tenant": "someone-else", "clientId": "forged"})
    context = api.get(f"/v3/workflow/{response.json()['workflowId']}?includeContext=true").json()["_global"]
    assert context["threadContext"] == {"perfFlag": "true", "tenant": tenant, "clientId": "tests", "userId": "tests"}
    assert (context["incidentId"], context["workflowId"]) == ("IN-1", response.json()["workflowId"])
    assert response.json()["incidentId"] == "IN-1"
