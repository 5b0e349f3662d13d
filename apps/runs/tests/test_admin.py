"""The runs admin through Django's test client: list, filters, search, read-only detail with context,
timeline and graph, terminate / rerun, webhook deliveries."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs.models import NodeExecution, Run, WebhookAttempt, WebhookDelivery
from devtools.testing.builders import branch_node, instruction_node, script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions

CHANGELIST = "admin:runs_run_changelist"


def make_run(tenant: str, **fields) -> Run:
    defaults = {"workflow_id": f"run-{uuid.uuid4().hex}", "tenant": tenant, "definition_key": "refund",
                "definition_version": 1, "status": "COMPLETED", "client_id": "crm"}
    return Run.objects.create(**(defaults | fields))


@pytest.fixture
def some_runs(db, tenant):
    done = make_run(tenant, incident_id="INC-42", customer_id="cust-7", current_node="done",
                    view={"layoutId": "screen", "inputOptions": [{"id": "reason"}]}, start_request={"tenant": tenant})
    failed = make_run(tenant, status="FAILED", definition_key="payout", client_id="ops", error_message="boom")
    other = make_run("someone-else", status="WAITING", definition_key="refund")
    started = timezone.now() - timedelta(seconds=5)
    for seq, (name, node_type, outcome) in enumerate([("fetch", "SCRIPT", "SUCCESS"), ("decide", "BRANCH", "SUCCESS"),
                                                      ("done", "SUCCESS", "SUCCESS")], start=1):
        NodeExecution.objects.create(run=done, seq=seq, instance_name=name, node_type=node_type, outcome=outcome,
                                     started_at=started, duration_ms=12.5 * seq)
    NodeExecution.objects.create(run=failed, seq=1, instance_name="pay", node_type="HTTP", outcome="FAILURE",
                                 error="HTTP 500 from payments", started_at=started, duration_ms=30)
    return {"done": done, "failed": failed, "other": other}


def _listed(admin_client, **params) -> str:
    response = admin_client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return response.content.decode()


def test_list_filters_and_search(admin_client, some_runs, tenant):
    done, failed, other = some_runs["done"].workflow_id, some_runs["failed"].workflow_id, some_runs["other"].workflow_id
    html = _listed(admin_client)
    assert done in html and failed in html and other in html
    html = _listed(admin_client, status__exact="FAILED")
    assert failed in html and done not in html
    html = _listed(admin_client, definition_key="payout")
    assert failed in html and done not in html
    html = _listed(admin_client, tenant=tenant)
    assert done in html and other not in html
    html = _listed(admin_client, client_id="ops")
    assert failed in html and done not in html
    for query in ("INC-42", "cust-7", done[:20]):
        html = _listed(admin_client, q=query)
        assert done in html and failed not in html, query
    today = timezone.now()
    html = _listed(admin_client, created_at__year=today.year, created_at__month=today.month)
    assert done in html


def test_detail_is_read_only_with_view_timeline_and_temporal_link(admin_client, some_runs, settings):
    settings.TEMPORAL_UI_URL = "http://temporal-ui:8233/"
    run = some_runs["done"]
    response = admin_client.get(reverse("admin:runs_run_change", args=[run.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"http://temporal-ui:8233/namespaces/{settings.TEMPORAL_NAMESPACE}/workflows/{run.workflow_id}" in html
    assert "&quot;layoutId&quot;: &quot;screen&quot;" in html  # the view, pretty-printed
    assert "Timeline (executed nodes)" in html and "decide" in html and "38 ms" in html
    assert 'name="_save"' not in html  # read-only
    assert "drift-rerun" in html and "drift-terminate" not in html  # already COMPLETED
    failed = admin_client.get(reverse("admin:runs_run_change", args=[some_runs["failed"].pk])).content.decode()
    assert "HTTP 500 from payments" in failed and "boom" in failed
    assert admin_client.get(reverse("admin:runs_run_add")).status_code == 403


def test_webhook_deliveries(admin_client, some_runs):
    delivery = WebhookDelivery.objects.create(delivery_id="d-1", run=some_runs["done"], event="run.completed",
                                              url="https://crm.example/hook", payload={"workflowStatus": "COMPLETED"},
                                              status="RETRYING", attempts=2)
    WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=503, error="unavailable", duration_ms=20)
    WebhookAttempt.objects.create(delivery=delivery, number=2, status_code=None, error="timeout", duration_ms=5000)
    changelist = reverse("admin:runs_webhookdelivery_changelist")
    assert "d-1" in admin_client.get(changelist, {"status__exact": "RETRYING"}).content.decode()
    assert "d-1" not in admin_client.get(changelist, {"status__exact": "DELIVERED"}).content.decode()
    assert "d-1" in admin_client.get(changelist, {"event": "run.completed"}).content.decode()
    html = admin_client.get(reverse("admin:runs_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert "unavailable" in html and "timeout" in html and "&quot;workflowStatus&quot;" in html
    assert "Next attempt at" in html  # when the queued retry (or a deferred try) is due


def test_api_client_admin_renders(admin_client, db):
    from apps.clients.services import api_key_create

    client, _ = api_key_create(tenant="acme", client_id="crm", scopes=["runtime"])
    assert admin_client.get(reverse("admin:clients_apiclient_changelist")).status_code == 200
    response = admin_client.get(reverse("admin:clients_apiclient_change", args=[client.client.pk]))
    assert response.status_code == 200


# --- real runs through Temporal


def _branch_flow(tenant: str) -> None:
    publish_definitions(
        tenant,
        [script_node("fetch", "return {'amount': _global.params.amount}"),
         branch_node("decide", [("return _global.fetch.amount > 100", "review")], default="auto"),
         instruction_node("review", [{"id": "approve"}], layoutId="review_screen"),
         script_node("auto", "return 'approved'"), success_node("done")],
        [workflow("refund", "fetch", [
            state("fetch", next_node="decide"), state("decide"), state("review", next_node="done"),
            state("auto", next_node="done"), state("done"),
        ])],
    )


@pytest.mark.temporal
def test_real_run_detail_shows_context_and_the_path_taken(admin_client, runs, tenant):
    _branch_flow(tenant)
    response = runs.start("refund", {"amount": 5})
    assert response["workflowStatus"] == "COMPLETED"
    run = Run.objects.get(workflow_id=response["workflowId"])
    html = admin_client.get(reverse("admin:runs_run_change", args=[run.pk])).content.decode()
    assert "&quot;auto&quot;: &quot;approved&quot;" in html  # the stored context
    assert "<svg" in html and "#1565c0" in html and "step 3" in html  # fetch, decide, auto, done highlighted
    assert "refund v1" in html


@pytest.mark.temporal
def test_terminate_and_rerun_from_the_admin(admin_client, runs, tenant):
    _branch_flow(tenant)
    response = runs.start("refund", {"amount": 500})
    assert response["workflowStatus"] == "WAITING"
    run = Run.objects.get(workflow_id=response["workflowId"])
    detail = admin_client.get(reverse("admin:runs_run_change", args=[run.pk])).content.decode()
    assert "drift-terminate" in detail and "review_screen" in detail

    admin_client.post(reverse("admin:runs_run_terminate", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "TERMINATED"

    result = admin_client.post(reverse("admin:runs_run_rerun", args=[run.pk]))
    assert result.status_code == 302
    rerun = Run.objects.exclude(pk=run.pk).get(tenant=tenant)
    assert rerun.start_request["start"]["params"] == {"amount": 500}
    deadline = time.monotonic() + 30
    while rerun.status != "WAITING" and time.monotonic() < deadline:
        time.sleep(0.2)
        rerun.refresh_from_db()
    assert rerun.status == "WAITING" and rerun.current_node == "review"
    admin_client.post(reverse(CHANGELIST), {"action": "terminate_runs", "_selected_action": [rerun.pk]})
    rerun.refresh_from_db()
    assert rerun.status == "TERMINATED"


def test_detail_counts_child_runs_and_links_to_them(admin_client, tenant):
    """MAP items and CHILD nodes run as child runs: the parent's page counts them by status and lists them."""
    parent = make_run(tenant)
    for status in ("COMPLETED", "COMPLETED", "FAILED"):
        make_run(tenant, workflow_id=f"{parent.workflow_id}.m.{uuid.uuid4().hex[:6]}", status=status,
                 parent_workflow_id=parent.workflow_id)
    page = admin_client.get(reverse("admin:runs_run_change", args=[parent.pk])).content.decode()
    assert "3 child runs</a>: COMPLETED 2, FAILED 1" in page
    listed = _listed(admin_client, parent_workflow_id=parent.workflow_id)
    assert listed.count(f"{parent.workflow_id}.m.") >= 3


