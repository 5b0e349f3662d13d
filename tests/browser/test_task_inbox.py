"""An operator works a human task (spec §11) in real Chromium: inbox with counts and overdue marks, claim,
every widget kind (static text with template variables, dropdown with a dependent dropdown, free text, date,
buttons), submit = resume, the run moves on; a colleague's stale page gets a clear message; an operator of
another group, or of the same group in another tenant, sees nothing of the task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.definitions.models import AuditEntry
from apps.runs.context_store import get_context_store
from apps.runs.models import NodeExecution, Run
from apps.tasks.models import Task, TaskStatus
from devtools.testing.browser import SCREENSHOTS
from devtools.testing.rest import client_for
from devtools.testing.tasks import PASSWORD, operator_create, refund_publish

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]


def _start(tenant: str, order: str) -> str:
    response = client_for(tenant, HTTP_X_USERNAME_ID="crm").post("/v3/workflow/start", {
        "params": {"workflowId": "refund", "orderId": order}, "customer": {"name": "Ada"}}, format="json")
    assert response.status_code == 200 and response.json()["workflowStatus"] == "WAITING", response.json()
    return response.json()["workflowId"]


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/inbox/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#drift-inbox-filters")


@pytest.mark.usefixtures("refund_flow", "operators")
def test_operator_claims_fills_every_widget_and_submits(browser, page, screenshot, live_server, tenant):
    base = live_server.url
    workflow_id = _start(tenant, "o-7")
    late_id = _start(tenant, "o-8")
    Task.objects.filter(workflow_id=late_id).update(due_at=timezone.now() - timedelta(minutes=42))
    task = Task.objects.get(workflow_id=workflow_id)

    # --- alice's inbox: both tasks, counts, the late one marked overdue
    _login(page, base, "alice")
    assert page.inner_text("#count-open") == "2" and page.inner_text("#count-overdue") == "1"
    late_row = page.locator(f"tr[data-workflow-id='{late_id}']")
    assert "overdue by" in late_row.locator(".drift-sla").inner_text()
    assert "drift-row-overdue" in late_row.get_attribute("class")
    screenshot("tasks-01-inbox")
    page.check("input[name=overdue]")
    page.click("#drift-inbox-filters input[type=submit]")
    page.wait_for_url("**overdue=1*")
    expect(page.locator("tbody tr[data-workflow-id]")).to_have_count(1)  # waits for the filtered page's rows

    # --- bob opens the same task before anyone claims it (his page will go stale)
    bob = browser.new_context(viewport={"width": 1400, "height": 1000})
    bob_page = bob.new_page()
    _login(bob_page, base, "bob")
    bob_page.goto(f"{base}/admin/inbox/{task.pk}/")

    # --- alice claims, then works the screen
    page.goto(f"{base}/admin/inbox/")
    page.locator(f"tr[data-workflow-id='{workflow_id}'] .drift-claim").click()
    assert page.locator(f"tr[data-workflow-id='{workflow_id}'] .drift-claimed-by").inner_text() == "alice"
    page.click(f"tr[data-workflow-id='{workflow_id}'] .drift-task-link")
    assert page.inner_text("#static-summary") == "Order o-7 of Ada"
    damage, days_late = page.locator("#id-damage"), page.locator("#id-days_late")
    assert not damage.is_visible() and not days_late.is_visible()
    page.select_option("#id-reason", "late")
    assert days_late.is_visible() and not damage.is_visible()
    page.select_option("#id-reason", "damaged")  # cascading: the dependent dropdown follows the parent
    assert damage.is_visible() and not days_late.is_visible()
    page.select_option("#id-damage", "screen")
    page.fill("#id-note", "Sorry about that!")
    page.fill("#id-refund_on", "2026-12-01")
    screenshot("tasks-02-form-filled")
    page.click("button.drift-choice[data-value=approve]")
    page.wait_for_selector(".messagelist .success")
    assert "moved on: COMPLETED" in page.inner_text(".messagelist")
    screenshot("tasks-03-submitted")

    run = Run.objects.get(workflow_id=workflow_id)
    assert run.status == "COMPLETED"
    answer = {"reason": "damaged", "damage": "screen", "note": "Sorry about that!", "refund_on": "2026-12-01",
              "decision": "approve"}
    assert get_context_store().load(workflow_id).context["echo"]["selectedOptions"] == answer
    assert NodeExecution.objects.get(run=run, outcome="RESUMED").actor == "alice"
    assert AuditEntry.objects.filter(kind="TASK", key=workflow_id, actor="alice",
                                     details__event="RESUMED").exists()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.RESUMED

    # --- bob's stale page: a clear message, not a second resume
    bob_page.click("button.drift-choice[data-value=reject]")
    conflict = bob_page.locator("#drift-conflict")
    assert "already completed by alice" in conflict.inner_text()
    assert "This task was completed by alice" in bob_page.inner_text("#drift-closed")
    _shot(bob_page, "tasks-04-stale-submit")
    bob.close()
    assert Run.objects.get(workflow_id=workflow_id).status == "COMPLETED"


def _shot(other_page, name: str) -> None:
    """A screenshot of another browser context's page, beside the fixture's."""
    other_page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.usefixtures("refund_flow", "operators")
def test_an_operator_of_another_group_sees_nothing_of_the_task(page, screenshot, live_server, tenant):
    base = live_server.url
    workflow_id = _start(tenant, "o-9")
    task = Task.objects.get(workflow_id=workflow_id)
    _login(page, base, "carol")
    assert page.inner_text("#count-open") == "0"
    assert workflow_id not in page.inner_text("#content")
    screenshot("tasks-05-other-group-inbox")
    response = page.goto(f"{base}/admin/inbox/{task.pk}/")
    assert response.status == 404
    assert "o-9" not in page.content()
    claim = page.request.post(f"{base}/admin/inbox/{task.pk}/claim/")
    assert claim.status in (403, 404)
    assert Task.objects.get(pk=task.pk).claimed_by == ""


@pytest.mark.usefixtures("refund_flow", "operators")
def test_the_same_group_in_another_tenant_neither_lists_nor_opens_the_task(page, screenshot, live_server, tenant):
    """mallory holds `support` in another tenant only (and still has the Django group of that name)."""
    base, other = live_server.url, f"{tenant}-b"
    refund_publish(other)
    theirs, ours = _start(tenant, "o-10"), _start(other, "o-11")
    task = Task.objects.get(workflow_id=theirs)
    operator_create("mallory", {other: ["support"]}, global_groups=["support"])
    _login(page, base, "mallory")
    assert page.inner_text("#count-open") == "1"
    assert page.locator(f"tr[data-workflow-id='{ours}']").count() == 1
    assert page.locator(f"tr[data-workflow-id='{theirs}']").count() == 0 and theirs not in page.content()
    screenshot("tasks-06-other-tenant-inbox")
    response = page.goto(f"{base}/admin/inbox/{task.pk}/")
    assert response.status == 404 and "o-10" not in page.content()
    assert page.request.post(f"{base}/admin/inbox/{task.pk}/claim/").status in (403, 404)
    assert Task.objects.get(pk=task.pk).claimed_by == ""
