"""Issue 8.2: an admin session is the API only for the user's own tenants and only with the action's permission.

Real sessions (the test client logs in; DRF's SessionAuthentication reads the session cookie) against the real
definition and runtime views.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from apps.clients.models import TenantMembership
from apps.definitions.services import enum_entry_set

pytestmark = pytest.mark.django_db


def session(user: User, tenant: str) -> Client:
    client = Client(HTTP_X_TENANT_ID=tenant, HTTP_X_CLIENT_ID="admin")
    client.force_login(user)
    return client


def staff(*codenames: str, tenants: tuple[str, ...] = (), **flags) -> User:
    user = User.objects.create_user(f"u{User.objects.count()}", password="x", is_staff=True, **flags)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    for tenant in tenants:
        TenantMembership.objects.create(user=user, tenant=tenant)
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def stores() -> tuple[str, str]:
    for tenant in ("acme", "globex"):
        enum_entry_set(tenant=tenant, key="secret", value=f"{tenant}-only", actor="tests")
    return "acme", "globex"


def test_an_unbound_staff_user_with_every_permission_is_refused(stores):
    user = staff("view_enumentry", "change_enumentry", "view_run", "start_run")
    for tenant in stores:
        response = session(user, tenant).get("/enumStore/")
        assert response.status_code == 403, response.content
        assert b"may not act for tenant" in response.content


def test_a_bound_user_reads_its_tenant_and_nothing_of_another(stores):
    user = staff("view_enumentry", tenants=("acme",))
    assert session(user, "acme").get("/enumStore/").json() == {"secret": "acme-only"}
    other = session(user, "globex").get("/enumStore/")
    assert other.status_code == 403 and b"globex-only" not in other.content


def test_a_bound_user_lacking_the_action_permission_is_refused(stores):
    reader = staff("view_enumentry", tenants=("acme",))
    put = session(reader, "acme").put("/enumStore/secret", {"value": "changed"}, content_type="application/json")
    assert put.status_code == 403 and b"definitions.change_enumentry" in put.content
    writer = staff("view_enumentry", "change_enumentry", tenants=("acme",))
    put = session(writer, "acme").put("/enumStore/secret", {"value": "changed"}, content_type="application/json")
    assert put.status_code == 200, put.content
    assert session(writer, "acme").get("/workflowDefinition/").status_code == 403  # no view_definition


def test_runtime_calls_need_the_run_permissions(stores):
    body = {"issueDetail": {"issueId": "nothing-routed"}}
    viewer = staff("view_run", tenants=("acme",))
    start = session(viewer, "acme").post("/v3/workflow/start", body, content_type="application/json")
    assert start.status_code == 403 and b"runs.start_run" in start.content
    assert session(viewer, "acme").get("/v3/workflow/unknown-run").status_code == 404  # allowed, just not there
    starter = staff("view_run", "start_run", tenants=("acme",))
    start = session(starter, "acme").post("/v3/workflow/start", body, content_type="application/json")
    assert start.status_code == 404, start.content  # past authorization: nothing routed for the issue
    assert session(starter, "globex").post("/v3/workflow/start", body,
                                           content_type="application/json").status_code == 403
    terminate = session(starter, "acme").delete("/v3/workflow/terminate/unknown-run")
    assert terminate.status_code == 403 and b"runs.terminate_run" in terminate.content


def test_superusers_act_for_every_tenant_and_non_staff_never(stores):
    root = staff(is_superuser=True)
    for tenant in stores:
        assert session(root, tenant).get("/enumStore/").json() == {"secret": f"{tenant}-only"}
    member = User.objects.create_user("plain", password="x", is_staff=False)
    member.user_permissions.set(Permission.objects.filter(codename="view_enumentry"))
    TenantMembership.objects.create(user=member, tenant="acme")
    assert session(member, "acme").get("/enumStore/").status_code == 403


def test_operators_bind_users_to_tenants_in_the_admin(admin_client):
    user = staff("view_enumentry")
    page = admin_client.get(f"/admin/auth/user/{user.pk}/change/")
    assert page.status_code == 200 and b"API tenants" in page.content
    added = admin_client.post("/admin/clients/tenantmembership/add/", {"user": user.pk, "tenant": "acme"})
    assert added.status_code == 302, added.content[:2000]
    assert list(TenantMembership.objects.filter(user=user).values_list("tenant", flat=True)) == ["acme"]
    listed = admin_client.get("/admin/clients/tenantmembership/", {"tenant": "acme"})
    assert user.username.encode() in listed.content
