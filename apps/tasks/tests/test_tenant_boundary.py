"""Tasks stop at the tenant boundary (issue 19, finding 2), through the real stack: two tenants run the same
workflow, each screen a task of a group called `support`. A group is held per tenant (TenantMembership.groups),
so `support` of one tenant gives nothing in the other; a Django group gives nothing at all; working a task needs
the resume permission; an API key acts only for a user of its own tenant (X-Username-Id)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.definitions.models import AuditEntry
from apps.tasks.models import Task, TaskStatus
from devtools.testing.rest import client_for
from devtools.testing.tasks import PASSWORD, VIEW, operator_create, refund_publish

pytestmark = pytest.mark.temporal


@pytest.fixture
def tenants(runs, tenant: str) -> tuple[str, str]:
    return tenant, f"{tenant}-b"


@pytest.fixture
def tasks(tenants) -> dict[str, Task]:
    """One open `support` task in each tenant: "A" and "B"."""
    found = {}
    for label, tenant in zip("AB", tenants, strict=True):
        refund_publish(tenant)
        response = client_for(tenant, HTTP_X_USERNAME_ID="crm").post(
            "/v3/workflow/start", {"params": {"workflowId": "refund", "orderId": f"o-{label}"}}, format="json")
        assert response.json()["workflowStatus"] == "WAITING", response.json()
        found[label] = Task.objects.get(workflow_id=response.json()["workflowId"])
    return found


@pytest.fixture
def people(tenants) -> dict:
    """alice holds `support` in A; mallory in B only (and, as Django group, everywhere, as before this change);
    dave `billing` in A and `support` in B; viola `support` in A but may only view tasks; root is a superuser."""
    a, b = tenants
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    return {
        "alice": operator_create("alice", {a: ["support"]}),
        "mallory": operator_create("mallory", {b: ["support"]}, global_groups=["support"]),
        "dave": operator_create("dave", {a: ["billing"], b: ["support"]}, global_groups=["support", "billing"]),
        "viola": operator_create("viola", {a: ["support"]}, permissions=VIEW, global_groups=["support"]),
    }


def _client(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def _listed(client: Client, **filters: str) -> set[str]:
    return {task.workflow_id for task in client.get("/admin/inbox/", filters).context["tasks"]}


def _untouched(task: Task) -> None:
    task.refresh_from_db()
    assert (task.status, task.claimed_by) == (TaskStatus.OPEN, "")
    assert not AuditEntry.objects.filter(kind="TASK", key=task.workflow_id).exists()


def test_the_same_group_in_another_tenant_neither_lists_opens_claims_nor_answers(tasks, people):
    mallory, task_a = _client("mallory"), tasks["A"]
    assert _listed(mallory) == {tasks["B"].workflow_id}
    assert _listed(mallory, group="support") == {tasks["B"].workflow_id}
    page = mallory.get("/admin/inbox/")
    assert page.context["counts"]["open"] == 1 and page.context["groups"] == ["support"]
    assert task_a.workflow_id not in page.content.decode()
    assert mallory.get(f"/admin/inbox/{task_a.pk}/").status_code == 404
    for action in ("claim", "release"):
        assert mallory.post(f"/admin/inbox/{task_a.pk}/{action}/").status_code == 404
    assert mallory.post(f"/admin/inbox/{task_a.pk}/", {"opt:decision": "approve"}).status_code == 404
    _untouched(task_a)


def test_groups_are_held_per_tenant(tasks, people):
    # dave is in `billing` in A: A's `support` task is not his, B's is
    assert _listed(_client("dave")) == {tasks["B"].workflow_id}
    assert _client("dave").get(f"/admin/inbox/{tasks['A'].pk}/").status_code == 404
    # alice holds `support` in A through her membership alone (no Django group)
    alice = _client("alice")
    assert _listed(alice) == {tasks["A"].workflow_id}
    assert alice.get(f"/admin/inbox/{tasks['A'].pk}/").status_code == 200
    assert alice.get(f"/admin/inbox/{tasks['B'].pk}/").status_code == 404


def test_a_superuser_sees_every_tenants_tasks(tasks, people):
    root = _client("root")
    assert _listed(root) == {tasks["A"].workflow_id, tasks["B"].workflow_id}
    assert all(root.get(f"/admin/inbox/{task.pk}/").status_code == 200 for task in tasks.values())


def test_a_view_only_operator_sees_the_task_but_cannot_work_it(tasks, people):
    viola, task = _client("viola"), tasks["A"]
    inbox = viola.get("/admin/inbox/")
    assert _listed(viola) == {task.workflow_id} and 'class="button drift-claim"' not in inbox.content.decode()
    page = viola.get(f"/admin/inbox/{task.pk}/").content.decode()
    assert 'id="drift-view-only"' in page and 'id="drift-task-form"' not in page
    for url in (f"/admin/inbox/{task.pk}/claim/", f"/admin/inbox/{task.pk}/release/"):
        assert viola.post(url).status_code == 403
    assert viola.post(f"/admin/inbox/{task.pk}/", {"opt:decision": "approve"}).status_code == 403
    _untouched(task)

    # the same task, answered by an operator who may resume runs
    assert _client("alice").post(f"/admin/inbox/{task.pk}/", {"opt:decision": "approve"}).status_code == 302
    task.refresh_from_db()
    assert (task.status, task.closed_by) == (TaskStatus.RESUMED, "alice")


def test_an_api_key_acts_only_for_a_user_of_its_tenant(tenants, tasks, people):
    a, b = tenants
    as_user = lambda tenant, username: client_for(tenant, HTTP_X_USERNAME_ID=username)  # noqa: E731
    for username in ("mallory", "ghost", "alice"):  # another tenant's user, no user, a user of A for B's key
        tenant = b if username == "alice" else a
        for response in (as_user(tenant, username).get("/v3/tasks"),
                         as_user(tenant, username).post(f"/v3/tasks/{tasks['A'].workflow_id}/claim")):
            assert response.status_code == 403, (username, response.json())
            assert "X-Username-Id" in response.json()["message"] and username in response.json()["message"]
            assert response.json()["details"][0]["path"] == "X-Username-Id"
    missing = client_for(a).get("/v3/tasks")
    assert missing.status_code == 400 and missing.json()["details"][0]["path"] == "X-Username-Id"

    assert [t["workflowId"] for t in as_user(b, "mallory").get("/v3/tasks").json()["results"]] == [
        tasks["B"].workflow_id]
    assert as_user(b, "mallory").post(f"/v3/tasks/{tasks['A'].workflow_id}/claim").status_code == 404
    claimed = as_user(a, "alice").post(f"/v3/tasks/{tasks['A'].workflow_id}/claim")
    assert claimed.status_code == 200 and claimed.json()["claimedBy"] == "alice"
    _untouched(tasks["B"])


def test_the_task_api_needs_the_resume_permission_to_claim(tenants, tasks, people):
    a, _ = tenants
    task = tasks["A"]
    viewer = client_for(a, HTTP_X_USERNAME_ID="viola")
    assert [t["workflowId"] for t in viewer.get("/v3/tasks").json()["results"]] == [task.workflow_id]
    for action in ("claim", "release"):
        refused = viewer.post(f"/v3/tasks/{task.workflow_id}/{action}")
        assert refused.status_code == 403 and "runs.start_run" in refused.json()["message"]
    no_runtime = client_for(a, "defs", scopes=("definitions",), HTTP_X_USERNAME_ID="alice")
    assert no_runtime.post(f"/v3/tasks/{task.workflow_id}/claim").status_code == 403

    # a session: viola may list (tasks.view_task), not claim, nor resume the run through the API
    session = _client("viola")
    headers = {"HTTP_X_TENANT_ID": a, "HTTP_X_CLIENT_ID": "admin"}
    listed = session.get("/v3/tasks", **headers)
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert session.post(f"/v3/tasks/{task.workflow_id}/claim", **headers).status_code == 403
    resumed = session.put(f"/v3/workflow/resume/{task.workflow_id}", {"viewResponse": {"selectedOptions": {}}},
                          content_type="application/json", **headers)
    assert resumed.status_code == 403
    _untouched(task)


def test_a_key_resumes_in_a_foreign_users_name_only_as_its_own_label(tenants, tasks, people):
    """The runtime resume takes X-Username-Id as the client's label: B's key naming alice (a user of A only)
    closes B's task as `tests/alice`, never as the platform user alice; a user of B is recorded by name."""
    a, b = tenants
    answer = {"viewResponse": {"selectedOptions": {"decision": "approve"}}}
    for tenant, username, recorded in ((b, "alice", "tests/alice"), (a, "alice", "alice")):
        task = tasks["B" if tenant == b else "A"]
        resumed = client_for(tenant, HTTP_X_USERNAME_ID=username).put(
            f"/v3/workflow/resume/{task.workflow_id}", answer, format="json")
        assert resumed.status_code == 200, resumed.json()
        task.refresh_from_db()
        assert (task.status, task.closed_by) == (TaskStatus.RESUMED, recorded)
