"""Test cases run on the real engine (spec §9): the real DriftWorkflow in test mode on the session's worker."""

from __future__ import annotations

import pytest

from apps.runs.models import NodeExecution, Run, WebhookDelivery
from devtools.testing import trial_flows
from devtools.testing.definitions import publish_definitions

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]


def run_tests(api, key: str = "refund", version: str = "LATEST") -> dict:
    response = api.post(f"/workflowDefinition/{key}/test?version={version}")
    assert response.status_code == 200, response.content
    return response.json()


def test_cases_cover_both_branches_the_waiting_screen_and_resume(api, tenant, worker, client):
    publish_definitions(tenant, trial_flows.nodes(), [trial_flows.refund(trial_flows.cases())])
    report = run_tests(api)
    assert report["passed"] is True, report
    small, waiting, resumed = report["cases"]
    assert small["path"] == ["fetch", "decide", "auto", "done"]
    assert [entry["outcome"] for entry in small["timeline"]] == ["SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"]
    assert waiting["status"] == "WAITING" and waiting["states"][-1]["view"]["layoutId"] == "refund_review"
    # The 2-day cool-off took no time: the run went on to completion in this one call.
    assert resumed["path"] == ["fetch", "decide", "review", "pause", "done"]
    assert [s["status"] for s in resumed["states"]] == ["WAITING", "RUNNING", "SCHEDULER_WAITING", "RUNNING",
                                                      "COMPLETED"]
    # Test runs are not production runs: no Run row, no timeline row, no webhook; not in metrics.
    assert not Run.objects.filter(tenant=tenant).exists() and not NodeExecution.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert 'workflow="refund"' not in client.get("/metrics").content.decode()


def test_first_differing_expectation_and_unmocked_http(api, tenant, worker):
    cases = [
        {"name": "wrong status", "mocks": {"fetch": [trial_flows.order(20)]}, "expect": {"status": "WAITING"}},
        {"name": "wrong path", "mocks": {"fetch": [trial_flows.order(20)]},
         "expect": {"status": "COMPLETED", "path": ["fetch", "decide", "review"]}},
        {"name": "wrong value", "mocks": {"fetch": [trial_flows.order(20)]},
         "expect": {"context": {"$.auto.amount": 21}}},
        {"name": "no mock for the call", "expect": {"status": "FAILED"}},
        {"name": "mocked error", "mocks": {"fetch": [{"error": "OMS down"}]},
         "expect": {"status": "FAILED", "path": ["fetch"]}},
        {"name": "mocked 503", "mocks": {"fetch": [trial_flows.order(1, status=503)]}, "expect": {"status": "FAILED"}},
        {"name": "mocked branch output",
         "mocks": {"fetch": [trial_flows.order(1)], "decide": [{"output": {"nextNode": "review"}}]},
         "expect": {"status": "WAITING", "path": ["fetch", "decide", "review"]}},
    ]
    publish_definitions(tenant, trial_flows.nodes(), [])
    assert api.post("/workflowDefinition/", trial_flows.refund(cases), format="json").status_code == 201
    assert api.post("/workflowDefinition/refund/publishWorkflow/").status_code == 201  # not activated: it fails
    report = run_tests(api)
    failures = {case["name"]: case["failure"] for case in report["cases"]}
    assert report["passed"] is False
    assert failures["wrong status"] == "status: expected WAITING, got COMPLETED"
    assert failures["wrong path"] == "path step 3: expected review, got auto (path fetch > decide > auto > done)"
    assert failures["wrong value"] == "context $.auto.amount: expected 21, got 20"
    assert failures["no mock for the call"] == ("HTTP node fetch has no mock for execution 1 (the case gives 0); "
                                                "test runs make no real calls")
    assert failures["mocked error"] is None and failures["mocked branch output"] is None
    assert failures["mocked 503"] is None  # the mocked response goes through the node's status handling
    error_case = next(c for c in report["cases"] if c["name"] == "mocked 503")
    assert "returned 503" in error_case["errorMessage"]


def test_snapshot_and_versions_are_tested_as_stored(api, tenant, worker):
    publish_definitions(tenant, trial_flows.nodes(), [trial_flows.refund(trial_flows.cases())])
    broken = trial_flows.refund(trial_flows.cases(), threshold=1000)
    assert api.put("/workflowDefinition/", broken, format="json").status_code == 200
    snapshot = run_tests(api, version="SNAPSHOT")
    assert snapshot["passed"] is False and snapshot["version"] == "SNAPSHOT"
    assert snapshot["cases"][1]["failure"].startswith("status: expected WAITING, got COMPLETED")
    assert run_tests(api, version="1")["passed"] is True


def test_a_definition_without_cases_reports_nothing_and_unknown_is_404(api, tenant, worker):
    publish_definitions(tenant, trial_flows.nodes(), [trial_flows.refund()])
    assert run_tests(api) | {"id": 0, "createdAt": ""} == {
        "id": 0, "createdAt": "", "workflowId": "refund", "version": 1, "passed": True, "cases": [],
        "actor": "tests/tests"}
    assert api.post("/workflowDefinition/nope/test").status_code == 404
    assert api.post("/workflowDefinition/refund/test?version=x").status_code == 400


