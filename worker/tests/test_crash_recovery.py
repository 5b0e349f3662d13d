"""SIGKILL the worker process mid-HTTP-node and while runs are WAITING: a new worker finishes every run with the
right context, and nothing that already completed runs again."""

from __future__ import annotations

import os
import signal
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from temporalio.client import Client

from apps.runs.contract import UPDATE_RESUME, WORKFLOW_NAME, RunInput
from apps.runs.models import NodeExecution, Run
from apps.runs.selectors import NOT_A_STEP
from devtools.testing.builders import instruction_node, script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.processes import HeldService, held_http_node, start_worker_process
from devtools.testing.rest import wait_for
from drift.temporal import run_async

pytestmark = [pytest.mark.temporal, pytest.mark.serial]
RUNS = 3


@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3", reason="SQLite pass only")
def test_runs_survive_worker_sigkill(temporal: Client, tenant: str, threaded_httpserver, transactional_db):
    httpserver = threaded_httpserver
    service = HeldService()
    httpserver.expect_request("/slow").respond_with_handler(service)
    httpserver.expect_request("/after").respond_with_handler(service)
    base = httpserver.url_for("")
    publish_definitions(
        tenant,
        [held_http_node("slow", f"return '{base}slow?run=' + nodeParameters.run"),
         held_http_node("after", f"return '{base}after?run=' + nodeParameters.run"),
         script_node("mark", "return 'marked ' + nodeParameters.run", ["run"]),
         instruction_node("ask", [{"id": "ok"}]), success_node()],
        [workflow("crashy", "s", [
            state("s", "slow", "m", parameters={"run": "$.params.run"}),
            state("m", "mark", "q", parameters={"run": "$.params.run"}),
            state("q", "ask", "a"),
            state("a", "after", "done", parameters={"run": "$.params.run"}),
            state("done"),
        ])],
    )
    task_queue = f"crash-{uuid.uuid4().hex[:6]}"
    ids = [f"crash-{uuid.uuid4().hex[:8]}" for _ in range(RUNS)]
    for index, workflow_id in enumerate(ids):
        inp = RunInput(tenant=tenant, workflow_key="crashy", start={"params": {"run": str(index)}})
        run_async(temporal.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=task_queue))

    worker = start_worker_process(task_queue)
    try:
        wait_for(lambda: service.count("/slow") >= RUNS, "every run inside its HTTP node", timeout=90)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        # The calls the dead worker made: one per run, and a retry of any whose 3 s deadline passed before the
        # kill (a loaded machine spreads the three runs' first calls).
        interrupted = service.count("/slow")
        service.release_slow.set()
        worker = start_worker_process(task_queue)
        wait_for(lambda: Run.objects.filter(workflow_id__in=ids, status="WAITING").count() == RUNS, "WAITING runs",
                 timeout=90)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = start_worker_process(task_queue)
        for workflow_id in ids:
            handle = temporal.get_workflow_handle(workflow_id)
            run_async(handle.execute_update(UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"ok": True}}}))
        results = [run_async(temporal.get_workflow_handle(i, result_type=dict).result(), 60) for i in ids]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    for index, (workflow_id, result) in enumerate(zip(ids, results, strict=True)):
        assert result["workflowStatus"] == "COMPLETED"
        output = result["output"]
        assert output["s"] == {"run": str(index), "path": "/slow"}
        assert output["m"] == f"marked {index}"
        assert output["a"] == {"run": str(index), "path": "/after"}
        assert output["q:viewResponse"] == {"selectedOptions": {"ok": True}}
        rows = NodeExecution.objects.filter(run__workflow_id=workflow_id).exclude(outcome=NOT_A_STEP)
        executed = Counter(rows.values_list("instance_name", flat=True))
        assert executed == Counter({"s": 1, "m": 1, "q": 1, "a": 1, "done": 1}), executed
        assert service.count(f"/after?run={index}") == 1, "a node after the crashes ran twice"
    assert service.count("/slow") - interrupted == RUNS, "each interrupted HTTP call was retried once by the new worker"


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3", reason="SQLite pass only")
def test_killing_one_of_two_worker_processes_loses_no_run(temporal: Client, tenant: str, threaded_httpserver,
                                                          transactional_db):
    """`run_worker --processes 2`: SIGKILL one process while runs are inside their HTTP node, spread over both;
    every run completes (the other process, or its restarted successor, takes the dead one's tasks), and the
    SQLite writers of both processes never meet in SQLite's busy handler (the file lock)."""
    service = HeldService()
    threaded_httpserver.expect_request("/slow").respond_with_handler(service)
    base = threaded_httpserver.url_for("")
    publish_definitions(
        tenant,
        [held_http_node("slow", f"return '{base}slow?run=' + nodeParameters.run"),
         script_node("mark", "return 'marked ' + nodeParameters.run", ["run"]), success_node()],
        [workflow("twoproc", "m", [
            state("m", "mark", "s", parameters={"run": "$.params.run"}),
            state("s", "slow", "m2", parameters={"run": "$.params.run"}),
            state("m2", "mark", "done", parameters={"run": "$.params.run"}),
            state("done"),
        ])],
    )
    task_queue = f"twoproc-{uuid.uuid4().hex[:6]}"
    ids = [f"twoproc-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    supervisor = start_worker_process(task_queue, "--processes", "2")
    try:
        wait_for(lambda: len(_children(supervisor.pid)) == 2, "two worker processes", timeout=90)
        for index, workflow_id in enumerate(ids):
            inp = RunInput(tenant=tenant, workflow_key="twoproc", start={"params": {"run": str(index)}})
            run_async(temporal.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=task_queue))
        wait_for(lambda: service.count("/slow") >= len(ids), "every run inside its HTTP node", timeout=90)
        os.kill(_children(supervisor.pid)[0], signal.SIGKILL)
        service.release_slow.set()
        results = [run_async(temporal.get_workflow_handle(i, result_type=dict).result(), 90) for i in ids]
    finally:
        supervisor.send_signal(signal.SIGKILL)  # its processes die with it (PR_SET_PDEATHSIG)
        supervisor.wait()
    for index, result in enumerate(results):
        assert result["workflowStatus"] == "COMPLETED", result
        assert result["output"]["m2"] == f"marked {index}"
        assert result["output"]["s"] == {"run": str(index), "path": "/slow"}
    assert Run.objects.filter(workflow_id__in=ids, status="COMPLETED").count() == len(ids)
