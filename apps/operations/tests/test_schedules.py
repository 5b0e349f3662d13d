"""Schedules (spec §10): kept in the DB, carried out by Temporal Schedules on the session's dev server."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient
from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleSpec
from temporalio.service import RPCError

from apps.clients.services import api_key_create
from apps.operations.models import Schedule as ScheduleRow
from apps.operations.schedules import schedule_run_prefix, schedules_reconcile
from apps.runs.models import Run
from devtools.testing.builders import script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import wait_for
from drift.temporal import run_async

pytestmark = pytest.mark.temporal


@pytest.fixture
def tick(runs, tenant) -> str:
    publish_definitions(tenant, [script_node("stamp", "return _global.params.note"), success_node()],
                        [workflow("tick", "s", [state("s", "stamp", "done"), state("done")])])
    return "tick"


def _describe(temporal, row: ScheduleRow):
    return run_async(temporal.get_schedule_handle(row.temporal_id).describe())


def _at(described) -> tuple[int, int]:
    """(hour, minute) of a daily cron as Temporal keeps it (it turns cron strings into calendars)."""
    calendar = getattr(described, "schedule", described).spec.calendars[0]
    return calendar.hour[0].start, calendar.minute[0].start


def _runs(tenant: str):
    return Run.objects.filter(tenant=tenant, definition_key="tick")


def test_an_interval_schedule_fires_runs_then_pauses(api, tick, tenant, temporal):
    created = api.post("/v3/schedules/", {"id": "every-second", "workflowId": "tick", "intervalSeconds": 1,
                                          "start": {"params": {"note": "scheduled"}}, "overlap": "ALLOW_ALL"},
                       format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["syncError"] is None and created.json()["syncedAt"]
    fired = wait_for(lambda: _runs(tenant).filter(status="COMPLETED").first(), "the schedule to fire", 60)
    row = ScheduleRow.objects.get(tenant=tenant, schedule_id="every-second")
    assert fired.workflow_id.startswith(schedule_run_prefix(row) + "-") and fired.mode == "ASYNC"
    assert fired.client_id == "tests"

    paused = api.post("/v3/schedules/every-second/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert _describe(temporal, row).schedule.state.paused is True
    assert api.post("/v3/schedules/every-second/resume").json()["paused"] is False
    assert _describe(temporal, row).schedule.state.paused is False
    assert [item["id"] for item in api.get("/v3/schedules/").json()] == ["every-second"]


def test_trigger_and_backfill(api, tick, tenant):
    api.post("/v3/schedules/", {"id": "monthly", "workflowId": "tick", "cron": "0 0 1 * *",
                                "overlap": "ALLOW_ALL"}, format="json")
    assert api.post("/v3/schedules/monthly/trigger").status_code == 200
    wait_for(lambda: _runs(tenant).filter(status="COMPLETED").count() == 1, "the triggered run", 60)

    backfill = api.post("/v3/schedules/monthly/backfill", {"startAt": "2025-01-15T00:00:00Z",
                                                           "endAt": "2025-06-15T00:00:00Z"}, format="json")
    assert backfill.status_code == 200, backfill.json()
    # Feb 1 .. Jun 1: five more runs, each once.
    wait_for(lambda: _runs(tenant).filter(status="COMPLETED").count() == 6, "the backfilled runs", 60)


def test_temporal_follows_the_database(api, tick, tenant, temporal):
    api.post("/v3/schedules/", {"id": "nightly", "issueId": "nothing-routed", "cron": "0 3 * * *"}, format="json")
    row = ScheduleRow.objects.get(tenant=tenant, schedule_id="nightly")
    assert _at(_describe(temporal, row)) == (3, 0)

    edited = api.put("/v3/schedules/nightly", {"workflowId": "tick", "cron": "30 4 * * *", "overlap": "BUFFER_ONE"},
                     format="json")
    assert edited.status_code == 200, edited.json()
    described = _describe(temporal, row).schedule
    assert _at(described) == (4, 30) and described.policy.overlap.name == "BUFFER_ONE"

    run_async(temporal.get_schedule_handle(row.temporal_id).delete())  # lost behind Drift's back
    orphan = "drift-schedule:5:ghost:gone"
    run_async(temporal.create_schedule(orphan, Schedule(
        action=ScheduleActionStartWorkflow("DriftWorkflow", id="x", task_queue="nobody"),
        spec=ScheduleSpec(cron_expressions=["0 0 1 1 *"]))))
    report = schedules_reconcile()
    assert report["deleted"] >= 1 and report["failed"] == 0
    assert _at(_describe(temporal, row)) == (4, 30)  # recreated
    with pytest.raises(RPCError):
        run_async(temporal.get_schedule_handle(orphan).describe())

    assert api.delete("/v3/schedules/nightly").status_code == 204
    with pytest.raises(RPCError):
        _describe(temporal, row)
    assert api.get("/v3/schedules/nightly").status_code == 404


def test_another_tenant_cannot_take_a_scheduled_run_id_first(api, tick, tenant):
    """A fired run's id is predictable (`sched-<id>-<tenant digest>-<time>`): tenant B starting a run under it
    first would make A's run fail to start. Ids the server makes are refused to clients (issue 19)."""
    api.post("/v3/schedules/", {"id": "monthly", "workflowId": "tick", "cron": "0 0 1 * *", "paused": True},
             format="json")
    fire_id = f"{schedule_run_prefix(ScheduleRow.objects.get(tenant=tenant, schedule_id='monthly'))}" \
              "-2025-02-01T00:00:00Z"
    intruder = "intruder-" + tenant
    publish_definitions(intruder, [script_node("stamp", "return 1"), success_node()],
                        [workflow("tick", "s", [state("s", "stamp", "done"), state("done")])])
    other, (_, key) = APIClient(), api_key_create(tenant=intruder, client_id="b", scopes=["runtime"])
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}",
                      HTTP_X_TENANT_ID=intruder, HTTP_X_CLIENT_ID="b")
    for taken in (fire_id, "run-1", "redrive-1", "bulk-1-1"):
        start = other.post("/v3/workflow/start", {"params": {"workflowId": "tick"}, "workflowId": taken,
                                                  "mode": "ASYNC"}, format="json")
        assert start.status_code == 400, start.content
        assert start.json()["details"][0]["path"] == "$.workflowId"

    backfill = api.post("/v3/schedules/monthly/backfill", {"startAt": "2025-01-15T00:00:00Z",
                                                           "endAt": "2025-02-15T00:00:00Z"}, format="json")
    assert backfill.status_code == 200, backfill.json()
    fired = wait_for(lambda: Run.objects.filter(workflow_id=fire_id, status="COMPLETED").first(), "A's run", 60)
    assert fired.tenant == tenant


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "path"), [
    ({"workflowId": "w", "cron": "* * * * *"}, "$.id"),
    ({"id": "x", "cron": "* * * * *"}, "workflowId"),
    ({"id": "x", "workflowId": "w", "issueId": "i", "cron": "* * * * *"}, "workflowId"),
    ({"id": "x", "workflowId": "w"}, "cron"),
    ({"id": "x", "workflowId": "w", "cron": "* * * * *", "intervalSeconds": 5}, "cron"),
    ({"id": "x", "workflowId": "w", "cron": "rm -rf"}, "cron"),
    ({"id": "x", "workflowId": "w", "intervalSeconds": 0}, "intervalSeconds"),
    ({"id": "x", "workflowId": "w", "intervalSeconds": 1e308}, "intervalSeconds"),
    ({"id": "x", "workflowId": "w", "intervalSeconds": "NaN"}, "intervalSeconds"),
    ({"id": "x", "workflowId": "w", "intervalSeconds": 60, "overlap": "SOMETIMES"}, "overlap"),
    ({"id": "x", "workflowId": "w", "intervalSeconds": 60, "start": {"mode": "SYNC"}}, "start"),
    ({"id": "x", "workflowId": "w", "intervalSeconds": 60, "start": []}, "start"),
    ({"id": "\ud800", "workflowId": "w", "intervalSeconds": 60}, "id"),
    ({"id": "a/b", "workflowId": "w", "intervalSeconds": 60}, "id"),
    ({"id": "x", "workflowId": 7, "intervalSeconds": 60}, "workflowId"),
])
def test_bad_schedules_are_400_with_the_field(api, body, path):
    response = api.post("/v3/schedules/", json.dumps(body), content_type="application/json")  # "\ud800" escaped
    assert response.status_code == 400, response.json()
    assert path in response.json()["details"][0]["path"]


