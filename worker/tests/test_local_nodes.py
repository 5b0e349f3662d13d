"""Engine level 3 (issue 26): a short remote node (HTTP) runs as a local activity and may lead a segment, through
the REST API, the real worker and Temporal, against a real local HTTP server. Its retries stay its own (a
retryable error retries the whole segment activity, before anything after the node ran), its idempotency key is
the same on every attempt, a long `timeoutSeconds` keeps the regular activity, and a workflow task that holds
many local results ends before it grows too large (and the hand-over check counts them)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from temporalio.api.enums.v1 import EventType
from werkzeug import Request, Response

from apps.runs.contract import WORKFLOW_NAME, RunInput
from apps.runs.models import NodeExecution
from devtools.testing.builders import branch_node, instruction_node, script_node, state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_final
from drift.temporal import run_async
from worker.engine import TASK_RESULTS
from worker.replay import fetch_closed_histories, replay_histories

pytestmark = pytest.mark.temporal


class Partner:
    """Answers 503 to its first `failures` calls, then 200 with `{"n": <calls so far>}`; records the keys."""

    def __init__(self, failures: int = 0) -> None:
        self.failures, self.keys, self.lock = failures, [], threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.keys.append(request.headers.get("Idempotency-Key"))
            calls = len(self.keys)
        if calls <= self.failures:
            return Response("busy", status=503)
        return Response(f'{{"n": {calls}}}', content_type="application/json")


def _http(node_id: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "type": "HTTP",
            "httpComponents": {"url": value(url, "STATIC"), "method": "POST"}, **fields}


def _events(runs, workflow_id: str) -> list[Any]:
    return list(run_async(runs.client.get_workflow_handle(workflow_id).fetch_history()).events)


def _local_activities(events: list[Any]) -> int:
    return sum(event.marker_recorded_event_attributes.marker_name == "core_local_activity" for event in events)


def _scheduled(events: list[Any]) -> int:
    return sum(event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for event in events)


def _rows(workflow_id: str) -> list[tuple[str, str]]:
    rows = NodeExecution.objects.filter(run__workflow_id=workflow_id).order_by("seq")
    return list(rows.values_list("instance_name", "outcome"))


def _replays(runs, workflow_id: str) -> None:
    histories = run_async(fetch_closed_histories(runs.client, workflow_ids=[workflow_id]))
    report = run_async(replay_histories(histories))
    assert report.ok, [failure.error for failure in report.failures]


@pytest.fixture
def partner_url(httpserver: HTTPServer, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]

    def serve(partner: Partner) -> str:
        httpserver.expect_request("/call").respond_with_handler(partner)
        return httpserver.url_for("/call")

    return serve


def test_an_http_node_leads_the_segment_up_to_the_screen_and_its_waiting_state_in_one_local_activity(
        api, runs, tenant, partner_url):
    """The sample's shape: HTTP, BRANCH, screen. The start reaches WAITING with one local activity (the segment,
    which stores the WAITING state too: engine level 4) and no activity task; the timeline is the one each node's
    own activity would leave."""
    url = partner_url(Partner())
    publish_definitions(tenant, [_http("fetch", url), branch_node("ok", [("return _global.f.n == 1", "q")],
                                                                  default="done"),
                                 instruction_node("ask", [{"id": "x"}]), success_node()],
                        [workflow("remote", "f", [state("f", "fetch", "r"), state("r", "ok"), state("q", "ask", "done"),
                                                  state("done")])])
    started = start(api, params={"workflowId": "remote"}).json()
    assert started["workflowStatus"] == "WAITING" and started["currentNode"] == "q", started
    events = _events(runs, started["workflowId"])
    assert (_local_activities(events), _scheduled(events)) == (1, 0)
    assert _rows(started["workflowId"]) == [("f", "SUCCESS"), ("r", "SUCCESS"), ("q", "SUCCESS")]


def test_a_retryable_error_of_the_leading_node_retries_it_by_its_own_policy(api, runs, tenant, partner_url):
    """Two 503s, then 200: three calls with one key (maxAttempts 3), the script after it ran once, on the answer."""
    partner = Partner(failures=2)
    charge = _http("charge", partner_url(partner), idempotencyKey=True, timeoutSeconds=5,
                   retry={"maxAttempts": 3, "initialIntervalSeconds": 0.1})
    publish_definitions(tenant, [charge, script_node("seen", "return _global.c.n * 10"), success_node()],
                        [workflow("pay", "c", [state("c", "charge", "s"), state("s", "seen", "done"), state("done")])])
    started = start(api, params={"workflowId": "pay"}).json()
    assert wait_final(started["workflowId"]).status == "COMPLETED"
    assert len(partner.keys) == 3 and len(set(partner.keys)) == 1 and partner.keys[0]
    result = runs.result(started["workflowId"])["output"]
    assert (result["c"], result["s"]) == ({"n": 3}, 30)
    assert _rows(started["workflowId"]) == [("c", "SUCCESS"), ("s", "SUCCESS"), ("done", "SUCCESS")]
    assert _scheduled(_events(runs, started["workflowId"])) == 0
    _replays(runs, started["workflowId"])


def test_the_leading_node_fails_after_its_attempts_and_nothing_after_it_runs(api, runs, tenant, partner_url):
    partner = Partner(failures=10)
    charge = _http("charge", partner_url(partner), timeoutSeconds=5,
                   retry={"maxAttempts": 2, "initialIntervalSeconds": 0.1})
    publish_definitions(tenant, [charge, script_node("seen", "return 1"), success_node()],
                        [workflow("pay", "c", [state("c", "charge", "s"), state("s", "seen", "done"), state("done")])])
    started = start(api, params={"workflowId": "pay"}).json()
    assert wait_final(started["workflowId"]).status == "FAILED"
    assert len(partner.keys) == 2
    [(name, outcome)] = _rows(started["workflowId"])
    assert (name, outcome) == ("c", "FAILURE")


def test_a_leading_node_holds_no_sandbox_child_during_its_call(api, runs, tenant, httpserver, settings):
    """Its URL is a script (a sandbox child checked out and back for it), and the BRANCH after it shares one child
    with the pure nodes; while the call is out, the tenant holds none (a slow partner must not starve its other
    runs' scripts of the tenant's share)."""
    from apps.nodes.sandbox import get_pool

    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    held_during_call: list[int] = []

    def partner(request: Request) -> Response:
        held_during_call.append(get_pool()._scheduler._held.get(tenant, 0))
        return Response('{"n": 1}', content_type="application/json")

    httpserver.expect_request("/call").respond_with_handler(partner)
    fetch = {"id": "fetch", "name": "fetch", "type": "HTTP", "httpComponents": {
        "url": value(f"return '{httpserver.url_for('/call')}'"), "method": "GET"}}
    publish_definitions(tenant, [fetch, branch_node("ok", [("return _global.f.n == 1", "s")], default="done"),
                                 script_node("seen", "return _global.f.n + 1"), success_node()],
                        [workflow("scripted", "f", [state("f", "fetch", "r"), state("r", "ok"),
                                                    state("s", "seen", "done"), state("done")])])
    started = start(api, params={"workflowId": "scripted"}).json()
    assert wait_final(started["workflowId"]).status == "COMPLETED"
    assert runs.result(started["workflowId"])["output"]["s"] == 2
    assert _local_activities(_events(runs, started["workflowId"])) == 2  # the segment (f, r, s), the last persist
    assert held_during_call == [0]


def test_a_call_longer_than_the_workflow_task_timeout_is_made_once(runs, tenant, httpserver, settings):
    """A local activity may outlast the workflow task that runs it: Core heartbeats the task (completes it and
    takes the next) instead of letting it time out, which would rerun the call on another attempt."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    calls: list[float] = []

    def slow(request: Request) -> Response:
        calls.append(time.monotonic())
        time.sleep(3)
        return Response('{"n": 1}', content_type="application/json")

    httpserver.expect_request("/call").respond_with_handler(slow)
    publish_definitions(tenant, [_http("slow", httpserver.url_for("/call"), timeoutSeconds=10), success_node()],
                        [workflow("patient", "a", [state("a", "slow", "done"), state("done")])])
    workflow_id = f"run-{uuid.uuid4().hex}"
    inp = RunInput(tenant=tenant, workflow_key="patient", start={"params": {}})
    run_async(runs.client.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=runs.task_queue,
                                         task_timeout=timedelta(seconds=2)))
    assert runs.result(workflow_id)["workflowStatus"] == "COMPLETED"
    assert len(calls) == 1
    events = _events(runs, workflow_id)
    assert _scheduled(events) == 0
    assert not any(event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT for event in events)
    assert sum(event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for event in events) >= 2


