"""Inbox pages without a browser: outsiders get 404s for every page and action of a task, bad answers are 400s
naming the option, and an operator may not submit a task a colleague holds."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.runs.context_store import get_context_store
from apps.tasks.models import Task
from devtools.testing.tasks import PASSWORD

pytestmark = pytest.mark.temporal


def _client(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def task(refund_flow, operators, api) -> Task:
    response = api.post("/v3/workflow/start", {"params": {"workflowId": "refund", "orderId": "o-1"}}, format="json")
    assert response.json()["workflowStatus"] == "WAITING", response.json()
    return Task.objects.get(workflow_id=response.json()["workflowId"])


def test_outsider_gets_404_everywhere(task):
    carol = _client("carol")
    assert task.workflow_id not in carol.get("/admin/inbox/").content.decode()
    assert carol.get(f"/admin/inbox/{task.pk}/").status_code == 404
    for action in ("claim", "release"):
        assert carol.post(f"/admin/inbox/{task.pk}/{action}/").status_code == 404
    assert carol.post(f"/admin/inbox/{task.pk}/", {"opt:decision": "approve"}).status_code == 404
    task.refresh_from_db()
    assert (task.status, task.claimed_by) == ("OPEN", "")
    assert Client().get("/admin/inbox/").status_code == 302  # anonymous: to the login page


@pytest.mark.parametrize(("posted", "option"), [
    ({"opt:reason": "stolen"}, "reason"),
    ({"opt:decision": "maybe"}, "decision"),
    ({"opt:refund_on": "next tuesday"}, "refund_on"),
    ({"opt:note": "x" * 2001}, "note"),
    ({"opt:reason": "damaged", "opt:damage": "fire"}, "damage"),
])
def test_bad_answers_are_400_naming_the_option(task, posted, option):
    response = _client("alice").post(f"/admin/inbox/{task.pk}/", posted)
    assert response.status_code == 400
    assert option in response.context["errors"]
    task.refresh_from_db()
    assert task.status == "OPEN"


def test_a_dependent_answer_counts_only_under_its_parent_value(task):
    response = _client("alice").post(f"/admin/inbox/{task.pk}/", {
        "opt:reason": "late", "opt:damage": "fire", "opt:days_late": "3", "opt:decision": "approve"})
    assert response.status_code == 302
    selected = get_context_store().load(task.workflow_id).context["ask:viewResponse"]["selectedOptions"]
    assert selected == {"reason": "late", "days_late": "3", "decision": "approve"}


def test_a_task_held_by_a_colleague_cannot_be_submitted(task):
    assert _client("bob").post(f"/admin/inbox/{task.pk}/claim/").status_code == 302
    response = _client("alice").post(f"/admin/inbox/{task.pk}/", {"opt:decision": "approve"})
    assert response.status_code == 409
    assert "already claimed by bob" in response.context["conflict"]
    task.refresh_from_db()
    assert task.status == "OPEN"


def test_the_task_admin_lists_every_task_for_superusers(task, admin_client):
    page = admin_client.get("/admin/tasks/task/")
    assert page.status_code == 200 and task.workflow_id in page.content.decode()
    assert admin_client.get(f"/admin/inbox/{task.pk}/").status_code == 200  # superusers see every task
