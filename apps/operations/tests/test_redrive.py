"""Redrive (spec §10) through the REST API, the real worker and Temporal."""

from __future__ import annotations

import pytest

from apps.definitions.models import AuditEntry
from apps.runs.models import NodeExecution, Run
from devtools.testing.builders import state, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.operations import charge_flow, failed_run
from devtools.testing.rest import start, wait_final

pytestmark = pytest.mark.temporal


def _timeline(workflow_id: str) -> list[str]:
    return list(NodeExecution.objects.filter(run__workflow_id=workflow_id).order_by("seq")
                .values_list("instance_name", flat=True))


def test_redrive_resumes_at_the_failed_node_with_the_patched_context(api, runs, tenant):
    charge_flow(tenant)
    old = failed_run(api)
    redriven = api.post(f"/v3/workflow/{old}/redrive", {"contextPatch": {"fixed": True, "prep": {"note": "x"}}},
                        format="json")
    assert redriven.status_code == 202, redriven.json()
    new = redriven.json()["workflowId"]
    assert redriven.json()["redriveOf"] == old
    assert wait_final(new).status == "COMPLETED"
    assert _timeline(new) == ["charge", "done"]  # it began at the failed node, not at `prep`
    context = api.get(f"/v3/workflow/{new}?includeContext=true").json()["_global"]
    assert context["prep"] == {"amount": 10, "note": "x"}  # deep-merged into the old output
    assert context["charge"] == 10
    assert api.get(f"/v3/workflow/{old}").json()["redrivenBy"] == [new]
    entry = AuditEntry.objects.get(tenant=tenant, kind="RUN", key=old)
    assert (entry.action, entry.details["redrive"], entry.details["fromNode"]) == ("REDRIVE", new, "charge")


def test_redrive_from_a_chosen_node_on_the_active_version_and_refusals(api, runs, tenant):
    charge_flow(tenant)
    old = failed_run(api)
    completed = start(api, params={"workflowId": "pay"}, workflowId="finished-one")
    assert completed.json()["workflowStatus"] == "FAILED"
    Run.objects.filter(workflow_id="finished-one").update(status="COMPLETED")  # a run the API must refuse
    assert api.post("/v3/workflow/finished-one/redrive", {}, format="json").status_code == 409
    unknown = api.post(f"/v3/workflow/{old}/redrive", {"fromNode": "nope"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["details"][0]["path"] == "$.fromNode"
    missing_version = api.post(f"/v3/workflow/{old}/redrive", {"version": 9}, format="json")
    assert missing_version.status_code == 404

    again = api.post(f"/v3/workflow/{old}/redrive", {"fromNode": "prep", "version": "ACTIVE"}, format="json")
    assert again.status_code == 202, again.json()
    ended = wait_final(again.json()["workflowId"])
    assert ended.status == "FAILED" and _timeline(ended.workflow_id) == ["prep", "charge"]


def test_redrive_of_a_terminated_run_begins_where_it_stopped(api, runs, tenant):
    charge_flow(tenant)
    publish_definitions(tenant, [], [workflow("hold_flow", "hold", [state("hold", "hold", "done"), state("done")])])
    waiting = start(api, params={"workflowId": "hold_flow"}).json()["workflowId"]
    assert api.delete(f"/v3/workflow/terminate/{waiting}").json()["workflowStatus"] == "TERMINATED"
    redriven = api.post(f"/v3/workflow/{waiting}/redrive", {}, format="json")
    assert redriven.status_code == 202, redriven.json()
    new = redriven.json()["workflowId"]
    assert api.post(f"/v3/workflow/{new}/event/never", {}, format="json").status_code == 202
    assert wait_final(new).status == "COMPLETED"
    assert _timeline(new)[0] == "hold"


@pytest.mark.parametrize("patch", [{"threadContext": {"userId": "someone-else"}}, {"workflowId": "x"},
                                   {"threadContext": "x", "fixed": True}])
def test_a_context_patch_may_not_set_engine_owned_keys(api, runs, tenant, patch):
    """`_global.threadContext` says which client and user act; a redrive must not rewrite it (issue 19)."""
    charge_flow(tenant)
    old = failed_run(api)
    key = next(name for name in patch if name != "fixed")
    single = api.post(f"/v3/workflow/{old}/redrive", {"contextPatch": patch}, format="json")
    assert single.status_code == 400, single.content
    assert single.json()["details"][0]["path"] == f"$.contextPatch.{key}"
    bulk = api.post("/v3/bulk/redrive", {"ids": [old], "contextPatch": patch}, format="json")
    assert bulk.status_code == 400, bulk.content
    assert bulk.json()["details"][0]["path"] == f"$.contextPatch.{key}"
    assert not Run.objects.filter(redrive_of=old).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "path"), [
    ({"version": "LATEST"}, "version"), ({"version": 0}, "version"), ({"version": True}, "version"),
    ({"version": "\u00b2"}, "version"), ({"version": 1e308}, "version"),
    ({"fromNode": 5}, "fromNode"), ({"fromNode": "x" * 201}, "fromNode"),
    ({"contextPatch": [1]}, "contextPatch"), ({"contextPatch": "x"}, "contextPatch"), ({"extra": 1}, "extra"),
])
def test_bad_redrive_bodies_are_400_with_the_field(api, body, path):
    response = api.post("/v3/workflow/whatever/redrive", body, format="json")
    assert response.status_code == 400, response.json()
    assert path in response.json()["details"][0]["path"]


def test_redrive_from_the_admin_form_and_action(admin_client, api, runs, tenant):
    from django.urls import reverse

    charge_flow(tenant)
    old = Run.objects.get(workflow_id=failed_run(api))
    page = admin_client.get(reverse("admin:runs_run_change", args=[old.pk])).content.decode()
    assert 'id="drift-redrive-form"' in page and 'placeholder="charge"' in page  # the default node is shown

    bad = admin_client.post(reverse("admin:runs_run_redrive", args=[old.pk]), {"context_patch": "{nope"}, follow=True)
    assert "Context patch is not JSON" in bad.content.decode()
    admin_client.post(reverse("admin:runs_run_redrive", args=[old.pk]),
                      {"context_patch": '{"fixed": true}', "version": "SAME"})
    new = Run.objects.get(redrive_of=old.workflow_id)
    assert wait_final(new.workflow_id).status == "COMPLETED"
    new_page = admin_client.get(reverse("admin:runs_run_change", args=[new.pk])).content.decode()
    assert old.workflow_id in new_page and "began at node <code>charge</code>" in new_page
    assert new.workflow_id in admin_client.get(reverse("admin:runs_run_change", args=[old.pk])).content.decode()
    assert AuditEntry.objects.get(key=old.workflow_id, details__redrive=new.workflow_id).actor == "admin:admin"

    admin_client.post(reverse("admin:runs_run_changelist"), {"action": "redrive_runs", "_selected_action": [old.pk]})
    assert Run.objects.filter(redrive_of=old.workflow_id).count() == 2