@pytest.mark.parametrize(("tests", "path"), [
    ("x", "$.tests"),
    ([{"name": "a", "mocks": {"nowhere": [{"output": 1}]}}], "$.tests[0].mocks.nowhere"),
    ([{"name": "a", "mocks": {"auto": [{"status": 200}]}}], "$.tests[0].mocks.auto[0].status"),
    ([{"name": "a", "mocks": {"fetch": [{"status": 1000}]}}], "$.tests[0].mocks.fetch[0].status"),
    ([{"name": "a", "mocks": {"fetch": [{}]}}], "$.tests[0].mocks.fetch[0]"),
    ([{"name": "a", "mocks": {"fetch": {"output": 1}}}], "$.tests[0].mocks.fetch"),
    ([{"name": "a"}, {"name": "a"}], "$.tests[1].name"),
    ([{"name": "a", "expect": {"status": "DONE"}}], "$.tests[0].expect.status"),
    ([{"name": "a", "expect": {"path": ["fetch", "elsewhere"]}}], "$.tests[0].expect.path[1]"),
    ([{"name": "a", "resumes": [1]}], "$.tests[0].resumes[0]"),
    ([{}], "$.tests[0].name"),
])
def test_bad_cases_are_refused_at_save_with_their_path(api, tenant, tests, path):
    publish_definitions(tenant, trial_flows.nodes(), [])
    response = api.post("/workflowDefinition/", trial_flows.refund(tests), format="json")
    assert response.status_code == 400, response.content
    assert path in [d["path"] for d in response.json()["details"]], response.json()


def test_a_version_activates_only_when_its_cases_pass_and_the_audit_names_the_report(api, tenant, worker):
    from apps.definitions.models import AuditEntry
    from apps.trials.models import TestReport

    # v1 active: its cases passed
    publish_definitions(tenant, trial_flows.nodes(), [trial_flows.refund(trial_flows.cases())])
    activation = AuditEntry.objects.filter(tenant=tenant, key="refund", action="ACTIVATE").get()
    assert TestReport.objects.get(pk=activation.details["testReport"]).passed is True

    broken = trial_flows.refund(trial_flows.cases(), threshold=1000)
    assert api.put("/workflowDefinition/", broken, format="json").status_code == 200
    assert api.post("/workflowDefinition/refund/publishWorkflow/").json()["version"] == 2
    refused = api.post("/workflowDefinition/refund/activate?version=2")
    assert refused.status_code == 409, refused.content
    body = refused.json()
    assert [d["path"] for d in body["details"]] == ["$.tests[1]", "$.tests[2]"]
    assert body["details"][0]["problem"].startswith("big refunds wait for a reviewer: status: expected WAITING")
    assert TestReport.objects.get(pk=body["testReport"]).passed is False
    assert api.get("/workflowDefinition/refund/versions/").json()["activeVersion"] == 1
    assert AuditEntry.objects.filter(tenant=tenant, key="refund", action="ACTIVATE").count() == 1
    assert api.post("/workflowDefinition/refund/activate?version=1").status_code == 200  # rollback: passes


def test_events_come_from_the_case_and_a_missing_one_fails_it(api, tenant, worker):
    from devtools.testing.builders import script_node, state, success_node, wait_node, workflow

    nodes = [wait_node("paid", waitType="ON_EVENT", eventName="payment", timeoutSeconds=3 * 86400),
             script_node("receipt", "return {'paid': _global['wait_payment:event'].amount}"), success_node("done")]
    cases = [
        {"name": "paid", "events": {"payment": {"amount": 30}},
         "expect": {"status": "COMPLETED", "context": {"$.receipt.paid": 30}}},
        {"name": "never paid", "expect": {"status": "FAILED"}},
    ]
    flow = workflow("checkout", "wait_payment", [state("wait_payment", "paid", "receipt"),
                                                 state("receipt", "receipt", "done"), state("done")])
    publish_definitions(tenant, nodes, [])
    assert api.post("/workflowDefinition/", flow | {"tests": cases}, format="json").status_code == 201
    assert api.post("/workflowDefinition/checkout/publishWorkflow/").status_code == 201
    paid, never = run_tests(api, "checkout")["cases"]
    assert paid["passed"] is True, paid
    assert never["failure"] == "node wait_payment waits for event 'payment', which the case does not give"


def test_child_runs_are_mocked_never_started(api, tenant, worker):
    from devtools.testing.builders import child_node, state, success_node, workflow

    publish_definitions(tenant, [child_node("sub", "other"), success_node("done")], [])
    cases = [{"name": "mocked child", "mocks": {"call_sub": [{"output": {"workflowStatus": "COMPLETED"}}]},
              "expect": {"status": "COMPLETED", "context": {"$.call_sub.workflowStatus": "COMPLETED"}}},
             {"name": "unmocked child", "expect": {"status": "FAILED"}}]
    flow = workflow("parent", "call_sub", [state("call_sub", "sub", "done"), state("done")])
    assert api.post("/workflowDefinition/", flow | {"tests": cases}, format="json").status_code == 201
    report = run_tests(api, "parent", version="SNAPSHOT")
    assert report["cases"][0]["passed"] is True, report["cases"][0]
    assert report["cases"][1]["failure"] == ("CHILD node call_sub has no mock for execution 1 (the case gives 0); "
                                             "test runs make no real calls")
    assert not Run.objects.filter(tenant=tenant).exists()
