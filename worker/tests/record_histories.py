"""Records the replay fixtures of a new set under worker/tests/histories/ (see test_recorded_histories.py) on the
real services, with the build of the day: every flow of the set recorded before the kinds split (histories/*.json,
kept as they are), plus a segment of pure nodes, a start the API pinned and segments that end at a screen and a
wait. Committed sets: histories/kinds/ (e31f4ad, segments-1), histories/segments-2/ (segments-2) and
histories/engine-2/ (engine level 2, worker/versions.py: one patch marker per run, the RUNNING state carried) and
histories/engine-3/ (engine level 3: short remote nodes as local activities, leading segments; `remote_segment`)
and histories/engine-4/ (engine level 4: the run's end stored by the segment that leads to it; `run_end`).

Not collected by the suite (the file is not named test_*.py); run it explicitly, only when a workflow change is
meant to be incompatible and is patched, into a new set (RECORDED): `.venv/bin/pytest worker/tests/record_histories.py`.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory

from apps.runs.contract import (
    SIGNAL_EVENT,
    UPDATE_DISCONNECTED,
    UPDATE_RESUME,
    UPDATE_TERMINATE,
    WORKFLOW_NAME,
    RunInput,
)
from apps.runs.models import Run
from devtools.testing.builders import (
    branch_node,
    child_node,
    failure_node,
    instruction_node,
    script_node,
    state,
    success_node,
    value,
    wait_node,
)
from devtools.testing.builders import workflow as workflow_body
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start
from drift.temporal import run_async
from worker.replay import save_history

# The set this recorder writes; the sets already committed are never re-recorded (histories/README.md).
RECORDED = Path(__file__).parent / "histories" / "engine-4"


async def _chain(temporal: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every Temporal run of the id, oldest first (followed back over continue-as-new from the latest)."""
    chain = [await temporal.get_workflow_handle(workflow_id).fetch_history()]
    while previous := chain[0].events[0].workflow_execution_started_event_attributes.continued_execution_run_id:
        chain.insert(0, await temporal.get_workflow_handle(workflow_id, run_id=previous).fetch_history())
    return chain


def _save(temporal: Client, flow: str, workflow_ids: list[str]) -> None:
    """Every Temporal run of each id, as <flow>.<n>.json."""
    for old in RECORDED.glob(f"{flow}.*.json"):
        old.unlink()
    RECORDED.mkdir(parents=True, exist_ok=True)

    async def fetch() -> list[WorkflowHistory]:
        return [history for workflow_id in workflow_ids for history in await _chain(temporal, workflow_id)]

    for index, history in enumerate(run_async(fetch(), 60)):
        save_history(history, RECORDED / f"{flow}.{index:02d}.json")


def _children(parent: str) -> list[str]:
    return list(Run.objects.filter(parent_workflow_id=parent).order_by("workflow_id").values_list("workflow_id",
                                                                                                   flat=True))


def _await_closed(runs, workflow_ids: list[str]) -> None:
    for workflow_id in workflow_ids:
        runs.result(workflow_id, timeout=120)


