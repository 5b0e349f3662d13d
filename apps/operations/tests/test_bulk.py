"""Bulk terminate / rerun / redrive jobs (spec §10) through the REST API, real Celery workers, Temporal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings

from apps.operations.models import BulkItem, BulkJob
from apps.operations.tasks import resume_stalled_bulk_jobs
from apps.runs.models import Run
from devtools.testing.builders import state, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.operations import bulk_job_done, charge_flow, failed_run
from devtools.testing.processes import ROOT, child_env
from devtools.testing.rest import client_for, start, wait_final, wait_for
from drift.temporal import run_async

pytestmark = pytest.mark.temporal


@pytest.fixture
def broker():
    """Celery through Redis (not eager): jobs go to whichever real worker the test runs."""
    from drift.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = django_settings.CELERY_BROKER_URL
    assert app.conf.broker_url.startswith("redis://")
    return app


@pytest.fixture
def celery_worker(broker) -> Iterator[None]:
    from celery.contrib.testing.worker import start_worker

    with start_worker(broker, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        yield


def bulk_runs_touched(job: BulkJob) -> int:
    """How many runs the job started (rerun/redrive name them after the job and the item)."""
    return Run.objects.filter(workflow_id__startswith=f"bulk-{job.job_id}-").count()


def _hold_flow(tenant: str) -> None:
    publish_definitions(tenant, [], [workflow("hold_flow", "hold", [state("hold", "hold", "done"), state("done")])])


def test_bulk_terminate_by_filter_and_redrive_by_ids_with_a_per_run_failure(api, runs, tenant, celery_worker):
    charge_flow(tenant)
    _hold_flow(tenant)
    waiting = [start(api, params={"workflowId": "hold_flow"}).json()["workflowId"] for _ in range(3)]
    failed = [failed_run(api) for _ in range(2)]

    created = api.post("/v3/bulk/terminate", {"filter": {"workflowDefinitionId": "hold_flow", "status": "WAITING"},
                                              "reason": "maintenance"}, format="json")
    assert created.status_code == 202, created.json()
    progress = bulk_job_done(api, created.json()["jobId"])
    assert (progress["total"], progress["done"], progress["failed"], progress["percent"]) == (3, 3, 0, 100.0)
    assert {Run.objects.get(workflow_id=w).error_message for w in waiting} == {"maintenance"}

    redrive = api.post("/v3/bulk/redrive", {"ids": [*failed, "no-such-run"], "contextPatch": {"fixed": True}},
                       format="json")
    progress = bulk_job_done(api, redrive.json()["jobId"])
    assert (progress["done"], progress["failed"]) == (2, 1)
    assert progress["failures"] == [{"workflowId": "no-such-run", "error": "Unknown run 'no-such-run'."}]
    redriven = Run.objects.filter(redrive_of__in=failed)
    assert redriven.count() == 2
    assert {wait_final(run.workflow_id).status for run in redriven} == {"COMPLETED"}
    assert client_for("another-tenant").get(f"/v3/bulk/{redrive.json()['jobId']}").status_code == 404


@pytest.mark.mysql
def test_a_killed_worker_mid_job_leaves_every_run_handled_exactly_once(api, runs, tenant, broker, settings,
                                                                       tmp_path, temporal):
    """The first worker dies right after starting the 3rd rerun, before recording it; another one finishes."""
    settings.DRIFT_BULK_LEASE_SECONDS = 1
    charge_flow(tenant)
    sources = [failed_run(api) for _ in range(8)]
    marker = tmp_path / "stopped-at"
    gated = subprocess.Popen([sys.executable, "-m", "apps.operations.tests.bulk_gate_worker", "3", str(marker)],
                             cwd=ROOT, env=child_env(DRIFT_BULK_LEASE_SECONDS="1"), start_new_session=True)
    try:
        job_id = api.post("/v3/bulk/rerun", {"ids": sources}, format="json").json()["jobId"]
        stopped_at = wait_for(lambda: marker.exists() and marker.read_text(), "the worker to stop mid-job", 120)
    finally:
        os.killpg(gated.pid, signal.SIGKILL)
        gated.wait()
    job = BulkJob.objects.get(job_id=job_id)
    assert job.state == "RUNNING" and BulkItem.objects.filter(job=job, state="DONE").count() == 2
    assert BulkItem.objects.get(job=job, workflow_id=stopped_at).state == "PENDING"
    assert bulk_runs_touched(job) == 3  # its rerun was started, but the item was never marked

    from celery.contrib.testing.worker import start_worker

    with start_worker(broker, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        wait_for(lambda: resume_stalled_bulk_jobs() is not None and BulkJob.objects.get(pk=job.pk).state == "DONE",
                 "another worker to finish the job", 120)
    items = list(BulkItem.objects.filter(job=job))
    assert {item.state for item in items} == {"DONE"} and len(items) == 8
    assert bulk_runs_touched(job) == 8  # one new run per source run, the interrupted one included
    assert Run.objects.filter(tenant=tenant).count() == 16  # 8 sources + 8 reruns, none twice
    assert len({item.result_workflow_id for item in items}) == 8

    async def executions(workflow_id: str) -> int:
        return len([run async for run in temporal.list_workflows(f"WorkflowId = '{workflow_id}'")])

    assert [run_async(executions(item.result_workflow_id)) for item in items] == [1] * 8


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "body", "status", "path"), [
    ("/v3/bulk/terminate", {}, 400, "filter"),
    ("/v3/bulk/terminate", {"filter": {}, "ids": ["a"]}, 400, "filter"),
    ("/v3/bulk/rerun", {"ids": ["a"], "reason": "x"}, 400, "reason"),
    ("/v3/bulk/rerun", {"ids": []}, 400, "ids"),
    ("/v3/bulk/rerun", {"ids": [1]}, 400, "ids"),
    ("/v3/bulk/rerun", {"ids": ["a"] * 10_001}, 400, "ids"),
    ("/v3/bulk/rerun", {"ids": "abc"}, 400, "ids"),
    ("/v3/bulk/terminate", {"filter": {"customerID": "c"}}, 400, "$.filter.customerID"),
    ("/v3/bulk/terminate", {"filter": {"createdFrom": "soon"}}, 400, "$.filter.createdFrom"),
    ("/v3/bulk/terminate", {"filter": {"cursor": "x"}}, 400, "$.filter.cursor"),
    ("/v3/bulk/redrive", {"ids": ["a"], "version": "LATEST"}, 400, "version"),
    ("/v3/bulk/delete", {"ids": ["a"]}, 405, None),  # not an operation
    ("/v3/bulk/no-such-job", None, 404, None),
])
def test_bad_bulk_requests(api, url, body, status, path):
    response = api.get(url) if body is None else api.post(url, body, format="json")
    assert response.status_code == status, response.json()
    if path:
        assert path in response.json()["details"][0]["path"]


@pytest.mark.django_db
def test_a_filter_matching_too_many_runs_is_refused(api, tenant, settings):
    from apps.runs.contract import RunInput
    from apps.runs.services import run_register

    settings.DRIFT_BULK_MAX_RUNS = 2
    for n in range(3):
        run_register(workflow_id=f"many-{n}", inp=RunInput(tenant=tenant))
    response = api.post("/v3/bulk/terminate", {"filter": {}}, format="json")
    assert response.status_code == 400 and response.json()["details"][0]["path"] == "$.filter"
    assert not BulkJob.objects.filter(tenant=tenant).exists()


def test_admin_bulk_action_and_job_page_with_progress_bar(admin_client, api, runs, tenant, celery_worker):
    from django.urls import reverse

    charge_flow(tenant)
    _hold_flow(tenant)
    waiting = [start(api, params={"workflowId": "hold_flow"}).json()["workflowId"] for _ in range(2)]
    ended = _ended_run(api, tenant)
    selected = [run.pk for run in Run.objects.filter(workflow_id__in=[*waiting, ended])]
    admin_client.post(reverse("admin:runs_run_changelist"), {"action": "bulk_terminate",
                                                             "_selected_action": selected})
    job = BulkJob.objects.get(tenant=tenant)
    assert job.op == "terminate" and job.total == 3
    wait_for(lambda: BulkJob.objects.get(pk=job.pk).state == "DONE", "the admin's bulk job", 60)
    page = admin_client.get(reverse("admin:operations_bulkjob_change", args=[job.pk])).content.decode()
    assert '<progress class="drift-progress" max="3" value="3">' in page and "3 / 3 handled" in page
    assert {Run.objects.get(workflow_id=w).status for w in waiting} == {"TERMINATED"}
    listing = admin_client.get(reverse("admin:operations_bulkjob_changelist")).content.decode()
    assert job.job_id in listing and "drift-progress" in listing


def _ended_run(api, tenant: str) -> str:
    workflow_id = start(api, params={"workflowId": "hold_flow"}).json()["workflowId"]
    api.delete(f"/v3/workflow/terminate/{workflow_id}")
    return workflow_id
