"""The admin's tenant boundary beyond the matrix (tests/test_tenancy_matrix.py): which actions a staff user is
offered, by permission, and what a tenant form offers and accepts."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from apps.clients.models import TenantMembership
from apps.operations.models import Schedule
from apps.runs.models import Run


def staff(client, tenant: str, *codenames: str) -> User:
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}", password="pw", is_staff=True)
    TenantMembership.objects.create(user=user, tenant=tenant)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def offered_actions(client, changelist: str) -> set[str]:
    response = client.get(reverse(changelist))
    assert response.status_code == 200
    form = response.context["action_form"]  # None when no action is offered
    return set(dict(form.fields["action"].choices)) - {""} if form else set()


@pytest.fixture
def rows(db):
    run = Run.objects.create(workflow_id="run-b-1", tenant="b", definition_key="flow", status="WAITING")
    schedule = Schedule.objects.create(tenant="b", schedule_id="nightly", workflow_key="flow", cron="0 0 * * *")
    return run, schedule


def test_view_only_staff_is_offered_no_run_or_schedule_action(client, rows):
    staff(client, "b", "view_run", "view_schedule")
    assert offered_actions(client, "admin:runs_run_changelist") == set()
    assert offered_actions(client, "admin:operations_schedule_changelist") == set()
    run = rows[0]
    page = client.get(reverse("admin:runs_run_change", args=[run.pk])).content.decode()
    assert "drift-terminate" not in page and "drift-rerun" not in page
    assert client.post(reverse("admin:runs_run_terminate", args=[run.pk])).status_code == 403


def test_run_actions_follow_start_and_terminate(client, rows):
    staff(client, "b", "view_run", "terminate_run")
    assert offered_actions(client, "admin:runs_run_changelist") == {"terminate_runs", "bulk_terminate"}
    assert client.post(reverse("admin:runs_run_rerun", args=[rows[0].pk])).status_code == 403


def test_schedule_trigger_needs_start_run_and_reconcile_is_for_superusers(client, rows):
    staff(client, "b", "view_schedule", "change_schedule", "delete_schedule")
    assert offered_actions(client, "admin:operations_schedule_changelist") == {"pause_schedules", "resume_schedules",
                                                                          "delete_selected"}
    staff(client, "b", "view_schedule", "change_schedule", "start_run")
    assert "trigger_schedules" in offered_actions(client, "admin:operations_schedule_changelist")
    assert "reconcile_all" not in offered_actions(client, "admin:operations_schedule_changelist")


def test_reconcile_is_offered_to_a_superuser(admin_client, rows):
    assert "reconcile_all" in offered_actions(admin_client, "admin:operations_schedule_changelist")


def test_the_tenant_field_offers_and_accepts_the_users_tenants_only(client, rows):
    staff(client, "b", "view_schedule", "add_schedule")
    page = client.get(reverse("admin:operations_schedule_add")).content.decode()
    assert '<option value="b">b</option>' in page and 'name="tenant"' in page and '"a"' not in page
    response = client.post(reverse("admin:operations_schedule_add"), {
        "tenant": "a", "schedule_id": "forged", "workflow_key": "flow", "cron": "0 0 * * *", "overlap": "SKIP",
        "start": "{}"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Schedule.objects.filter(tenant="a").exists()