@pytest.mark.temporal
def test_record_parallel_handover(runs, tenant, temporal, settings, httpserver):
    settings.DRIFT_HISTORY_EVENT_LIMIT = 12  # engine level 3: the HTTP node is local, a round adds ~1 event
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/ping").respond_with_json({"pong": True})
    nodes = [script_node("inc", "return (_global.counter or 0) + 1"), script_node("tail", "return 'tail'"),
             branch_node("more", [("return _global.counter < 20", "count")], default="fin"),
             {"id": "ping", "name": "ping", "type": "HTTP",
              "httpComponents": {"url": value(httpserver.url_for("/ping"), "STATIC"), "method": "GET"}},
             wait_node("hold2", waitType="ON_EVENT", eventName="go2", timeoutSeconds=3600), success_node()]
    parallel = {"instanceName": "p", "type": "PARALLEL", "nextNode": "done", "failurePolicy": "WAIT_ALL",
                "branches": [{"name": "loop", "startNode": "count"}, {"name": "waits", "startNode": "h"}]}
    publish_definitions(tenant, nodes, [workflow_body("loop", "p", [
        parallel, state("count", "inc", "ping", contextOverrideKey="counter"), state("ping", "ping", "check"),
        state("check", "more"), state("fin", "tail", contextOverrideKey="fin"), state("h", "hold2"), state("done"),
    ])])
    workflow_id = runs.start("loop", timeout=60)["workflowId"]
    deadline = time.monotonic() + 90
    while len(run_async(_chain(temporal, workflow_id))) < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    runs.signal(workflow_id, SIGNAL_EVENT, "go2", {"ok": True})
    assert runs.result(workflow_id, timeout=120)["workflowStatus"] == "COMPLETED"
    _save(temporal, "parallel_handover", [workflow_id])


@pytest.mark.temporal
def test_record_map_batches(runs, tenant, temporal, settings):
    settings.DRIFT_MAP_BATCH_SIZE = 2
    publish_definitions(tenant, [script_node("double", "return 1 / 0 if _global.params.item < 0 else "
                                                       "_global.params.item * 2"), success_node()],
                        [workflow_body("line", "d", [state("d", "double", "done"), state("done")]),
                         workflow_body("lines", "m", [{"instanceName": "m", "type": "MAP", "items": "$.params.lines",
                                                  "nextNode": "done", "maxConcurrency": 2,
                                                  "toleratedFailurePercentage": 40,
                                                  "iterator": {"workflowId": "line", "version": "ACTIVE",
                                                               "resultPath": "$.d"}}, state("done")])])
    response = runs.start("lines", {"lines": [1, 2, -1, 4, 5]}, timeout=60)
    workflow_id = response["workflowId"]
    assert runs.result(workflow_id)["workflowStatus"] == "COMPLETED"
    items = sorted(Run.objects.filter(workflow_id__startswith=f"{workflow_id}.m.").values_list("workflow_id",
                                                                                               flat=True))
    prefix = items[0].rsplit(".", 1)[0]
    batches = [f"{prefix}.batch{offset}" for offset in (0, 2, 4)]
    _save(temporal, "map_batches", [workflow_id, *batches, *items[:3]])


@pytest.mark.temporal
def test_record_screen_escalation(runs, tenant, temporal):
    screen = instruction_node("approve", [{"id": "decision"}]) | {"assignment": {
        "group": value("tier1", "STATIC"), "escalation": [{"afterSeconds": 1, "group": value("tier2", "STATIC")}],
        "timeoutSeconds": 2, "timeoutNode": "late"}}
    publish_definitions(tenant, [screen, instruction_node("ask", [{"id": "x"}]),
                                 script_node("gave_up", "return 'nobody answered'"), success_node()],
                        [workflow_body("refund", "a", [state("a", "approve", "done"), state("late", "gave_up", "q"),
                                                  state("q", "ask", "done"), state("done")])])
    workflow_id = runs.start("refund")["workflowId"]
    deadline = time.monotonic() + 30
    while (Run.objects.filter(workflow_id=workflow_id, current_node="q", status="WAITING").first() is None
           and time.monotonic() < deadline):
        time.sleep(0.3)
    runs.update(workflow_id, UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"x": "y"}}, "resumedBy": "bo"})
    result = runs.result(workflow_id)
    assert (result["workflowStatus"], result["output"]["late"]) == ("COMPLETED", "nobody answered")
    _save(temporal, "screen_escalation", [workflow_id])


