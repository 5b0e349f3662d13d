"""The shared sample workflow (../shared/spec/samples/order_status) with test cases covering both branches,
the WAITING screen and its resume, and the failure route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from devtools.testing.definitions import publish_definitions

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]

SAMPLES = Path(settings.BASE_DIR).parent / "shared/spec/samples"
CASES = Path(__file__).with_name("order_status.tests.json")


@pytest.fixture(autouse=True)
def _oms_address(api):
    # The sample's URL script reads the enum store; the request is built even when its response is mocked.
    assert api.put("/enumStore/oms", {"value": {"base_url": "https://oms.invalid"}}, format="json").status_code == 200


def sample_with_cases() -> tuple[list[dict], dict]:
    nodes = json.loads((SAMPLES / "order_status.nodes.json").read_text())
    workflow = json.loads((SAMPLES / "order_status.workflow.json").read_text())
    return nodes, {**workflow, "tests": json.loads(CASES.read_text())}


def test_the_sample_workflow_passes_its_cases(api, tenant, worker):
    nodes, workflow = sample_with_cases()
    publish_definitions(tenant, nodes, [workflow])  # activation ran the cases: they passed
    report = api.post("/workflowDefinition/order_status/test?version=ACTIVE").json()
    assert report["passed"] is True, [c["failure"] for c in report["cases"]]
    returnable, waiting, shipped, failing = report["cases"]
    assert waiting["states"][-1]["view"]["layoutId"] == "return_form"
    assert shipped["status"] == "COMPLETED" and returnable["path"][-2:] == ["record_reason", "done"]
    assert failing["errorMessage"].startswith("Order flow failed: node get_order failed")
    assert "returned 503" in failing["timeline"][0]["error"]


def test_a_broken_sample_version_fails_and_is_not_activated(api, tenant, worker):
    nodes, workflow = sample_with_cases()
    publish_definitions(tenant, nodes, [workflow])
    broken = json.loads(json.dumps(workflow))
    broken["states"]["decide"]["nodeDefinition"] = {
        **next(n for n in nodes if n["id"] == "is_returnable"), "defaultNode": "ask_reason"}  # everyone may return
    for key in ("resourceId", "resourceVersion"):
        broken["states"]["decide"].pop(key)
    assert api.put("/workflowDefinition/", broken, format="json").status_code == 200
    assert api.post("/workflowDefinition/order_status/publishWorkflow/").status_code == 201
    refused = api.post("/workflowDefinition/order_status/activate?version=LATEST")
    assert refused.status_code == 409
    assert refused.json()["details"] == [{"path": "$.tests[2]", "problem": "an order on its way shows its status: "
                                                                           "status: expected COMPLETED, got WAITING"}]
    assert api.get("/workflowDefinition/order_status/versions/").json()["activeVersion"] == 1