def test_a_workflow_task_ends_after_about_a_second_of_nodes(runs, tenant, httpserver, settings):
    """Six calls of 0.3 s each, all local: the workflow task ends (a timer) once its nodes have run for a second,
    so the run's signals and updates (a terminate) wait for one task of about a second, not for the whole chain.
    The time counted is the nodes' own, from their results: a replay counts the same."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]

    def slow(request: Request) -> Response:
        time.sleep(0.3)
        return Response('{"n": 1}', content_type="application/json")

    httpserver.expect_request("/call").respond_with_handler(slow)
    names = [f"h{index}" for index in range(6)]
    following = [*names[1:], "done"]
    states = [state(name, "slow", following[index]) for index, name in enumerate(names)]
    publish_definitions(tenant, [_http("slow", httpserver.url_for("/call")), success_node()],
                        [workflow("chain", names[0], [*states, state("done")])])
    workflow_id = runs.start("chain", timeout=60)["workflowId"]
    assert runs.result(workflow_id)["workflowStatus"] == "COMPLETED"
    events = _events(runs, workflow_id)
    assert _scheduled(events) == 0
    assert sum(event.event_type == EventType.EVENT_TYPE_TIMER_STARTED for event in events) >= 1
    _replays(runs, workflow_id)


def test_a_long_timeout_keeps_the_regular_activity(api, runs, tenant, partner_url, settings):
    url = partner_url(Partner())
    publish_definitions(tenant, [_http("slow", url, timeoutSeconds=settings.DRIFT_LOCAL_NODE_MAX_SECONDS + 1),
                                 _http("quick", url), success_node()],
                        [workflow("mixed", "a", [state("a", "slow", "b"), state("b", "quick", "done"), state("done")])])
    started = start(api, params={"workflowId": "mixed"}).json()
    assert wait_final(started["workflowId"]).status == "COMPLETED"
    events = _events(runs, started["workflowId"])
    assert _scheduled(events) == 1  # `slow`; `quick` ran as a local activity
    assert runs.result(started["workflowId"])["output"]["b"] == {"n": 2}


def test_a_workflow_task_full_of_local_results_ends_and_the_hand_over_counts_them(api, runs, tenant, partner_url,
                                                                                 settings):
    """A loop of HTTP and SCRIPT nodes, all local: without a limit the whole run would be one workflow task. Past
    TASK_RESULTS results a timer ends it; with a low event limit the run continues as new, counting the markers
    its workflow task has not recorded yet."""
    url = partner_url(Partner())
    rounds = TASK_RESULTS + 20
    nodes = [_http("ping", url), script_node("inc", "return (_global.n or 0) + 1"),
             branch_node("more", [(f"return _global.n < {rounds}", "p")], default="done"), success_node()]
    publish_definitions(tenant, nodes, [workflow("loop", "p", [state("p", "ping", "i"),
                                                               state("i", "inc", "m", contextOverrideKey="n"),
                                                               state("m", "more"), state("done")])])
    settings.DRIFT_MAX_NODE_EXECUTIONS = 4 * rounds
    looping = start(api, params={"workflowId": "loop"}).json()["workflowId"]
    assert wait_final(looping, timeout=120).status == "COMPLETED"
    events = _events(runs, looping)
    assert runs.run_count(looping) == 1
    assert sum(event.event_type == EventType.EVENT_TYPE_TIMER_STARTED for event in events) >= 1
    tasks = sum(event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for event in events)
    assert tasks >= 2
    _replays(runs, looping)

    settings.DRIFT_HISTORY_EVENT_LIMIT = 40
    handing = start(api, params={"workflowId": "loop"}).json()["workflowId"]
    assert wait_final(handing, timeout=120).status == "COMPLETED"
    assert runs.run_count(handing) > 2
    assert runs.result(handing)["output"]["n"] == rounds