@pytest.mark.temporal
def test_record_event_timeout(runs, tenant, temporal):
    publish_definitions(tenant, [wait_node("pay", waitType="ON_EVENT", eventName="paid", timeoutSeconds=1),
                                 wait_node("late_pay", waitType="ON_EVENT", eventName="paid", timeoutSeconds=3600),
                                 success_node(), failure_node()],
                        [workflow_body("expires", "w", [state("w", "pay", "done"), state("done"), state("failed")],
                                  defaultFailureNode="failed"),
                         workflow_body("arrives", "w", [state("w", "late_pay", "done"), state("done")])])
    expired = runs.start("expires")["workflowId"]
    arrived = runs.start("arrives")["workflowId"]
    runs.signal(arrived, SIGNAL_EVENT, "paid", {"amount": 3})
    assert runs.result(expired)["workflowStatus"] == "FAILED"
    assert runs.result(arrived)["workflowStatus"] == "COMPLETED"
    _save(temporal, "event_timeout", [expired, arrived])


@pytest.mark.temporal
def test_record_child_sync_async(runs, tenant, temporal):
    publish_definitions(tenant, [script_node("triple", "return nodeParameters.n * 3", ["n"]), success_node(),
                                 child_node("call", "kid", "SYNC"), child_node("fire", "kid", "ASYNC")],
                        [workflow_body("kid", "t", [state("t", "triple", "done", parameters={"n": "$.params.n"}),
                                               state("done")]),
                         workflow_body("parent", "c", [state("c", "call", "f", parameters={"n": "$.params.n"}),
                                                  state("f", "fire", "done", parameters={"n": 1}), state("done")])])
    parent = runs.start("parent", {"n": 7})["workflowId"]
    assert runs.result(parent)["workflowStatus"] == "COMPLETED"
    children = _children(parent)
    _await_closed(runs, children)
    _save(temporal, "child_sync_async", [parent, *children])


@pytest.mark.temporal
def test_record_disconnected(runs, tenant, temporal):
    publish_definitions(tenant, [instruction_node("ask", [{"id": "x"}]),
                                 script_node("quote", "return nodeParameters.qty * 3", ["qty"]), success_node()],
                        [workflow_body("util", "q", [state("q", "ask", "done"), state("done"),
                                                state("price", "quote", parameters={"qty": "$.params.qty"})])])
    workflow_id = runs.start("util", {"qty": 1})["workflowId"]
    assert runs.update(workflow_id, UPDATE_DISCONNECTED, {"node": "price", "parameters": {"qty": 5}})["response"] == 15
    runs.update(workflow_id, UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"x": "y"}}})
    assert runs.result(workflow_id)["workflowStatus"] == "COMPLETED"
    _save(temporal, "disconnected", [workflow_id])


@pytest.mark.temporal
def test_record_terminate_in_child(runs, tenant, temporal):
    publish_definitions(tenant, [wait_node("hold", waitType="ON_EVENT", eventName="never"), success_node(),
                                 child_node("call", "held", "SYNC")],
                        [workflow_body("held", "h", [state("h", "hold", "done"), state("done")]),
                         workflow_body("caller", "c", [state("c", "call", "done"), state("done")])])
    parent = f"run-{uuid.uuid4().hex}"  # started without waiting: a SYNC child holds the first stable state
    caller = RunInput(tenant=tenant, workflow_key="caller")
    run_async(temporal.start_workflow(WORKFLOW_NAME, caller, id=parent, task_queue=runs.task_queue))
    deadline = time.monotonic() + 30
    while not _children(parent) and time.monotonic() < deadline:
        time.sleep(0.2)
    [child] = _children(parent)
    while Run.objects.get(workflow_id=child).status != "WAITING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runs.update(parent, UPDATE_TERMINATE, "stop")["workflowStatus"] == "TERMINATED"
    # The child's history is saved once it is closed, however it ended (cancelled by the parent, or terminated by
    # its parent close policy when the parent closed first).
    deadline = time.monotonic() + 30
    while run_async(temporal.get_workflow_handle(child).describe()).status.name == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    _save(temporal, "terminate_in_child", [parent, child])


