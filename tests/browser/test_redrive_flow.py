"""An operator redrives a failed run in a real browser: opens the Redrive… form on the run page, patches the
context, submits, and lands on the new run, which began at the failed node and completes."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from apps.runs.models import Run
from devtools.testing.builders import script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import wait_final
from devtools.testing.temporal import Runs

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]

PASSWORD = "s3cret-operator"


def test_operator_redrives_a_failed_run_with_a_context_patch(page, screenshot, live_server, worker, temporal,
                                                            tenant):
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    publish_definitions(
        tenant,
        [script_node("prep", "return {'amount': 10}"),
         script_node("charge", "return _global.prep.amount / (1 if _global.fixed else 0)"), success_node()],
        [workflow("pay", "prep", [state("prep", "prep", "charge"), state("charge", "charge", "done"),
                                  state("done")])],
    )
    failed = Runs(temporal, worker, tenant).start("pay")
    assert failed["workflowStatus"] == "FAILED"
    old = Run.objects.get(workflow_id=failed["workflowId"])

    base = live_server.url
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto(f"{base}/admin/runs/run/?q=status%3DFAILED+workflowDefinitionId%3Dpay")  # the API's search keys
    page.click(f"#result_list a:text('{old.workflow_id}')")
    page.click("#drift-redrive-open")
    assert page.get_attribute("#drift-redrive-form input[name=from_node]", "placeholder") == "charge"
    page.fill("#drift-redrive-form textarea[name=context_patch]", '{"fixed": true}')
    screenshot("10-redrive-form")
    page.click("#drift-redrive")

    page.wait_for_selector("ul.messagelist .success")
    assert "redriven as" in page.inner_text("ul.messagelist")
    new = Run.objects.get(redrive_of=old.workflow_id)
    assert re.search(rf"/admin/runs/run/{new.pk}/change/", page.url)
    assert wait_final(new.workflow_id).status == "COMPLETED"
    page.reload()
    assert "began at node charge" in page.inner_text("body")
    screenshot("11-redriven-run")
