"""Admin: the write-only secret form, masked run context, and the audited reveal page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from apps.clients.models import TenantMembership
from apps.runs.context_store import get_context_store
from apps.runs.models import Run
from apps.secrets.models import RevealAudit, Secret
from apps.secrets.sealing import SealedRun, seal
from apps.secrets.selectors import secret_value

pytestmark = pytest.mark.django_db
PHONE = "+1-555-0199"


def test_secret_form_is_write_only(admin_client):
    add = reverse("admin:secrets_secret_add")
    response = admin_client.post(add, {"tenant": "acme", "name": "crm.token", "value": "tok-Secret-99"})
    assert response.status_code == 302, response.content.decode()[:2000]
    secret = Secret.objects.get(tenant="acme", name="crm.token")
    assert secret_value(tenant="acme", name="crm.token") == "tok-Secret-99" and secret.updated_by == "admin"

    change = reverse("admin:secrets_secret_change", args=[secret.pk])
    page = admin_client.get(change).content.decode()
    assert "tok-Secret-99" not in page and 'type="password"' in page
    assert admin_client.post(change, {"value": ""}).status_code == 302  # empty keeps the value
    assert secret_value(tenant="acme", name="crm.token") == "tok-Secret-99"
    assert admin_client.post(change, {"value": "tok-Rotated-1"}).status_code == 302
    assert secret_value(tenant="acme", name="crm.token") == "tok-Rotated-1"
    assert "tok-" not in admin_client.get(reverse("admin:secrets_secret_changelist")).content.decode()


def test_secret_form_refuses_a_bad_name_or_no_value(admin_client):
    add = reverse("admin:secrets_secret_add")
    assert "A new secret needs a value" in admin_client.post(add, {"tenant": "acme", "name": "x"}).content.decode()
    response = admin_client.post(add, {"tenant": "acme", "name": "a b", "value": "v-1234"})
    assert response.status_code == 200 and not Secret.objects.exists()


@pytest.fixture
def sealed_run() -> Run:
    run = Run.objects.create(workflow_id="run-sealed", tenant="acme", definition_key="flow", status="COMPLETED",
                             start_request=seal({"tenant": "acme", "start": {"customer": {"phone": PHONE}}}, [PHONE],
                                                SealedRun("acme", "run-sealed")))
    get_context_store().save(run.workflow_id, context=seal({"customer": {"phone": PHONE, "id": "c7"}}, [PHONE],
                                                           SealedRun("acme", "run-sealed")),
                             current_node="done", status="COMPLETED", seq=1)
    return run


def test_run_page_masks_and_reveal_is_audited(admin_client, sealed_run):
    change = reverse("admin:runs_run_change", args=[sealed_run.pk])
    page = admin_client.get(change).content.decode()
    assert PHONE not in page and "***" in page and "c7" in page and 'id="drift-reveal"' in page

    reveal = reverse("admin:runs_run_reveal", args=[sealed_run.pk])
    assert admin_client.get(reveal).status_code == 403  # POST only: a link prefetch must not reveal
    revealed = admin_client.post(reveal).content.decode()
    assert PHONE in revealed
    audit = RevealAudit.objects.get(workflow_id="run-sealed")
    assert (audit.actor, audit.tenant, audit.channel) == ("admin", "acme", "admin")


def test_staff_without_the_permission_cannot_reveal(client, sealed_run):
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    TenantMembership.objects.create(user=user, tenant=sealed_run.tenant)  # the admin shows its tenants only
    user.user_permissions.add(Permission.objects.get(codename="view_run"))
    client.login(username="operator", password="pw")
    page = client.get(reverse("admin:runs_run_change", args=[sealed_run.pk])).content.decode()
    assert PHONE not in page and 'id="drift-reveal"' not in page
    assert client.post(reverse("admin:runs_run_reveal", args=[sealed_run.pk])).status_code == 403
    assert not RevealAudit.objects.exists()

    user.user_permissions.add(Permission.objects.get(codename="reveal_sensitive"))
    user = User.objects.get(pk=user.pk)  # permissions are cached per instance
    client.force_login(user)
    assert PHONE in client.post(reverse("admin:runs_run_reveal", args=[sealed_run.pk])).content.decode()
