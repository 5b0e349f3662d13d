"""Admission at every start path (spec §13) beside the REST start (test_admission.py) and triggers
(apps/triggers/tests/test_trigger_limits.py): an idempotent start, a schedule's fire, rerun, redrive and bulk
obey a workflow's `limits` through the one gate (apps/runs/admission.py). Real Temporal and worker; runs park
at an ON_EVENT wait, so the test decides when a slot frees; the release is the beat's pass, called here."""

from __future__ import annotations

import pytest

from apps.operations.bulk import bulk_job_work
from apps.operations.models import BulkItem, BulkJob
from apps.operations.models import Schedule as ScheduleRow
from apps.operations.rerun import run_rerun
from apps.runs.admission import OPEN_STATUSES
from apps.runs.models import QueuedStart, Run
from apps.runs.tasks import release_queued_starts
from devtools.testing.builders import state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_final, wait_for
from drift.errors import TooManyRequests
from drift.temporal import run_async

pytestmark = pytest.mark.temporal

QUEUE_ONE = {"maxConcurrentRuns": 1, "overflow": "QUEUE"}
REJECT_ONE = {"maxConcurrentRuns": 1, "overflow": "REJECT"}


def _publish(tenant: str, key: str, limits: dict | None) -> None:
    publish_definitions(
        tenant, [wait_node("park", waitType="ON_EVENT", eventName="go"), success_node()],
        [workflow(key, "w", [state("w", "park", "done"), state("done")], **({"limits": limits} if limits else {}))],
    )


def _status(workflow_id: str) -> str:
    return Run.objects.get(workflow_id=workflow_id).status


def _waiting(workflow_id: str) -> None:
    wait_for(lambda: _status(workflow_id) == "WAITING", f"{workflow_id} to wait")


def _finish(api, workflow_id: str) -> None:
    sent = api.post(f"/v3/workflow/{workflow_id}/event/go", {}, format="json")
    assert sent.status_code == 202, sent.json()
    assert wait_final(workflow_id).status == "COMPLETED"


def _open(key: str) -> int:
    return Run.objects.filter(definition_key=key, status__in=OPEN_STATUSES).count()


def _keyed_start(api, key: str, workflow: str):
    api.credentials(**{**api._credentials, "HTTP_IDEMPOTENCY_KEY": key})
    try:
        return start(api, params={"workflowId": workflow}, mode="ASYNC")
    finally:
        api.credentials(**{k: v for k, v in api._credentials.items() if k != "HTTP_IDEMPOTENCY_KEY"})


# --------------------------------------------------------------------------- idempotent start


def test_an_idempotent_start_over_the_limit_is_queued_once_and_its_repeat_answers_the_queued_run(api, runs, tenant):
    _publish(tenant, "idem", QUEUE_ONE)
    first = start(api, params={"workflowId": "idem"}).json()["workflowId"]
    queued = _keyed_start(api, "k-1", "idem")
    assert (queued.status_code, queued.json()["workflowStatus"]) == (202, "QUEUED"), queued.json()
    again = _keyed_start(api, "k-1", "idem")
    assert again.json()["workflowId"] == queued.json()["workflowId"]
    assert QueuedStart.objects.filter(workflow_id=queued.json()["workflowId"]).count() == 1
    _finish(api, first)
    release_queued_starts()
    _waiting(queued.json()["workflowId"])


def test_an_idempotent_start_over_a_reject_limit_is_429_and_frees_its_key(api, runs, tenant):
    _publish(tenant, "idem_rej", REJECT_ONE)
    first = start(api, params={"workflowId": "idem_rej"}).json()["workflowId"]
    refused = _keyed_start(api, "k-2", "idem_rej")
    assert refused.status_code == 429, refused.json()
    assert int(refused["Retry-After"]) > 0
    _finish(api, first)
    retried = _keyed_start(api, "k-2", "idem_rej")  # the key was not spent on the refused start
    assert retried.status_code == 202, retried.json()
    _waiting(retried.json()["workflowId"])


# --------------------------------------------------------------------------- schedules


