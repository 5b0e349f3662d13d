"""Fixtures of the task tests: operators in Django groups and a published workflow whose screen is a task."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from conftest import publish_definitions
from worker.tests.builders import instruction_node, script_node, state, success_node, value, workflow

PASSWORD = "s3cret-operator"
OPERATORS = {"alice": "support", "bob": "support", "carol": "billing"}


@pytest.fixture
def operators(transactional_db) -> dict:
    """Staff users (they log into the admin) in their groups; none is a superuser."""
    users = {}
    for name, group in OPERATORS.items():
        user = get_user_model().objects.create_user(name, f"{name}@example.com", PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get_or_create(name=group)[0])
        users[name] = user
    return users


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
    publish_definitions(
        tenant,
        [refund_screen(), script_node("echo", "return _global['ask:viewResponse']"), success_node()],
        [workflow("refund", "ask", [state("ask", "refund_screen", "echo"), state("echo", "echo", "done"),
                                    state("done")])],
    )
    return "refund"
