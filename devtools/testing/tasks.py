"""Fixtures of the task tests (and the task inbox's browser tests): operators holding groups in a tenant and a
published workflow whose screen is a task."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.clients.models import TenantMembership
from devtools.testing.builders import instruction_node, script_node, state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions

PASSWORD = "s3cret-operator"
OPERATORS = {"alice": "support", "bob": "support", "carol": "billing"}


VIEW = ("tasks.view_task",)
WORK = ("tasks.view_task", "runs.start_run")


def operator_create(username: str, groups_by_tenant: dict[str, Iterable[str]], *, permissions=WORK,
                    global_groups: Iterable[str] = ()):
    """A staff user (it logs into the admin) bound to tenants, holding groups in each; none is a superuser.
    `global_groups`: Django groups, which give no task (they did before tasks were per tenant)."""
    user = get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    user.groups.add(*(Group.objects.get_or_create(name=group)[0] for group in global_groups))
    for tenant, groups in groups_by_tenant.items():
        membership = TenantMembership.objects.create(user=user, tenant=tenant)
        membership.groups.add(*(Group.objects.get_or_create(name=group)[0] for group in groups))
    return user


@pytest.fixture
def operators(transactional_db, tenant: str) -> dict:
    """alice and bob hold `support`, carol `billing`, all in the test's tenant."""
    return {name: operator_create(name, {tenant: [group]}) for name, group in OPERATORS.items()}


def refund_screen(**assignment) -> dict:
    """A screen with every widget kind, assigned to the `support` group unless told otherwise."""
    options = [
        {"id": "summary", "tags": {"values": ["ui.static_text"]},
         "description": "Order {{order}} of {{customer}}",
         "instructions": [{"templateId": "summary", "templateVariables": {
             "order": "{{params.orderId}}", "customer": "{{customer.name}}"}}]},
        {"id": "reason", "description": "Reason", "tags": {"values": ["ui.dropdown"]},
         "possibleValues": [{"displayValue": "Damaged", "value": "damaged"},
                            {"displayValue": "Late", "value": "late"}],
         "possibleDependentValues": {
             "damaged": {"id": "damage", "parentId": "reason", "description": "Damage",
                         "tags": {"values": ["ui.dropdown"]},
                         "possibleValues": [{"displayValue": "Broken screen", "value": "screen"},
                                            {"displayValue": "Dented box", "value": "box"}]},
             "late": {"id": "days_late", "parentId": "reason", "description": "Days late",
                      "tags": {"values": ["ui.free_text"]}}}},
        {"id": "note", "description": "Note to the customer", "tags": {"values": ["ui.free_text"]}},
        {"id": "refund_on", "description": "Refund date", "tags": {"values": ["ui.date_picker"]}},
        {"id": "decision", "description": "Decision", "tags": {"values": ["ui.button"]},
         "possibleValues": [{"displayValue": "Approve", "value": "approve"},
                            {"displayValue": "Reject", "value": "reject"}]},
    ]
    assignment = {"group": value("support", "STATIC"), "dueInSeconds": 3600} | assignment
    return instruction_node("refund_screen", options, layoutId="refund") | {"assignment": assignment}


@pytest.fixture
def refund_flow(runs, tenant: str) -> str:
    """`refund`: the screen, then a script echoing the answer, then done."""
    return refund_publish(tenant)


def refund_publish(tenant: str) -> str:
    publish_definitions(
        tenant,
        [refund_screen(), script_node("echo", "return _global['ask:viewResponse']"), success_node()],
        [workflow("refund", "ask", [state("ask", "refund_screen", "echo"), state("echo", "echo", "done"),
                                    state("done")])],
    )
    return "refund"
