"""Trying and testing definitions in a real browser (spec §9): the node page's "Try it" panel, the workflow
page's "Run tests" report, a broken version refused at activation, and a finished run turned into a case."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from apps.definitions.cache import definition_cache
from apps.definitions.models import NodeDefinition, WorkflowDefinition
from apps.runs.models import Run
from devtools.testing import trial_flows
from devtools.testing.browser import PASSWORD, admin_login
from devtools.testing.builders import script_node
from devtools.testing.definitions import publish_definitions


def _try(page, context: dict, version: str = "1") -> str:
    page.select_option("#drift-try-version", version)
    page.fill("#drift-try-context", json.dumps(context))
    page.click("#drift-try-run")
    page.wait_for_function("() => !document.getElementById('drift-try-status').textContent.startsWith('Running')"
                           " && document.getElementById('drift-try-result').textContent")
    return page.locator("#drift-try-status").inner_text()


@pytest.mark.django_db(transaction=True)
def test_try_a_script_node_beside_its_sample_context(page, screenshot, live_server, tenant):
    definition_cache.clear()
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    source = "total = _global.params.price * _global.params.quantity\nreturn {'total': total / _global.params.split}"
    publish_definitions(tenant, [script_node("order_total", source)], [])
    pk = NodeDefinition.objects.get(tenant=tenant, key="order_total").pk
    admin_login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/definitions/nodedefinition/{pk}/change/")
    page.wait_for_selector("#drift-try")

    status = _try(page, {"params": {"price": 5, "quantity": 4, "split": 2}})
    assert status.startswith("OK: SCRIPT node order_total"), status
    assert json.loads(page.locator("#drift-try-result").inner_text())["outcome"] == {"output": {"total": 10.0}}
    screenshot("trials-01-try-it-ok", element="#drift-try")

    status = _try(page, {"params": {"price": 5, "quantity": 4, "split": 0}})
    assert status.startswith("Failed at script line 2:") and "ZeroDivisionError" in status, status
    screenshot("trials-02-try-it-script-error", element="#drift-try")

    page.fill("#drift-try-mock", '{"status": 200}')  # a script node makes no call to mock: refused, with the path
    status = _try(page, {"params": {}})
    assert status.startswith("Refused:") and "$.mock" in status, status
    page.fill("#drift-try-mock", "")

    page.fill("#drift-try-context", "{not json")
    page.click("#drift-try-run")
    expect(page.locator("#drift-try-status")).to_contain_text("Context is not valid JSON")


@pytest.mark.temporal
@pytest.mark.django_db(transaction=True)
def test_run_tests_and_a_broken_version_cannot_be_activated(page, screenshot, live_server, worker, tenant):
    definition_cache.clear()
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    publish_definitions(tenant, trial_flows.nodes(), [trial_flows.refund(trial_flows.cases())])
    pk = WorkflowDefinition.objects.get(tenant=tenant, key="refund").pk
    change_url = f"{live_server.url}/admin/definitions/workflowdefinition/{pk}/change/"
    admin_login(page, live_server.url)

    # --- v1's cases pass: the report shows each case, its path and timeline
    page.goto(change_url)
    page.select_option("#drift-test-version", "1")
    page.click("#drift-run-tests")
    page.wait_for_selector("#drift-test-summary")
    assert page.locator("#drift-test-summary").inner_text().startswith("PASSED Version 1: 3 cases")
    paths = page.locator(".drift-case-path").all_inner_texts()
    assert paths[1] == "fetch › decide › review" and paths[2] == "fetch › decide › review › pause › done"
    screenshot("trials-03-test-report-passed")

    # --- a broken SNAPSHOT (wrong threshold), edited in the admin and published as v2
    page.goto(change_url)
    page.fill("#id_document", json.dumps(trial_flows.refund(trial_flows.cases(), threshold=1000), indent=2))
    page.click("input[name=_continue]")
    page.wait_for_selector("ul.messagelist .success")
    page.click("#drift-publish")
    expect(page.locator("ul.messagelist")).to_contain_text("as version 2")

    # --- its tests fail, with the first differing expectation
    page.select_option("#drift-test-version", "2")
    page.click("#drift-run-tests")
    page.wait_for_selector("#drift-test-summary")
    assert page.locator("#drift-test-summary").inner_text().startswith("FAILED Version 2: 3 cases, 2 failed")
    failures = page.locator(".drift-case-failure").all_inner_texts()
    assert failures[0].startswith("status: expected WAITING, got COMPLETED"), failures
    screenshot("trials-04-test-report-failed")

    # --- and it cannot be activated: the failures are listed, v1 stays active
    page.goto(change_url)
    page.select_option("#drift-activate-version", "2")
    page.click("#drift-activate")
    messages = page.locator("ul.messagelist").inner_text()
    assert "fails 2 of its 3 test cases" in messages and "$.tests[1]: big refunds wait for a reviewer" in messages
    assert WorkflowDefinition.objects.get(pk=pk).active_version == 1
    screenshot("trials-05-activation-refused")


@pytest.mark.temporal
@pytest.mark.django_db(transaction=True)
def test_a_finished_run_becomes_a_test_case(page, screenshot, live_server, runs, tenant, httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    httpserver.expect_request("/orders/5").respond_with_json({"amount": 40})
    definition_cache.clear()
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    publish_definitions(tenant, trial_flows.nodes(httpserver.url_for("").rstrip("/")), [trial_flows.refund()])
    finished = runs.start("refund", {"orderId": 5})
    assert finished["workflowStatus"] == "COMPLETED", finished
    run_pk = Run.objects.get(workflow_id=finished["workflowId"]).pk
    admin_login(page, live_server.url)

    page.goto(f"{live_server.url}/admin/runs/run/{run_pk}/change/")
    page.click("#drift-as-test-case")
    case = json.loads(page.locator("#drift-run-case").inner_text())
    assert case["expect"] == {"status": "COMPLETED", "path": ["fetch", "decide", "auto", "done"]}
    assert case["mocks"] == {"fetch": [{"output": {"amount": 40, "code": 200}}]}
    screenshot("trials-06-run-as-test-case")
    page.click("#drift-add-test-case")
    expect(page.locator("ul.messagelist")).to_contain_text("added to the SNAPSHOT")

    page.select_option("#drift-test-version", "SNAPSHOT")  # the new case passes on the SNAPSHOT
    page.click("#drift-run-tests")
    assert page.locator("#drift-test-summary").inner_text().startswith("PASSED Version SNAPSHOT: 1 case")
    assert len(httpserver.log) == 1  # only the production run called out
