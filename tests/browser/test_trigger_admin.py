"""An operator wires a shop's webhook in a real browser: creates a trigger in the admin, sends a test event
(previewing the start body the mapping builds), and opens the run it started (delivered by a real Celery
worker into real Temporal)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from apps.runs.models import Run
from devtools.testing.browser import admin_login
from devtools.testing.rest import wait_final, wait_for
from devtools.testing.triggers import hmac_auth, publish_flows, put_secret

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]

PASSWORD = "s3cret-operator"


def test_operator_creates_a_trigger_sends_a_test_event_and_sees_its_run(page, screenshot, live_server, worker,
                                                                        tenant, celery_worker):  # noqa: F811
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    publish_flows(tenant)
    put_secret(tenant)
    base = live_server.url
    admin_login(page, base, "operator", PASSWORD)

    page.goto(f"{base}/admin/triggers/trigger/add/")
    page.fill("#id_tenant", tenant)
    page.fill("#id_trigger_id", "shop-orders")
    page.select_option("#id_action", "START")
    page.fill("#id_workflow_key", "greet")
    page.fill("#id_mapping", json.dumps({"params.who": "$.body.customer.name", "customer.id": "$.headers.x-shop"}))
    page.fill("#id_correlation", "{}")
    page.fill("#id_dedupe_key", "$.headers.x-event-id")
    page.fill("#id_auth", json.dumps(hmac_auth()))
    screenshot("40-trigger-form")
    page.click("input[name=_continue]")
    page.wait_for_selector("ul.messagelist .success")

    page.click("#drift-send-test-event")
    page.fill("#id_body", json.dumps({"customer": {"name": "Grace"}}))
    page.fill("#id_headers", json.dumps({"X-Shop": "shop-7", "X-Event-Id": "browser-1"}))
    page.click("input[name=preview]")
    preview = page.inner_text("#drift-test-preview")
    assert '"who": "Grace"' in preview and '"id": "shop-7"' in preview
    assert not Run.objects.filter(tenant=tenant).exists(), "a preview starts nothing"
    screenshot("41-test-event-preview")

    page.click("input[name=send]")
    reply = page.inner_text("#drift-test-reply")
    workflow_id = json.loads(reply)["workflowId"]
    assert wait_final(workflow_id).status == "COMPLETED"
    test_page = page.url

    def outcome_shown() -> bool:
        page.goto(test_page)  # a GET: the form again, with the recent events
        return "DONE" in page.inner_text("#drift-test-events")

    wait_for(outcome_shown, "the event's outcome on the page")
    screenshot("42-test-event-sent")
    page.click(f"#drift-test-events a:text('{workflow_id}')")
    page.wait_for_selector("#content")
    assert workflow_id in page.inner_text("#content") and "COMPLETED" in page.inner_text("#content")
    screenshot("43-run-started-by-the-trigger")
