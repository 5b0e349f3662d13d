"""A finished production run turned into a test case (spec §9), through the service and the admin."""

from __future__ import annotations

import json

import pytest

from apps.definitions.models import WorkflowDefinition
from apps.runs.models import Run
from apps.trials.from_run import case_from_run
from devtools.testing import trial_flows
from devtools.testing.definitions import publish_definitions

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]


def test_a_finished_run_becomes_a_passing_case(api, runs, tenant, httpserver, settings, client, django_user_model):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    httpserver.expect_request("/orders/9").respond_with_json({"amount": 20})
    publish_definitions(tenant, trial_flows.nodes(httpserver.url_for("").rstrip("/")), [trial_flows.refund()])
    started = runs.start("refund", {"orderId": 9})
    assert started["workflowStatus"] == "COMPLETED", started
    run = Run.objects.get(workflow_id=started["workflowId"])

    case = case_from_run(run)
    assert case["start"]["params"] == {"orderId": 9}
    assert case["mocks"] == {"fetch": [{"output": {"amount": 20, "code": 200}}]}
    assert case["expect"] == {"status": "COMPLETED", "path": ["fetch", "decide", "auto", "done"]}

    # --- through the admin: the case shown on the run's page, then added to the SNAPSHOT's tests
    django_user_model.objects.create_superuser("op", "op@example.com", "pw")
    client.login(username="op", password="pw")
    page = client.get(f"/admin/runs/run/{run.pk}/as-test-case/")
    assert page.status_code == 200 and json.loads(page.context["case"]) == case
    assert b"drift-as-test-case" in client.get(f"/admin/runs/run/{run.pk}/change/").content
    added = client.post(f"/admin/runs/run/{run.pk}/as-test-case/")
    head = WorkflowDefinition.objects.get(tenant=tenant, key="refund")
    assert added.status_code == 302 and added.url.endswith(f"/workflowdefinition/{head.pk}/change/")
    client.post(f"/admin/runs/run/{run.pk}/as-test-case/")  # twice: a second, distinct name

    report = api.post("/workflowDefinition/refund/test?version=SNAPSHOT").json()
    assert [c["name"] for c in report["cases"]] == [case["name"], f"{case['name']} (2)"]
    assert report["passed"] is True, report
    assert len(httpserver.log) == 1  # the production run's call only: the test runs made none


def test_sensitive_values_never_reach_a_test_case(api, runs, tenant, httpserver, settings):
    """Issue 19 item 5: the case holds `***` where the run sealed a value, neither the value nor its envelope."""
    from devtools.testing.builders import state, value, workflow

    phone = "+1-555-0177-20"
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    httpserver.expect_request("/lookup").respond_with_json({"echo": phone})
    lookup = {"id": "lookup", "name": "lookup", "type": "HTTP",
              "httpComponents": {"url": value(httpserver.url_for("/lookup"), "STATIC"), "method": "GET"}}
    publish_definitions(tenant, [lookup],
                        [workflow("sealed_case", "lookup", [state("lookup", "lookup")],
                                  sensitivePaths=["$.customer.phone"])])
    started = api.post("/v3/workflow/start", {"params": {"workflowId": "sealed_case"}, "customer": {"phone": phone}},
                       format="json").json()
    assert started["workflowStatus"] == "COMPLETED", started
    case = case_from_run(Run.objects.get(workflow_id=started["workflowId"]))
    text = json.dumps(case)
    assert phone not in text and "$sealed" not in text
    assert case["start"]["customer"]["phone"] == "***" and case["mocks"]["lookup"] == [{"output": {"echo": "***"}}]
