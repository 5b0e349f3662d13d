"""An operator rotates a client's webhook secret in the admin and reads the new one, once, in a real browser."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.clients.models import ApiClient
from apps.clients.services import api_client_get_or_create

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "s3cret-operator"


def test_operator_rotates_a_webhook_secret_and_sees_it_once(page, screenshot, live_server, tenant):
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    client = api_client_get_or_create(tenant=tenant, client_id="crm")
    old_secret = client.webhook_secret
    base = live_server.url
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{base}/admin/clients/apiclient/?q={tenant}")
    assert old_secret not in page.content()
    page.check(f"input[name=_selected_action][value='{client.pk}']")
    page.select_option("select[name=action]", "rotate_webhook_secrets")
    page.click("button[name=index]")
    page.wait_for_selector("#drift-webhook-secrets")
    shown = page.locator("#drift-webhook-secrets code.drift-secret").inner_text()
    screenshot("webhook-secret-rotated")
    assert shown == ApiClient.objects.get(pk=client.pk).webhook_secret != old_secret

    page.click("a.button:text('Back to the clients')")
    page.wait_for_selector("#result_list")
    assert shown not in page.content()  # once only