def _schedule(api, tenant: str, key: str) -> ScheduleRow:
    created = api.post("/v3/schedules/", {"id": f"s-{key}", "workflowId": key, "cron": "0 0 1 * *",
                                          "overlap": "ALLOW_ALL"}, format="json")
    assert created.status_code == 201, created.json()
    return ScheduleRow.objects.get(tenant=tenant, schedule_id=f"s-{key}")


def _fired(tenant: str, key: str):
    return Run.objects.filter(tenant=tenant, definition_key=key)


def test_scheduled_fires_over_the_limit_are_queued_not_started_and_start_as_slots_free(api, runs, tenant, temporal):
    _publish(tenant, "sched_q", QUEUE_ONE)
    _schedule(api, tenant, "sched_q")
    backfill = api.post("/v3/schedules/s-sched_q/backfill", {"startAt": "2025-01-15T00:00:00Z",
                                                             "endAt": "2025-04-15T00:00:00Z"}, format="json")
    assert backfill.status_code == 200, backfill.json()
    # Feb 1, Mar 1, Apr 1: one runs, two wait QUEUED (their workflows wait in Temporal, nothing executed).
    wait_for(lambda: _fired(tenant, "sched_q").filter(status="QUEUED").count() == 2, "two queued fires", 60)
    wait_for(lambda: _fired(tenant, "sched_q").filter(status="WAITING").count() == 1, "one fire to run", 60)
    assert QueuedStart.objects.filter(tenant=tenant, workflow_key="sched_q").count() == 2
    searched = api.get("/v3/workflow", {"status": "QUEUED", "workflowDefinitionId": "sched_q"}).json()["items"]
    assert len(searched) == 2

    queued = list(_fired(tenant, "sched_q").filter(status="QUEUED").values_list("workflow_id", flat=True))
    for _ in queued:
        running = _fired(tenant, "sched_q").get(status="WAITING").workflow_id
        _finish(api, running)
        assert release_queued_starts() == 1
        wait_for(lambda: _fired(tenant, "sched_q").filter(status="WAITING").exists(), "the next fire to run")
        assert _open("sched_q") == 1
    _finish(api, _fired(tenant, "sched_q").get(status="WAITING").workflow_id)
    assert _fired(tenant, "sched_q").filter(status="COMPLETED").count() == 3
    assert not QueuedStart.objects.filter(tenant=tenant).exists()


def test_a_queued_scheduled_fire_is_terminated_in_temporal_too(api, runs, tenant, temporal):
    _publish(tenant, "sched_t", QUEUE_ONE)
    _schedule(api, tenant, "sched_t")
    api.post("/v3/schedules/s-sched_t/backfill", {"startAt": "2025-01-15T00:00:00Z",
                                                  "endAt": "2025-03-15T00:00:00Z"}, format="json")
    queued = wait_for(lambda: _fired(tenant, "sched_t").filter(status="QUEUED").first(), "a queued fire", 60)
    ended = api.delete(f"/v3/workflow/terminate/{queued.workflow_id}", {"reason": "no"}, format="json")
    assert ended.status_code == 200, ended.json()
    assert _status(queued.workflow_id) == "TERMINATED"
    described = run_async(temporal.get_workflow_handle(queued.workflow_id).describe())
    assert described.status.name == "TERMINATED"
    assert not QueuedStart.objects.filter(workflow_id=queued.workflow_id).exists()


def test_a_scheduled_fire_over_a_reject_limit_fails_with_the_reason(api, runs, tenant):
    _publish(tenant, "sched_r", REJECT_ONE)
    _schedule(api, tenant, "sched_r")
    assert api.post("/v3/schedules/s-sched_r/trigger").status_code == 200
    wait_for(lambda: _fired(tenant, "sched_r").filter(status="WAITING").exists(), "the first fire", 60)
    api.post("/v3/schedules/s-sched_r/backfill", {"startAt": "2025-01-15T00:00:00Z",
                                                  "endAt": "2025-02-15T00:00:00Z"}, format="json")
    refused = wait_for(lambda: _fired(tenant, "sched_r").filter(status="FAILED").first(), "the refused fire", 60)
    assert "limit" in refused.error_message, refused.error_message
    assert _open("sched_r") == 1


# --------------------------------------------------------------------------- rerun, redrive


