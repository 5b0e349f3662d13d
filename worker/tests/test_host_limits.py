"""Host limits across worker processes: `run_worker --processes 2` serves 40 runs whose HTTP node calls one host
limited to 5 requests/s and 2 in flight (an operator's HostLimit row, read by each worker process); the host (a
real local server recording what it sees) never has more than 2 requests open nor more than 5 arriving within any
second, and every run completes."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.conf import settings
from django_redis import get_redis_connection
from pytest_httpserver import HTTPServer
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from werkzeug import Request, Response

from apps.nodes.host_limits import KEY_PREFIX
from apps.nodes.models import HostLimit
from apps.runs.admin.timeline import NodeExecutionInline
from apps.runs.contract import ACTIVITY_EXECUTE_NODE, WORKFLOW_NAME, RunInput
from apps.runs.models import NodeExecution
from devtools.testing.builders import state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.processes import start_worker_process
from devtools.testing.rest import wait_for
from drift.temporal import run_async

pytestmark = [pytest.mark.temporal, pytest.mark.serial]
RUNS = 40  # the figure (issue 24, "Done when")


class Partner:
    """Records each request's arrival and the most requests it had open at once; holds each a little, so that
    unlimited callers would overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: list[float] = []
        self.open = self.most_open = 0

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.arrivals.append(time.monotonic())
            self.open += 1
            self.most_open = max(self.most_open, self.open)
        time.sleep(0.05)
        with self.lock:
            self.open -= 1
        return Response('{"ok": true}', content_type="application/json")

    def most_in_one_second(self) -> int:
        """The largest number of arrivals inside any window [t, t + 1 s)."""
        times = sorted(self.arrivals)
        return max(sum(1 for other in times[index:] if other - first < 1.0) for index, first in enumerate(times))


@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3", reason="SQLite pass only")
def test_two_worker_processes_share_the_host_limit(temporal: Client, tenant: str, threaded_httpserver,  # noqa: F811
                                                   transactional_db):
    server: HTTPServer = threaded_httpserver
    partner = Partner()
    server.expect_request("/charge").respond_with_handler(partner)
    node = {"id": "charge", "name": "charge", "type": "HTTP", "timeoutSeconds": 30,
            "httpComponents": {"url": value(server.url_for("/charge"), "STATIC"), "method": "POST"}}
    publish_definitions(tenant, [node, success_node()],
                        [workflow("pay", "charge", [state("charge", "charge", "done"), state("done")])])
    redis = get_redis_connection("default")
    for key in redis.scan_iter(f"{KEY_PREFIX}*"):
        redis.delete(key)
    HostLimit.objects.create(host="127.0.0.1", requests_per_second=5, burst=1, max_in_flight=2)  # any port

    task_queue = f"limits-{uuid.uuid4().hex[:6]}"
    ids = [f"limits-{uuid.uuid4().hex[:8]}" for _ in range(RUNS)]
    worker = start_worker_process(task_queue, "--processes", "2")
    try:
        # Both processes polling before the runs exist: otherwise the first one up takes every activity.
        wait_for(lambda: len(_activity_pollers(temporal, task_queue)) == 2, "two worker processes polling", timeout=90)
        for workflow_id in ids:
            inp = RunInput(tenant=tenant, workflow_key="pay", start={"params": {}})
            run_async(temporal.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=task_queue))
        results = [run_async(temporal.get_workflow_handle(i, result_type=dict).result(), 120) for i in ids]
    finally:
        worker.terminate()
        worker.wait(30)

    assert [result["workflowStatus"] for result in results] == ["COMPLETED"] * RUNS
    assert len(partner.arrivals) == RUNS
    assert partner.most_open <= 2, partner.most_open
    assert partner.most_in_one_second() <= 5, sorted(partner.arrivals)
    # The timeline shows who waited for the host (40 calls at 5/s: most of them).
    waits = NodeExecution.objects.filter(run__workflow_id__in=ids, instance_name="charge")
    assert waits.filter(host_limit_wait_ms__gt=0).count() >= RUNS // 2
    waited = waits.filter(host_limit_wait_ms__gt=0).first()
    assert "waiting for the host limit" in NodeExecutionInline.duration(None, waited)  # the admin's timeline
    assert len(_http_callers(temporal, ids)) == 2  # the calls came from both worker processes


def _local_node(event) -> bool:
    """Whether a local-activity marker is an execute_node's (its details name the activity type)."""
    return ACTIVITY_EXECUTE_NODE.encode() in event.marker_recorded_event_attributes.details["data"].payloads[0].data


def _activity_pollers(temporal: Client, task_queue: str) -> set[str]:
    request = DescribeTaskQueueRequest(namespace=temporal.namespace, task_queue=TaskQueue(name=task_queue),
                                       task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    response = run_async(temporal.workflow_service.describe_task_queue(request))
    return {poller.identity for poller in response.pollers}


def _http_callers(temporal: Client, ids: list[str]) -> set[str]:
    """The worker identities (pid@host) that ran the runs' HTTP calls, from their Temporal histories: a regular
    activity's worker, or for a local one (engine level 3) the worker whose workflow task recorded its marker."""

    async def identities() -> set[str]:
        found = set()
        for workflow_id in ids:
            history = await temporal.get_workflow_handle(workflow_id).fetch_history()
            scheduled = {event.event_id for event in history.events
                         if event.activity_task_scheduled_event_attributes.activity_type.name == ACTIVITY_EXECUTE_NODE}
            found |= {event.activity_task_started_event_attributes.identity for event in history.events
                      if event.activity_task_started_event_attributes.scheduled_event_id in scheduled}
            task_worker = ""
            for event in history.events:  # a workflow task's markers follow its completion
                if event.HasField("workflow_task_completed_event_attributes"):
                    task_worker = event.workflow_task_completed_event_attributes.identity
                elif event.marker_recorded_event_attributes.marker_name == "core_local_activity" and _local_node(event):
                    found.add(task_worker)
        return found

    return run_async(identities())
