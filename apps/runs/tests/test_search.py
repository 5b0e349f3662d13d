"""Run search (spec §10): GET /v3/workflow by status, definition, customer, incident, params, time; paginated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs.contract import RunInput
from apps.runs.models import Run
from apps.runs.services import run_register
from devtools.testing.rest import client_for, start, start_order


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["workflowId"] for item in response.json()["items"]]


@pytest.mark.temporal
def test_runs_started_through_the_api_are_found_by_every_key(api, samples, tenant):
    waiting = start_order(api, "1", incidentId="inc-1").json()["workflowId"]
    done = start(api, issueDetail={"issueId": "order_status"}, customer={"id": "c-2"},
                 params={"orderId": "2", "priority": 3}).json()["workflowId"]

    assert _ids(api.get("/v3/workflow")) == [done, waiting]
    assert _ids(api.get("/v3/workflow?status=WAITING")) == [waiting]
    assert _ids(api.get("/v3/workflow?customerId=c-2")) == [done]
    assert _ids(api.get("/v3/workflow?incidentId=inc-1")) == [waiting]
    assert _ids(api.get("/v3/workflow?workflowDefinitionId=order_status&status=COMPLETED")) == [done]
    assert _ids(api.get("/v3/workflow?param.orderId=1")) == [waiting]
    assert _ids(api.get("/v3/workflow?param.priority=3&param.orderId=2")) == [done]
    assert _ids(api.get("/v3/workflow?param.priority=3&param.orderId=1")) == []
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert _ids(api.get("/v3/workflow", {"createdFrom": later})) == []
    assert _ids(api.get("/v3/workflow", {"createdTo": later, "customerId": "c-1"})) == [waiting]
    item = api.get("/v3/workflow?customerId=c-2").json()["items"][0]
    assert (item["workflowStatus"], item["customerId"], item["workflowDefinitionId"]) == ("COMPLETED", "c-2",
                                                                                        "order_status")
    assert _ids(client_for("someone-else").get("/v3/workflow?customerId=c-2")) == []


@pytest.mark.mysql
@pytest.mark.django_db
def test_cursor_pages_walk_every_match_once(api, tenant):
    made = [run_register(workflow_id=f"wf-{n}", inp=RunInput(tenant=tenant, start={"params": {"batch": "b1"}}))
            for n in range(7)]
    run_register(workflow_id="wf-other", inp=RunInput(tenant=tenant, start={"params": {"batch": "b2"}}))
    seen, cursor = [], ""
    while True:
        page = api.get("/v3/workflow", {"param.batch": "b1", "limit": 3, "cursor": cursor}).json()
        seen += [item["workflowId"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [run.workflow_id for run in reversed(made)]
    assert Run.objects.filter(tenant=tenant).count() == 8


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "path"), [
    ("status=DONE", "$.query.status"),
    ("customerID=c-1", "$.query.customerID"),
    ("createdFrom=yesterday", "$.query.createdFrom"),
    ("createdFrom=2026-13-45T00:00:00", "$.query.createdFrom"),
    ("cursor=not-a-cursor", "$.query.cursor"),
    ("cursor=cnVuOi0x", "$.query.cursor"),  # "run:-1"
    ("limit=0", "$.query.limit"),
    ("limit=NaN", "$.query.limit"),
    ("limit=%C2%B2", "$.query.limit"),
    ("param.=1", "$.query.param."),
    ("customerId=" + "x" * 201, "$.query.customerId"),
    ("customerId=a%00b", "$.query.customerId"),
    ("incidentId=%ED%A0%80", None),  # a lone surrogate's UTF-8 bytes: decoded with replacement, no 500
])
def test_bad_search_keys_are_400_with_the_key_named(api, query, path):
    response = api.get(f"/v3/workflow?{query}")
    if path is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.json()
    assert response.json()["details"][0]["path"] == path


@pytest.mark.django_db
def test_the_admin_search_box_takes_the_same_keys(admin_client, tenant):
    wanted = run_register(workflow_id="wf-wanted", inp=RunInput(tenant=tenant, start={
        "customer": {"id": "c-9"}, "params": {"region": "north"}}))
    run_register(workflow_id="wf-south", inp=RunInput(tenant=tenant, start={
        "customer": {"id": "c-9"}, "params": {"region": "south"}}))
    url = reverse("admin:runs_run_changelist")
    page = admin_client.get(url, {"q": "customerId=c-9 param.region=north"}).content.decode()
    assert wanted.workflow_id in page and "wf-south" not in page
    both = admin_client.get(url, {"q": "customerId=c-9"}).content.decode()
    assert "wf-wanted" in both and "wf-south" in both
    by_id = admin_client.get(url, {"q": "wf-south"}).content.decode()
    assert "wf-south" in by_id and "wf-wanted" not in by_id
    bad = admin_client.get(url, {"q": "status=DONE"}, follow=True).content.decode()
    assert "must be one of" in bad and "wf-south" not in bad
