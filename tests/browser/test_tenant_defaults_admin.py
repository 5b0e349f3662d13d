"""A tenant's staff user in a real browser sets the tenant's default run limits (spec §13) in the admin: a bad
value names its field path, a good one is saved, listed and obeyed by admission at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from apps.clients.models import TenantDefaults, TenantMembership
from apps.runs.admission import admission_limits
from devtools.testing.browser import OPERATOR, PASSWORD, admin_login

pytestmark = pytest.mark.django_db(transaction=True)
PERMISSIONS = ("view_tenantdefaults", "add_tenantdefaults", "change_tenantdefaults")


def test_staff_set_their_tenants_default_limits(page, screenshot, live_server):
    user = User.objects.create_user(OPERATOR, password=PASSWORD, is_staff=True)
    TenantMembership.objects.create(user=user, tenant="shop")
    user.user_permissions.set(Permission.objects.filter(codename__in=PERMISSIONS))
    base = live_server.url
    admin_login(page, base)

    page.goto(f"{base}/admin/")
    page.click("a[href='/admin/clients/tenantdefaults/add/']")
    page.select_option("#id_tenant", "shop")
    page.fill("#id_limits", '{"maxConcurrentRuns": 0, "overflow": "QUEUE"}')
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert "$.limits.maxConcurrentRuns" in page.inner_text(".field-limits")
    assert not TenantDefaults.objects.exists()

    page.fill("#id_limits", '{"maxConcurrentRuns": 3, "overflow": "REJECT"}')
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist .success")
    assert "shop" in page.inner_text("#result_list")
    screenshot("tenant-defaults-list")
    assert admission_limits(tenant="shop", workflow_key="any", definition=None) == {
        "maxConcurrentRuns": 3, "startsPerMinute": None, "overflow": "REJECT"}