@pytest.mark.temporal
def test_record_segment(runs, tenant, temporal):
    """SCRIPT, BRANCH, SCRIPT in one local activity (behind the patch `segments-1`), then a WAIT ends the segment
    and a second one runs after the event."""
    publish_definitions(tenant, [script_node("prep", "return {'amount': _global.params.amount}"),
                                 branch_node("route", [("return _global.prep.amount > 100", "big")], default="small"),
                                 script_node("big_fee", "return _global.prep.amount * 0.02"),
                                 script_node("small_fee", "return 1"),
                                 wait_node("confirm", waitType="ON_EVENT", eventName="confirmed", timeoutSeconds=3600),
                                 script_node("total", "return _global.prep.amount + _global.fee"), success_node()],
                        [workflow_body("fees", "prep", [
                            state("prep", "prep", "route"), state("route", "route"),
                            state("big", "big_fee", "confirm", contextOverrideKey="fee"),
                            state("small", "small_fee", "confirm", contextOverrideKey="fee"),
                            state("confirm", "confirm", "total"), state("total", "total", "done"), state("done")])])
    workflow_id = runs.start("fees", {"amount": 500})["workflowId"]
    runs.signal(workflow_id, SIGNAL_EVENT, "confirmed", {"by": "bo"})
    result = runs.result(workflow_id)
    assert (result["workflowStatus"], result["output"]["total"]) == ("COMPLETED", 510)
    _save(temporal, "segment", [workflow_id])


@pytest.mark.temporal
def test_record_pinned_start(api, runs, tenant, temporal):
    """A start through the REST API: the API pins the definition and writes the Run row, so the run skips
    start_run (behind the patch `pinned-start-1`); it waits on a screen and is resumed through the API."""
    publish_definitions(tenant, [script_node("quote", "return _global.params.qty * 3"),
                                 instruction_node("approve", [{"id": "decision"}]), success_node()],
                        [workflow_body("pinned", "q", [state("q", "quote", "a"), state("a", "approve", "done"),
                                                        state("done")])])
    started = start(api, params={"workflowId": "pinned", "qty": 4})
    assert started.json()["workflowStatus"] == "WAITING", started.json()
    workflow_id = started.json()["workflowId"]
    resumed = api.put(f"/v3/workflow/resume/{workflow_id}",
                      {"viewResponse": {"selectedOptions": {"decision": "approve"}}}, format="json")
    assert resumed.json()["workflowStatus"] == "COMPLETED", resumed.json()
    _save(temporal, "pinned_start", [workflow_id])


