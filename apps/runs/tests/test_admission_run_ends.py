"""However a run ends, its admission slot frees (spec §13): the count is read from the Run mirror's statuses. A
completed and a terminated run are in test_admission.py; here a run that fails, one whose ON_EVENT wait times
out, one terminated hard (its workflow never answers), and one whose worker process is SIGKILLed mid-node (it
keeps its slot while it is open, and frees it when the next worker finishes it). Limit 1, overflow QUEUE: the
queued start runs only once the holder has ended."""

from __future__ import annotations

import signal

import pytest
from django.conf import settings as django_settings

from apps.runs.admission import OPEN_STATUSES
from apps.runs.models import QueuedStart, Run
from apps.runs.runtime import run_mark_terminated
from apps.runs.tasks import release_queued_starts
from devtools.testing.builders import script_node, state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.processes import HeldService, held_http_node, start_worker_process
from devtools.testing.rest import start, wait_final, wait_for

pytestmark = pytest.mark.temporal

ONE = {"maxConcurrentRuns": 1, "overflow": "QUEUE"}


def _holder_then_queued(api, key: str) -> tuple[str, str]:
    holder = start(api, params={"workflowId": key}, mode="ASYNC").json()["workflowId"]
    queued = start(api, params={"workflowId": key}, mode="ASYNC")
    assert (queued.status_code, queued.json()["workflowStatus"]) == (202, "QUEUED"), queued.json()
    return holder, queued.json()["workflowId"]


def _released(workflow_id: str) -> None:
    wait_for(lambda: Run.objects.get(workflow_id=workflow_id).status not in ("QUEUED", "CREATED"),
             f"{workflow_id} to be released")


def test_a_failed_run_frees_its_slot(api, runs, tenant, celery_worker):
    publish_definitions(tenant, [wait_node("park", waitType="ON_EVENT", eventName="go"),
                                 script_node("boom", "return 1 / 0"), success_node()],
                        [workflow("fails", "w", [state("w", "park", "b"), state("b", "boom", "done"), state("done")],
                                  limits=ONE)])
    holder, queued = _holder_then_queued(api, "fails")
    wait_for(lambda: Run.objects.get(workflow_id=holder).status == "WAITING", "the holder to wait")
    api.post(f"/v3/workflow/{holder}/event/go", {}, format="json")
    assert wait_final(holder).status == "FAILED"
    _released(queued)


def test_a_run_whose_wait_times_out_frees_its_slot(api, runs, tenant, celery_worker):
    publish_definitions(tenant, [wait_node("brief", waitType="ON_EVENT", eventName="go", timeoutSeconds=1),
                                 success_node()],
                        [workflow("times_out", "w", [state("w", "brief", "done"), state("done")], limits=ONE)])
    holder, queued = _holder_then_queued(api, "times_out")
    ended = wait_final(holder)
    assert ended.status == "FAILED" and "did not arrive" in ended.error_message, ended.error_message
    _released(queued)


def test_a_hard_terminated_run_frees_its_slot(api, runs, tenant, celery_worker):
    """The terminate path for a workflow that does not answer: Temporal terminates it, Drift marks the mirror."""
    publish_definitions(tenant, [wait_node("park", waitType="ON_EVENT", eventName="go"), success_node()],
                        [workflow("hard", "w", [state("w", "park", "done"), state("done")], limits=ONE)])
    holder, queued = _holder_then_queued(api, "hard")
    wait_for(lambda: Run.objects.get(workflow_id=holder).status == "WAITING", "the holder to wait")
    from drift.temporal import run_async

    run_async(runs.client.get_workflow_handle(holder).terminate(reason="hard"))
    run_mark_terminated(workflow_id=holder, reason="hard")
    _released(queued)
    assert not QueuedStart.objects.filter(workflow_id=queued).exists()


@pytest.mark.serial
@pytest.mark.skipif(django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
                    reason="SQLite pass only (the worker process shares the test database file)")
def test_a_run_whose_worker_is_killed_keeps_its_slot_until_another_worker_finishes_it(
        api, tenant, settings, temporal, threaded_httpserver, transactional_db):
    service = HeldService()
    threaded_httpserver.expect_request("/slow").respond_with_handler(service)
    base = threaded_httpserver.url_for("")
    publish_definitions(tenant, [held_http_node("slow", f"return '{base}slow?run=' + nodeParameters.run"),
                                 success_node()],
                        [workflow("crashy", "s", [state("s", "slow", "done", parameters={"run": "$.workflowId"}),
                                                  state("done")], limits=ONE)])
    settings.TEMPORAL_TASK_QUEUE = task_queue = f"adm-crash-{tenant}"  # the starts go to the workers below
    worker = start_worker_process(task_queue)
    try:
        holder, queued = _holder_then_queued(api, "crashy")
        wait_for(lambda: service.count("/slow") >= 1, "the holder inside its HTTP node", 90)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        # Its worker is dead, the run is not: it still holds the slot.
        assert Run.objects.get(workflow_id=holder).status in OPEN_STATUSES
        assert release_queued_starts() == 0
        assert Run.objects.get(workflow_id=queued).status == "QUEUED"

        service.release_slow.set()
        worker = start_worker_process(task_queue)
        assert wait_final(holder, timeout=90).status == "COMPLETED"
        assert release_queued_starts() == 1  # the beat's pass (no Celery worker here)
        assert wait_final(queued, timeout=90).status == "COMPLETED"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert service.count(f"/slow?run={queued}") == 1
