"""The run's end stored by the segment that leads to it (engine level 4, worker/run_end.py).

Each flow runs twice on the real engine: as this build runs it, and as a run begun at engine level 3 (its end
stored by a local activity of its own). Both must leave the same mirror, context and timeline; the level-4 run
with one local activity (one workflow activation, one history marker) fewer.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from werkzeug import Request, Response

from apps.runs.context_store import get_context_store
from apps.runs.contract import UPDATE_RESUME, UPDATE_TERMINATE, WORKFLOW_NAME, RunInput
from apps.runs.models import NodeExecution, Run
from apps.tasks.models import Task, TaskStatus
from devtools.testing.builders import (
    branch_node,
    failure_node,
    instruction_node,
    script_node,
    state,
    success_node,
    value,
    workflow,
)
from devtools.testing.definitions import publish_definitions
from drift.temporal import run_async
from worker import segment_activity
from worker.replay import replay_histories

pytestmark = pytest.mark.temporal

MIRROR = ("status", "current_node", "disposition", "error_message", "view", "state_seq")


def _stored(workflow_id: str) -> dict[str, Any]:
    """What the run left in the database: the mirror, the context (without its own id) and the timeline."""
    run = Run.objects.get(workflow_id=workflow_id)
    context = get_context_store().load(workflow_id)
    rows = NodeExecution.objects.filter(run=run).order_by("seq")
    return {
        "mirror": {field: getattr(run, field) for field in MIRROR},
        "finished": run.finished_at is not None,
        "context": {key: item for key, item in context.context.items() if key != "workflowId"},
        "context_seq": context.seq,
        "timeline": list(rows.values_list("seq", "instance_name", "node_type", "outcome", "error", "duration_ms")),
    }


def _local_activities(runs, workflow_id: str) -> int:
    history = run_async(runs.client.get_workflow_handle(workflow_id).fetch_history())
    return sum(event.marker_recorded_event_attributes.marker_name == "core_local_activity"
               for event in history.events if event.HasField("marker_recorded_event_attributes"))


def _both(runs, before_engine_4, key: str, params: dict[str, Any]) -> tuple[str, str]:
    now = runs.start(key, params)["workflowId"]
    with before_engine_4:
        then = runs.start(key, params)["workflowId"]
    runs.result(now), runs.result(then)
    return now, then


def _without_durations(stored: dict[str, Any]) -> dict[str, Any]:
    """The node rows' durations are the nodes' own (two runs never take the same time); SUCCESS takes none."""
    return {**stored, "timeline": [row[:-1] for row in stored["timeline"]]}


def _flows(tenant: str) -> None:
    nodes = [
        script_node("inc", "return _global.params.n + 1"),
        script_node("double", "return _global.a * 2", ["p"]),
        success_node(),
        failure_node("computed", error=value("return 'too big: ' + str(_global.b)")),
        failure_node("fixed", error="refused"),
        script_node("route", "return _global.b"),
    ]
    publish_definitions(tenant, nodes, [
        # SCRIPT, SCRIPT, then SUCCESS, which the walker settles itself
        workflow("to_success", "a", [state("a", "inc", "b"), state("b", "double", "done", parameters={"p": "$.a"}),
                                     state("done")]),
        # the last SCRIPT is an `end` state
        workflow("to_end", "a", [state("a", "inc", "b"), state("b", "double", end=True, parameters={"p": "$.a"})]),
        # a FAILURE with a computed error runs in the segment
        workflow("to_computed_failure", "a", [state("a", "inc", "b"),
                                              state("b", "double", "f", parameters={"p": "$.a"}),
                                              state("f", "computed", end=True)]),
        # a FAILURE with a fixed error, settled by the walker like SUCCESS
        workflow("to_fixed_failure", "a", [state("a", "inc", "b"),
                                           state("b", "double", "f", parameters={"p": "$.a"}),
                                           state("f", "fixed", end=True)]),
    ])


@pytest.mark.parametrize("key", ["to_success", "to_end", "to_computed_failure", "to_fixed_failure"])
def test_the_last_segment_stores_the_end_the_run_would_store(runs, tenant, before_engine_4, key):
    _flows(tenant)
    now, then = _both(runs, before_engine_4, key, {"n": 4})
    stored, before = _stored(now), _stored(then)
    assert _without_durations(stored) == _without_durations(before)
    assert stored["mirror"]["status"] in ("COMPLETED", "FAILED") and stored["finished"]
    assert stored["context"]["b"] == 10
    # start_run and the segment, against start_run, the segment and the final persist
    assert (_local_activities(runs, now), _local_activities(runs, then)) == (2, 3)


def test_the_end_after_a_resumed_screen_is_stored_with_the_segment(runs, tenant, before_engine_4):
    publish_definitions(tenant, [
        instruction_node("ask", [{"id": "reason", "tags": {"values": ["ui.dropdown"]}}]),
        script_node("record", "return _global['ask:viewResponse'].selectedOptions.reason"),
        success_node(),
    ], [workflow("screen_then_end", "ask", [state("ask", "ask", "r"), state("r", "record", "done"), state("done")])])

    def resumed() -> str:
        waiting = runs.start("screen_then_end", {})
        assert waiting["workflowStatus"] == "WAITING", waiting
        answer = runs.update(waiting["workflowId"], UPDATE_RESUME, {"selectedOptions": {"reason": "DAMAGED"}})
        assert answer["workflowStatus"] == "COMPLETED", answer
        return waiting["workflowId"]

    now = resumed()
    with before_engine_4:
        then = resumed()
    assert _without_durations(_stored(now)) == _without_durations(_stored(then))
    assert _stored(now)["mirror"]["status"] == "COMPLETED" and "r" in _stored(now)["context"]
    assert _local_activities(runs, now) == _local_activities(runs, then) - 1


def test_an_end_that_differs_is_stored_by_the_workflow_under_the_next_seq(runs, tenant, monkeypatch,
                                                                           before_engine_4):
    """The workflow never takes the activity's word for it: a digest that does not match its own request (a bug
    in either) makes it store its own state after the activity's, so the stored state is the workflow's."""
    _flows(tenant)
    with before_engine_4:
        then = runs.start("to_success", {"n": 4})["workflowId"]
    monkeypatch.setattr(segment_activity, "digest", lambda request: "not the workflow's")
    now = runs.start("to_success", {"n": 4})["workflowId"]
    stored, before = _stored(now), _stored(then)
    assert stored["mirror"]["state_seq"] == before["mirror"]["state_seq"] + 1
    assert stored["context_seq"] == stored["mirror"]["state_seq"]
    assert _without_durations(stored) | {"mirror": None, "context_seq": None} == \
        _without_durations(before) | {"mirror": None, "context_seq": None}
    assert {**stored["mirror"], "state_seq": 0} == {**before["mirror"], "state_seq": 0}
    assert _local_activities(runs, now) == 3  # the workflow's own persist came back


def _sample_shape(tenant: str, url: str, screen: dict[str, Any] | None = None) -> None:
    """The sample's start: HTTP, BRANCH, screen (the segment a short remote node leads), then a SCRIPT to the end."""
    fetch = {"id": "fetch", "name": "fetch", "type": "HTTP", "timeoutSeconds": 10,
             "httpComponents": {"url": value(url, "STATIC"), "method": "GET"}}
    publish_definitions(tenant, [
        fetch, branch_node("ok", [("return _global.f.n == 1", "q")], default="done"),
        screen or instruction_node("ask", [{"id": "x"}]), script_node("after", "return _global.f.n + 1"),
        success_node(),
    ], [workflow("shape", "f", [state("f", "fetch", "r"), state("r", "ok"), state("q", "ask", "a"),
                                state("a", "after", "done"), state("done")])])


