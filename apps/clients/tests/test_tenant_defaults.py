"""A tenant's default run limits (spec §13), kept in the admin (clients.TenantDefaults): validated like a
definition's `limits`, scoped to the tenants a staff user may act for, and obeyed by admission."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from apps.clients.models import TenantDefaults, TenantMembership
from apps.runs.admission import admission_limits

ADD, CHANGELIST = "admin:clients_tenantdefaults_add", "admin:clients_tenantdefaults_changelist"
PERMISSIONS = ("view_tenantdefaults", "add_tenantdefaults", "change_tenantdefaults", "delete_tenantdefaults")


def staff(client, tenant: str) -> User:
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}", password="pw", is_staff=True)
    TenantMembership.objects.create(user=user, tenant=tenant)
    user.user_permissions.set(Permission.objects.filter(codename__in=PERMISSIONS))
    client.force_login(user)
    return user


def _post_add(client, tenant: str, limits: str):
    return client.post(reverse(ADD), {"tenant": tenant, "limits": limits})


def test_staff_sets_their_tenants_default_and_admission_uses_it(client, db, settings):
    settings.DRIFT_TENANT_LIMITS = {"*": {"maxConcurrentRuns": 9, "overflow": "QUEUE"}}
    staff(client, "ta")
    assert admission_limits(tenant="ta", workflow_key="w", definition=None)["maxConcurrentRuns"] == 9
    saved = _post_add(client, "ta", '{"maxConcurrentRuns": 3, "overflow": "REJECT"}')
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert TenantDefaults.objects.get(tenant="ta").limits == {"maxConcurrentRuns": 3, "overflow": "REJECT"}
    # The admin's default beats the deployment's; a definition's own limits beat both; other tenants: the fallback.
    assert admission_limits(tenant="ta", workflow_key="w", definition=None) == {
        "maxConcurrentRuns": 3, "startsPerMinute": None, "overflow": "REJECT"}
    own = {"limits": {"startsPerMinute": 1}}
    assert admission_limits(tenant="ta", workflow_key="w", definition=own) == {
        "maxConcurrentRuns": None, "startsPerMinute": 1, "overflow": "QUEUE"}
    assert admission_limits(tenant="tb", workflow_key="w", definition=None)["maxConcurrentRuns"] == 9
    # Emptied: the deployment's default again.
    row = TenantDefaults.objects.get(tenant="ta")
    assert client.post(reverse("admin:clients_tenantdefaults_change", args=[row.pk]), {"limits": ""}).status_code \
        == 302
    assert admission_limits(tenant="ta", workflow_key="w", definition=None)["maxConcurrentRuns"] == 9


@pytest.mark.parametrize(("posted", "path"), [
    ('"5"', "$.limits"),
    ("[1]", "$.limits"),
    ('{"overflow": "QUEUE"}', "$.limits.maxConcurrentRuns"),
    ('{"maxConcurrentRuns": "5"}', "$.limits.maxConcurrentRuns"),
    ('{"maxConcurrentRuns": true}', "$.limits.maxConcurrentRuns"),
    ('{"maxConcurrentRuns": 5.0}', "$.limits.maxConcurrentRuns"),
    ('{"maxConcurrentRuns": 0}', "$.limits.maxConcurrentRuns"),
    ('{"maxConcurrentRuns": 1e999}', "$.limits.maxConcurrentRuns"),
    ('{"maxConcurrentRuns": NaN}', "$.limits.maxConcurrentRuns"),
    ('{"maxConcurrentRuns": -Infinity}', "$.limits.maxConcurrentRuns"),
    ('{"maxConcurrentRuns": 5, "overflow": "DROP"}', "$.limits.overflow"),
    ('{"maxConcurrentRuns": 5, "overflow": "\\ud800"}', "$.limits.overflow"),
    ('{"maxConcurrentRuns": 5, "\\ud800x": 1}', "$.limits.\\ud800x"),
    ('{"maxConcurrentRuns": 5, "burst": 2}', "$.limits.burst"),
    ('{"startsPerMinute": 0}', "$.limits.startsPerMinute"),
    ('{"maxConcurrentRuns": 5, "overflow": ' + "[" * 100_000 + "]" * 100_000 + "}", "$.limits"),
    ("{not json", "valid JSON"),
])
def test_bad_limits_are_refused_with_the_path_and_nothing_is_saved(client, db, posted, path):
    staff(client, "ta")
    refused = _post_add(client, "ta", posted)
    assert refused.status_code == 200  # the form again, with the error
    page = refused.content.decode()
    assert path in page, page[:3000]
    assert not TenantDefaults.objects.exists()


def test_a_huge_body_is_4xx_and_saves_nothing(client, db, settings):
    staff(client, "ta")
    refused = _post_add(client, "ta", '{"maxConcurrentRuns": 5, "x": "' + "y" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                                                                               + 1) + '"}')
    assert 400 <= refused.status_code < 500
    assert not TenantDefaults.objects.exists()


def test_a_staff_user_of_tenant_b_can_neither_see_nor_set_tenant_as_defaults(client, db):
    a_row = TenantDefaults.objects.create(tenant="ta", limits={"maxConcurrentRuns": 7, "overflow": "QUEUE"})
    staff(client, "tb")
    listed = client.get(reverse(CHANGELIST))
    assert listed.status_code == 200 and "ta defaults" not in listed.content.decode()
    change = reverse("admin:clients_tenantdefaults_change", args=[a_row.pk])
    assert client.get(change).status_code in (302, 404)
    assert client.post(change, {"limits": '{"maxConcurrentRuns": 1}'}).status_code in (302, 403, 404)
    forged = _post_add(client, "ta", '{"maxConcurrentRuns": 1}')
    assert forged.status_code in (200, 403)  # "ta" is not among the offered tenants
    assert TenantDefaults.objects.get(tenant="ta").limits == {"maxConcurrentRuns": 7, "overflow": "QUEUE"}
    assert TenantDefaults.objects.count() == 1
    assert _post_add(client, "tb", '{"maxConcurrentRuns": 2}').status_code == 302  # their own tenant: fine
