"""An operator in a real browser: sets a secret through the write-only form, sees a run's sensitive values
masked, reveals them (audited) and finds the reveal in the audit list."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.runs.context_store import get_context_store
from apps.runs.models import Run
from apps.secrets.sealing import SealedRun, seal
from apps.secrets.selectors import secret_value

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "s3cret-operator"
PHONE = "+1-555-0123-45"


def test_operator_sets_a_secret_and_reveals_a_run(page, screenshot, live_server, tenant):
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    run = Run.objects.create(workflow_id="run-browser-reveal", tenant=tenant, definition_key="contact",
                             status="COMPLETED")
    get_context_store().save(run.workflow_id, context=seal({"customer": {"phone": PHONE, "id": "c-1"}}, [PHONE],
                                                           SealedRun(tenant, run.workflow_id)),
                             current_node="done", status="COMPLETED", seq=1)
    base = live_server.url
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{base}/admin/secrets/secret/add/")
    page.fill("#id_tenant", tenant)
    page.fill("#id_name", "crm.token")
    assert page.get_attribute("#id_value", "type") == "password"
    page.fill("#id_value", "tok-From-Browser-1")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert page.input_value("#id_value") == "" and "tok-From-Browser-1" not in page.content()
    screenshot("secret-change-form")
    assert secret_value(tenant=tenant, name="crm.token") == "tok-From-Browser-1"

    page.goto(f"{base}/admin/runs/run/{run.pk}/change/")
    assert PHONE not in page.content() and "***" in page.content()
    page.click("#drift-reveal")
    page.wait_for_selector("#drift-revealed")
    assert PHONE in page.inner_text("#drift-revealed")
    screenshot("run-revealed")

    page.goto(f"{base}/admin/secrets/revealaudit/")
    assert "run-browser-reveal" in page.inner_text("#result_list")
