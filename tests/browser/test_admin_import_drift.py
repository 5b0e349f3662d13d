"""An operator imports the original Drift's definition files in the admin (issue 9): a translated file is
saved, an untranslatable one is reported per JSON path and saves nothing."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from apps.definitions.models import Definition
from devtools.testing.browser import PASSWORD, admin_login

pytestmark = [pytest.mark.django_db(transaction=True)]


def _groovy(node_id: str, script: str) -> bytes:
    node = {"id": node_id, "name": node_id, "type": "GROOVY", "version": "1",
            "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": script}}}
    return json.dumps(node).encode()


def test_operator_imports_drift_files_and_reads_the_report(page, screenshot, live_server, tenant):
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    admin_login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/definitions/nodedefinition/")
    page.click("#drift-import-link")
    page.fill("#id_tenant", tenant)
    page.set_input_files("#id_files", [
        {"name": "summary.json", "mimeType": "application/json",
         "buffer": _groovy("summary", "def r = [:]; r['total'] = _global?.order?.total ?: 0; return r")},
        {"name": "stamp.json", "mimeType": "application/json",
         "buffer": _groovy("stamp", "return ['at': new Date().toString()]")},
    ])
    page.click("#drift-import-submit")
    report = page.locator("#drift-import-report")
    report.wait_for()
    text = report.inner_text()
    assert "summary.json" in text and "node summary: SNAPSHOT" in text, text
    assert "stamp.json:$.transformer.value.data: cannot translate Groovy: object construction (`new`)" in text, text
    expect(page.locator("ul.messagelist")).to_contain_text("1 of 2 file(s) imported.")
    screenshot("admin-import-drift-report")
    assert set(Definition.objects.filter(tenant=tenant).values_list("key", flat=True)) == {"summary"}
