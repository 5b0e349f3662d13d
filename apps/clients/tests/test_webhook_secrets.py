"""Operators hand a client its webhook secret without database access: `create_api_key` prints it, the admin's
rotate action shows a new one once, and the admin shows it nowhere else."""

from __future__ import annotations

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.urls import reverse

from apps.clients.models import ApiClient
from apps.clients.services import api_client_get_or_create

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:clients_apiclient_changelist")


def test_create_api_key_prints_the_key_and_the_webhook_secret(tenant):
    out = io.StringIO()
    call_command("create_api_key", tenant=tenant, client="crm", stdout=out)
    key_line, secret_line, *_ = out.getvalue().splitlines()
    assert key_line.startswith("drift_")
    assert secret_line == f"webhook secret: {ApiClient.objects.get(tenant=tenant, client_id='crm').webhook_secret}"


def test_a_client_without_a_secret_gets_one_with_its_next_key(tenant):
    ApiClient.objects.create(tenant=tenant, client_id="legacy")
    out = io.StringIO()
    call_command("create_api_key", tenant=tenant, client="legacy", stdout=out)
    secret = ApiClient.objects.get(tenant=tenant, client_id="legacy").webhook_secret
    assert len(secret) == 64 and f"webhook secret: {secret}" in out.getvalue()


def test_the_admin_never_shows_a_secret_it_did_not_just_create(admin_client, tenant):
    client = api_client_get_or_create(tenant=tenant, client_id="crm")
    for url in (CHANGELIST, reverse("admin:clients_apiclient_change", args=[client.pk])):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert client.webhook_secret not in page.content.decode()


def test_the_rotate_action_shows_each_new_secret_once(admin_client, tenant):
    first = api_client_get_or_create(tenant=tenant, client_id="crm")
    second = api_client_get_or_create(tenant=tenant, client_id="shop")
    old = {first.webhook_secret, second.webhook_secret}
    selected = {"action": "rotate_webhook_secrets", "_selected_action": [first.pk, second.pk]}
    page = admin_client.post(CHANGELIST, selected)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    html = page.content.decode()
    for client in (first, second):
        client.refresh_from_db()
        assert client.webhook_secret not in old and client.webhook_secret in html
    assert LogEntry.objects.filter(object_id__in=[str(first.pk), str(second.pk)],
                                   change_message="Rotated the webhook secret.").count() == 2
    assert first.webhook_secret not in admin_client.get(CHANGELIST).content.decode()


def test_the_admin_refuses_a_callback_url_the_ssrf_guard_would_refuse(admin_client, tenant, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    form = {"tenant": tenant, "client_id": "crm", "name": "", "callback_url": "http://127.0.0.1:8000/hook",
            "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"}
    page = admin_client.post(reverse("admin:clients_apiclient_add"), form)
    assert page.status_code == 200 and "not a public address" in page.content.decode()
    assert not ApiClient.objects.filter(tenant=tenant).exists()

    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert admin_client.post(reverse("admin:clients_apiclient_add"), form).status_code == 302
    assert len(ApiClient.objects.get(tenant=tenant, client_id="crm").webhook_secret) == 64  # signed from the start
