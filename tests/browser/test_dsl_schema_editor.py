"""The admin JSON editor checks documents against the DSL's JSON Schema as the operator types, and hints the
fields allowed where the caret is (issue 9)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from devtools.testing.browser import PASSWORD, admin_login

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_editor_lists_schema_problems_and_hints_fields(page, screenshot, live_server):
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    admin_login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/definitions/nodedefinition/add/")
    node = {"id": "get_status", "type": "HTTP", "httpComponents": {"method": "FETCH"},
            "retry": {"attempts": 3, "maxAttempts": 0}}
    page.fill("#id_document", json.dumps(node, indent=2))
    page.click("button[data-action=check]")
    problems = page.locator("ul.drift-schema-problems")
    problems.wait_for()
    text = problems.inner_text()
    assert "$.httpComponents.url: is required" in text, text
    assert '$.httpComponents.method: must be one of "GET", "POST", "PUT", "PATCH", "DELETE"' in text, text
    assert "$.retry.attempts: is not an allowed field here" in text, text
    assert "$.retry.maxAttempts: must be at least 1" in text, text
    expect(page.locator(".drift-json-status")).to_contain_text("4 schema problems")

    # The caret inside "retry": the hint lists the retry settings not yet used.
    source = page.input_value("#id_document")
    caret = source.index('"maxAttempts"')
    page.locator("#id_document").evaluate(f"(area) => {{ area.focus(); area.setSelectionRange({caret}, {caret}); }}")
    page.locator("#id_document").dispatch_event("click")
    hint = page.locator(".drift-json-hint").inner_text()
    assert hint.startswith("Fields at $.retry: available initialIntervalSeconds, backoffCoefficient"), hint
    screenshot("dsl-schema-editor-problems")

    fixed = {"id": "get_status", "type": "HTTP", "httpComponents": {"url": "https://x.example/", "method": "GET"},
             "retry": {"maxAttempts": 2}}
    page.fill("#id_document", json.dumps(fixed, indent=2))
    page.click("button[data-action=check]")
    assert page.locator(".drift-json-status").inner_text() == "Valid JSON, fits the DSL schema"
    assert page.locator("ul.drift-schema-problems").is_hidden()
