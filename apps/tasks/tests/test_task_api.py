"""The task API (spec §11) through the real stack: a live worker writes Task rows, client apps list and claim
them for their users, and an operator outside the task's group sees nothing of it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.definitions.models import AuditEntry
from apps.runs.models import NodeExecution
from apps.tasks.models import Task, TaskStatus
from devtools.testing.rest import client_for, wait_for

pytestmark = pytest.mark.temporal


@pytest.fixture
def as_user(tenant):
    return lambda username: client_for(tenant, HTTP_X_USERNAME_ID=username)


def _start(client) -> str:
    response = client.post("/v3/workflow/start", {"params": {"workflowId": "refund", "orderId": "o-7"},
                                                  "customer": {"name": "Ada"}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["workflowStatus"] == "WAITING"
    return response.json()["workflowId"]


def test_group_members_list_and_claim_outsiders_see_nothing(refund_flow, operators, as_user):
    workflow_id = _start(as_user("alice"))
    [task] = Task.objects.filter(workflow_id=workflow_id)
    assert (task.group, task.status, task.node) == ("support", TaskStatus.OPEN, "ask")

    listed = as_user("alice").get("/v3/tasks").json()
    assert [t["workflowId"] for t in listed["results"]] == [workflow_id]
    assert listed["results"][0]["view"]["inputOptions"][0]["instructions"][0]["templateVariables"] == {
        "order": "o-7", "customer": "Ada"}
    assert as_user("alice").get("/v3/tasks", {"group": "billing"}).json()["count"] == 0
    assert as_user("alice").get("/v3/tasks", {"overdue": "true"}).json()["count"] == 0

    # carol (billing): nothing, not even a 403 that confirms it exists; a name with no user of the tenant: 403
    assert as_user("carol").get("/v3/tasks").json() == {"count": 0, "results": []}
    assert as_user("carol").post(f"/v3/tasks/{workflow_id}/claim").status_code == 404
    assert as_user("nobody").get("/v3/tasks").status_code == 403

    claimed = as_user("alice").post(f"/v3/tasks/{workflow_id}/claim")
    assert claimed.status_code == 200 and claimed.json()["claimedBy"] == "alice"
    taken = as_user("bob").post(f"/v3/tasks/{workflow_id}/claim")
    assert taken.status_code == 409 and "alice" in taken.json()["message"]
    assert as_user("bob").get("/v3/tasks", {"assignee": "alice"}).json()["count"] == 1
    assert as_user("bob").post(f"/v3/tasks/{workflow_id}/release").status_code == 409
    assert as_user("alice").post(f"/v3/tasks/{workflow_id}/release").json()["claimedBy"] == ""

    Task.objects.filter(pk=task.pk).update(due_at=timezone.now() - timedelta(minutes=5))
    overdue = as_user("bob").get("/v3/tasks", {"overdue": "1"}).json()
    assert overdue["count"] == 1 and overdue["results"][0]["overdue"] is True
    events = list(AuditEntry.objects.filter(kind="TASK", key=workflow_id).values_list("actor", "details__event"))
    assert sorted(events) == [("alice", "CLAIMED"), ("alice", "RELEASED")]


@pytest.mark.mysql
def test_two_operators_claiming_at_once_exactly_one_wins(refund_flow, operators, as_user):
    workflow_id = _start(as_user("alice"))
    clients = {name: as_user(name) for name in ("alice", "bob")}
    barrier, answers = threading.Barrier(2), {}

    def claim(name: str) -> None:
        barrier.wait()
        answers[name] = clients[name].post(f"/v3/tasks/{workflow_id}/claim").status_code

    threads = [threading.Thread(target=claim, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers.values()) == [200, 409]
    winner = next(name for name, code in answers.items() if code == 200)
    assert Task.objects.get(workflow_id=workflow_id).claimed_by == winner


def test_resume_closes_the_task_in_the_users_name(refund_flow, operators, as_user):
    workflow_id = _start(as_user("alice"))
    resumed = as_user("alice").put(f"/v3/workflow/resume/{workflow_id}", {"viewResponse": {"selectedOptions": {
        "decision": "approve"}}}, format="json")
    assert resumed.status_code == 200 and resumed.json()["workflowStatus"] == "COMPLETED"
    task = Task.objects.get(workflow_id=workflow_id)
    assert (task.status, task.closed_by) == (TaskStatus.RESUMED, "alice")
    step = NodeExecution.objects.get(run__workflow_id=workflow_id, outcome="RESUMED")
    assert (step.instance_name, step.actor) == ("ask", "alice")
    assert as_user("alice").get("/v3/tasks").json()["count"] == 0
    assert as_user("alice").post(f"/v3/tasks/{workflow_id}/claim").status_code == 404


def test_terminate_closes_the_open_task(refund_flow, operators, as_user):
    workflow_id = _start(as_user("alice"))
    assert as_user("alice").delete(f"/v3/workflow/terminate/{workflow_id}").status_code == 200
    wait_for(lambda: Task.objects.get(workflow_id=workflow_id).status == TaskStatus.TERMINATED, "task closed")


@pytest.mark.parametrize("query", [{"overdue": "maybe"}, {"group": "g" * 201}, {"assignee": "a" * 500},
                                   {"workflow": "w" * 201}])
def test_bad_filters_are_400_with_the_path(refund_flow, as_user, query):
    response = as_user("alice").get("/v3/tasks", query)
    assert response.status_code == 400
    assert response.json()["details"][0]["path"] == f"$.query.{next(iter(query))}"