def test_the_segment_up_to_a_screen_stores_its_waiting_state(runs, tenant, httpserver, settings, before_engine_4):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/order").respond_with_json({"n": 1})
    _sample_shape(tenant, httpserver.url_for("/order"))

    def waiting() -> str:
        started = runs.start("shape", {})
        assert (started["workflowStatus"], started["currentNode"]) == ("WAITING", "q"), started
        return started["workflowId"]

    now = waiting()
    with before_engine_4:
        then = waiting()
    assert _without_durations(_stored(now)) == _without_durations(_stored(then))
    assert _stored(now)["mirror"]["view"] is not None
    # start_run and the segment (HTTP, BRANCH, the screen and its WAITING state), against one more: the persist
    assert (_local_activities(runs, now), _local_activities(runs, then)) == (2, 3)
    for workflow_id in (now, then):
        answer = runs.update(workflow_id, UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"x": "y"}}})
        assert answer["workflowStatus"] == "COMPLETED", answer
    assert _without_durations(_stored(now)) == _without_durations(_stored(then))


def test_a_screen_with_a_human_task_keeps_the_persist_of_its_own(runs, tenant, httpserver, settings):
    """Its task is the screen kind's to open (its deadlines, its seq): the segment stores no WAITING state for it."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/order").respond_with_json({"n": 1})
    assigned = instruction_node("ask", [{"id": "x"}]) | {"assignment": {"group": value("tier1", "STATIC")}}
    _sample_shape(tenant, httpserver.url_for("/order"), assigned)
    started = runs.start("shape", {})
    assert started["workflowStatus"] == "WAITING", started
    assert _local_activities(runs, started["workflowId"]) == 3
    assert Task.objects.get(workflow_id=started["workflowId"]).status == TaskStatus.OPEN


def test_an_end_that_differs_after_a_stored_waiting_state_replays(runs, tenant, monkeypatch):
    """A replay asks whether the stored state differed at every stored state (without comparing), the original run
    only where it compared and found a difference: each state change has its own patch id, so the SDK's memory of
    a patch's first answer cannot carry the WAITING state's "no" over to the end (the session's replay of closed
    runs, devtools/pytest_services.py, replays this one)."""
    from worker.run_end import digest

    publish_definitions(tenant, [script_node("inc", "return _global.params.n + 1"),
                                 instruction_node("ask", [{"id": "x"}]), script_node("double", "return _global.a * 2"),
                                 success_node()],
                        [workflow("screen_then_end", "a", [state("a", "inc", "q"), state("q", "ask", "b"),
                                                           state("b", "double", "done"), state("done")])])
    monkeypatch.setattr(segment_activity, "digest",
                        lambda request: "not the workflow's" if request.status == "COMPLETED" else digest(request))
    waiting = runs.start("screen_then_end", {"n": 1})
    assert waiting["workflowStatus"] == "WAITING", waiting
    answer = runs.update(waiting["workflowId"], UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"x": "y"}}})
    assert answer["workflowStatus"] == "COMPLETED", answer
    assert _stored(waiting["workflowId"])["context"]["b"] == 4
    history = run_async(runs.client.get_workflow_handle(waiting["workflowId"]).fetch_history())
    report = run_async(replay_histories([history]))
    assert report.ok and len(report.outcomes) == 1, report.failures


def test_a_terminate_gives_up_a_remote_led_segment_and_its_late_waiting_state_writes_nothing(runs, tenant,
                                                                                             httpserver, settings):
    """A segment a remote node leads is given up for a terminate, as always (its call may take its whole timeout
    and retries): the run ends TERMINATED mid-call, and the WAITING state the segment would have stored never
    appears after it (no row, no view). The activity's thread is cancelled when its call returns; were it to
    store anyway, the store finds the newer state and writes nothing (`newest_only`, test_query_counts.py)."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    answered = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(2.5)
        answered.set()
        return Response('{"n": 1}', content_type="application/json")

    httpserver.expect_request("/order").respond_with_handler(slow)
    _sample_shape(tenant, httpserver.url_for("/order"))
    workflow_id = f"run-{uuid.uuid4().hex}"
    inp = RunInput(tenant=tenant, workflow_key="shape", start={"params": {}})
    # A 1 s workflow task: Core heartbeats it during the call, so the terminate reaches the workflow mid-call.
    run_async(runs.client.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=runs.task_queue,
                                         task_timeout=timedelta(seconds=1)))
    time.sleep(1.2)
    answer = runs.update(workflow_id, UPDATE_TERMINATE, "stop")
    assert answer["workflowStatus"] == "TERMINATED", answer
    assert answered.wait(10)
    time.sleep(1)  # the activity's thread stores (or not) right after the call
    stored = _stored(workflow_id)
    assert stored["mirror"]["status"] == "TERMINATED" and stored["mirror"]["view"] is None, stored
    assert [row[1] for row in stored["timeline"]] == [], stored["timeline"]
