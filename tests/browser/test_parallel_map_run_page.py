"""An operator reads PARALLEL and MAP runs on the run page in a real browser: the timeline labels each node with
its branch lane, and a MAP lists its items (a failed one with its error and a link to its own run)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.runs.models import Run
from devtools.testing.browser import ENRICH, LANE_NODES, LINES, OPERATOR, PASSWORD, admin_login
from devtools.testing.builders import state, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.temporal import Runs

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]


def _login(page, base: str) -> None:
    get_user_model().objects.create_superuser(OPERATOR, "op@example.com", PASSWORD)
    admin_login(page, base)


def test_run_page_shows_branch_lanes_and_map_items(page, screenshot, live_server, worker, temporal, tenant):
    publish_definitions(tenant, LANE_NODES, [
        workflow("enrich", "enrich", [ENRICH, state("credit"), state("fraud", "fraud", "fraud_check"),
                                      state("fraud_check"), state("done")]),
        workflow("line", "double", [state("double", "double", "done"), state("done")]),
        workflow("refund", "lines", [LINES, state("done")]),
    ])
    runs = Runs(temporal, worker, tenant)
    parallel = runs.start("enrich")
    mapped = runs.start("refund", {"lines": [1, 2, 0, 5]})
    assert (parallel["workflowStatus"], mapped["workflowStatus"]) == ("COMPLETED", "COMPLETED")
    _login(page, live_server.url)

    page.goto(f"{live_server.url}/admin/runs/run/{Run.objects.get(workflow_id=parallel['workflowId']).pk}/change/")
    rows = page.locator("#node_executions-group tbody tr:has(td.field-instance_name)")
    lanes = {rows.nth(i).locator("td.field-instance_name").inner_text().strip():
             rows.nth(i).locator("td.field-branch_lane").inner_text().strip() for i in range(rows.count())}
    assert lanes == {"credit": "enrich / credit", "fraud": "enrich / fraud", "fraud_check": "enrich / fraud",
                     "enrich": "main", "done": "main"}
    screenshot("40-run-parallel-lanes", element="#node_executions-group")

    page.goto(f"{live_server.url}/admin/runs/run/{Run.objects.get(workflow_id=mapped['workflowId']).pk}/change/")
    items = page.locator("#drift-map-lines")
    assert "4 item runs" in items.inner_text() and "FAILED 1" in items.inner_text()
    assert [items.locator("tr.drift-map-item").nth(i).get_attribute("data-index") for i in range(4)] == [
        "0", "1", "2", "3"]
    failed = items.locator("tr.drift-map-item.drift-status-FAILED")
    assert failed.get_attribute("data-index") == "2" and "division by zero" in failed.inner_text()
    screenshot("41-run-map-items", element="fieldset:has(#drift-map-lines)")
    failed.locator("a").click()
    # Wait for the item's page itself: the MAP run's page has a #drift-run-status too.
    page.wait_for_url(f"**/admin/runs/run/{Run.objects.get(workflow_id__endswith='.2').pk}/change/")
    assert page.inner_text("#drift-run-status") == "FAILED"
    page.go_back()
    page.click("#drift-map-lines a.drift-map-all")
    page.wait_for_url("**/admin/runs/run/?workflow_id__startswith=*")
    page.wait_for_selector("#result_list tbody tr")
    assert page.locator("#result_list tbody tr").count() == 4
    screenshot("42-map-item-runs-list")