def test_admin_creates_triggers_and_deletes_a_schedule(admin_client, tick, tenant, temporal):
    from django.urls import reverse

    form = {"tenant": tenant, "schedule_id": "from-admin", "workflow_key": "tick", "cron": "0 0 1 1 *",
            "start": '{"params": {"note": "admin"}}', "overlap": "SKIP", "version": "", "issue_id": "",
            "interval_seconds": ""}
    refused = admin_client.post(reverse("admin:operations_schedule_add"), form | {"interval_seconds": "5"})
    assert refused.status_code == 200 and "Give either" in refused.content.decode()
    assert admin_client.post(reverse("admin:operations_schedule_add"), form).status_code == 302
    row = ScheduleRow.objects.get(tenant=tenant, schedule_id="from-admin")
    assert row.synced_at and _describe(temporal, row).schedule.state.paused is False
    changelist = reverse("admin:operations_schedule_changelist")
    admin_client.post(changelist, {"action": "trigger_schedules", "_selected_action": [row.pk]})
    done = wait_for(lambda: _runs(tenant).filter(status="COMPLETED").first(), "the triggered run", 60)
    assert done.start_request["start"]["params"] == {"note": "admin"}
    admin_client.post(reverse("admin:operations_schedule_delete", args=[row.pk]), {"post": "yes"})
    assert not ScheduleRow.objects.filter(pk=row.pk).exists()
    with pytest.raises(RPCError):
        _describe(temporal, row)