def _ended_run(api, key: str) -> str:
    workflow_id = start(api, params={"workflowId": key}).json()["workflowId"]
    _finish(api, workflow_id)
    return workflow_id


def test_a_rerun_over_a_reject_limit_is_refused_and_stores_nothing(api, runs, tenant):
    _publish(tenant, "rr_rej", REJECT_ONE)
    ended = _ended_run(api, "rr_rej")
    start(api, params={"workflowId": "rr_rej"})
    with pytest.raises(TooManyRequests):
        run_rerun(run=Run.objects.get(workflow_id=ended))
    assert Run.objects.filter(definition_key="rr_rej").count() == 2


def _terminated_run(api, key: str) -> str:
    workflow_id = start(api, params={"workflowId": key}).json()["workflowId"]
    ended = api.delete(f"/v3/workflow/terminate/{workflow_id}", {"reason": "stop"}, format="json")
    assert ended.status_code == 200, ended.json()
    return workflow_id


def test_a_redrive_over_the_limit_is_queued_then_started(api, runs, tenant):
    _publish(tenant, "rd_q", QUEUE_ONE)
    old = _terminated_run(api, "rd_q")
    running = start(api, params={"workflowId": "rd_q"}).json()["workflowId"]
    redriven = api.post(f"/v3/workflow/{old}/redrive", {"fromNode": "w"}, format="json")
    assert (redriven.status_code, redriven.json()["workflowStatus"]) == (202, "QUEUED"), redriven.json()
    _finish(api, running)
    release_queued_starts()
    _waiting(redriven.json()["workflowId"])


def test_a_redrive_over_a_reject_limit_is_429_with_retry_after(api, runs, tenant):
    _publish(tenant, "rd_rej", REJECT_ONE)
    old = _terminated_run(api, "rd_rej")
    start(api, params={"workflowId": "rd_rej"})
    refused = api.post(f"/v3/workflow/{old}/redrive", {"fromNode": "w"}, format="json")
    assert refused.status_code == 429, refused.json()
    assert int(refused["Retry-After"]) > 0
    assert Run.objects.filter(redrive_of=old).count() == 0


# --------------------------------------------------------------------------- bulk


def _bulk(api, op: str, ids: list[str]) -> BulkJob:
    created = api.post(f"/v3/bulk/{op}", {"ids": ids}, format="json")
    assert created.status_code == 202, created.json()
    job = BulkJob.objects.get(job_id=created.json()["jobId"])
    bulk_job_work(job.job_id)  # the job's Celery task, run here
    return job


def test_a_bulk_rerun_over_the_limit_queues_the_runs_it_cannot_start(api, runs, tenant):
    _publish(tenant, "bulk_q", {"maxConcurrentRuns": 2, "overflow": "QUEUE"})
    ended = [_ended_run(api, "bulk_q") for _ in range(4)]
    job = _bulk(api, "rerun", ended)
    items = BulkItem.objects.filter(job=job)
    assert sorted(items.values_list("state", flat=True)) == ["DONE"] * 4
    new_ids = list(items.order_by("pk").values_list("result_workflow_id", flat=True))
    wait_for(lambda: _open("bulk_q") == 2 and Run.objects.filter(workflow_id__in=new_ids[:2], status="WAITING")
             .count() == 2, "two reruns to run")
    assert sorted(Run.objects.filter(workflow_id__in=new_ids).values_list("status", flat=True)) == [
        "QUEUED", "QUEUED", "WAITING", "WAITING"]
    for running in new_ids[:2]:
        _finish(api, running)
    release_queued_starts()
    for queued in new_ids[2:]:
        _waiting(queued)


def test_a_bulk_redrive_over_a_reject_limit_fails_the_items_with_the_reason(api, runs, tenant):
    _publish(tenant, "bulk_r", REJECT_ONE)
    old = [_terminated_run(api, "bulk_r") for _ in range(2)]
    start(api, params={"workflowId": "bulk_r"})
    job = _bulk(api, "redrive", old)
    items = list(BulkItem.objects.filter(job=job))
    assert [item.state for item in items] == ["FAILED", "FAILED"]
    assert all("limit" in item.error for item in items), [item.error for item in items]
    assert _open("bulk_r") == 1