@pytest.mark.temporal
def test_record_remote_segment(api, runs, tenant, temporal, httpserver, settings):
    """Engine level 3: an HTTP node as a local activity leading a segment (HTTP, BRANCH, screen: the sample's
    start), a lone one after the resume, and one with a long timeout as a regular activity."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/order").respond_with_json({"status": "DELIVERED"})
    fetch = {"id": "fetch", "name": "fetch", "type": "HTTP",
             "httpComponents": {"url": value(httpserver.url_for("/order"), "STATIC"), "method": "GET"}}
    slow = {**fetch, "id": "slow", "name": "slow", "timeoutSeconds": 120}
    publish_definitions(tenant, [fetch, slow, branch_node("ok", [("return _global.f.status == 'DELIVERED'", "q")],
                                                          default="done"),
                                 instruction_node("ask", [{"id": "x"}]), success_node()],
                        [workflow_body("remote", "f", [state("f", "fetch", "r"), state("r", "ok"),
                                                       state("q", "ask", "g"), state("g", "fetch", "s"),
                                                       state("s", "slow", "done"), state("done")])])
    started = start(api, params={"workflowId": "remote"})
    assert started.json()["workflowStatus"] == "WAITING", started.json()
    workflow_id = started.json()["workflowId"]
    resumed = api.put(f"/v3/workflow/resume/{workflow_id}",
                      {"viewResponse": {"selectedOptions": {"x": "y"}}}, format="json")
    assert resumed.json()["workflowStatus"] == "COMPLETED", resumed.json()
    _save(temporal, "remote_segment", [workflow_id])


@pytest.mark.temporal
def test_record_run_end(runs, tenant, temporal, monkeypatch):
    """Engine level 4: the run's end stored by the segment that leads to it: a chain to a SUCCESS the walker settles,
    a FAILURE with a computed error inside the segment, a lone SCRIPT after a resumed screen, and a run whose
    WAITING state the segment stored and whose end's digest did not match (the workflow stored its own state after
    it): a replay asks at both, the original run at the second only."""
    from worker import segment_activity
    from worker.run_end import digest

    publish_definitions(tenant, [script_node("inc", "return _global.params.n + 1"),
                                 script_node("double", "return _global.a * 2"),
                                 failure_node("computed", error=value("return 'too big: ' + str(_global.b)")),
                                 instruction_node("ask", [{"id": "x"}]), success_node()],
                        [workflow_body("to_success", "a", [state("a", "inc", "b"), state("b", "double", "done"),
                                                           state("done")]),
                         workflow_body("to_failure", "a", [state("a", "inc", "b"), state("b", "double", "f"),
                                                           state("f", "computed", end=True)]),
                         workflow_body("after_screen", "q", [state("q", "ask", "a"), state("a", "inc", "done"),
                                                             state("done")]),
                         workflow_body("screen_then_end", "a", [state("a", "inc", "q"), state("q", "ask", "b"),
                                                                state("b", "double", "done"), state("done")])])
    to_success = runs.start("to_success", {"n": 1})["workflowId"]
    to_failure = runs.start("to_failure", {"n": 1})["workflowId"]
    after_screen = runs.start("after_screen", {"n": 1})["workflowId"]
    runs.update(after_screen, UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"x": "y"}}})
    monkeypatch.setattr(segment_activity, "digest",
                        lambda request: "not the workflow's" if request.status == "COMPLETED" else digest(request))
    differing = runs.start("screen_then_end", {"n": 2})["workflowId"]
    runs.update(differing, UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"x": "y"}}})
    statuses = [runs.result(workflow_id)["workflowStatus"]
                for workflow_id in (to_success, to_failure, after_screen, differing)]
    assert statuses == ["COMPLETED", "FAILED", "COMPLETED", "COMPLETED"], statuses
    _save(temporal, "run_end", [to_success, to_failure, after_screen, differing])


def _segment_closers_flow(tenant: str) -> None:
    """Segments that end before a screen and before a wait (segments-1), which segments-2 extends over them."""
    publish_definitions(tenant, [script_node("one", "return 1"), branch_node("ok", [("return _global.s1 > 0", "q")],
                                                                          default="done"),
                                 instruction_node("ask", [{"id": "x"}]), script_node("two", "return _global.s1 + 1"),
                                 script_node("three", "return _global.s2 + 1"),
                                 wait_node("hold", waitType="ON_EVENT", eventName="go"), success_node()],
                        [workflow_body("closers", "s1", [state("s1", "one", "r"), state("r", "ok"),
                                                         state("q", "ask", "s2"), state("s2", "two", "s3"),
                                                         state("s3", "three", "w"), state("w", "hold", "done"),
                                                         state("done")])])


@pytest.mark.temporal
def test_record_segment_closers(runs, tenant, temporal):
    """Segments that end at a screen and at a wait: histories/kinds/segments_1 holds them recorded with
    segments-1 (before segments-2 made such a node close its segment)."""
    _segment_closers_flow(tenant)
    workflow_id = runs.start("closers")["workflowId"]
    runs.update(workflow_id, UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"x": "y"}}})
    runs.signal(workflow_id, SIGNAL_EVENT, "go", {"ok": 1})
    assert runs.result(workflow_id)["workflowStatus"] == "COMPLETED"
    _save(temporal, "segment_closers", [workflow_id])