def test_detail_lists_map_items_bounded_with_the_failed_ones(admin_client, tenant):
    """A MAP's items on its run's page: counts by status, the first 50 items and every failed one (with its
    error and a link to its run), gaps marked, and links to all item runs (10,000 items must not be listed)."""
    iterator = {"workflowId": "line", "version": "ACTIVE", "resultPath": "$.d"}
    fan = {"instanceName": "m", "type": "MAP", "items": "$.params.lines", "iterator": iterator, "nextNode": "done"}
    publish_definitions(tenant, [script_node("d", "return 1"), success_node()],
                        [workflow("line", "d", [state("d", "d", "done"), state("done")]),
                         workflow("fan", "m", [fan, state("done")])])
    parent = make_run(tenant, definition_key="fan", definition_version=1)
    prefix = f"{parent.workflow_id}.m.{uuid.uuid4().hex[:12]}"
    Run.objects.bulk_create([Run(
        workflow_id=f"{prefix}.{index}", tenant=tenant, parent_workflow_id=parent.workflow_id, definition_key="line",
        status="FAILED" if index == 70 else "COMPLETED", error_message="division by zero" if index == 70 else "",
        finished_at=timezone.now()) for index in range(120)])
    make_run(tenant, workflow_id=f"{parent.workflow_id}.call.{uuid.uuid4().hex[:16]}",  # a CHILD node's run
             parent_workflow_id=parent.workflow_id)
    NodeExecution.objects.create(run=parent, seq=1, instance_name="m", node_type="MAP", outcome="SUCCESS",
                                 lane="fork/credit", started_at=timezone.now())

    page = admin_client.get(reverse("admin:runs_run_change", args=[parent.pk])).content.decode()
    assert "120 item runs" in page and "COMPLETED 119" in page and "FAILED 1" in page
    indexes = [int(index) for index in re.findall(r'class="drift-map-item[^"]*" data-index="(\d+)"', page)]
    assert indexes == [*range(50), 70]
    failed = Run.objects.get(workflow_id=f"{prefix}.70")
    assert reverse("admin:runs_run_change", args=[failed.pk]) in page and "division by zero" in page
    assert "… 20 items not listed" in page and "… 49 more items" in page
    assert "fork / credit" in page  # the timeline row's PARALLEL lane

    listed = _listed(admin_client, workflow_id__startswith=f"{prefix}.", status__exact="FAILED")
    assert f"{prefix}.70" in listed and f"{prefix}.0<" not in listed and "1 run" in listed
