"""Segments (worker/kinds/segment.py): consecutive pure nodes in one local activity, recorded as if each ran
alone. Each flow runs twice on the real engine, with segments and with them switched off (`segment.applies`
answering None, i.e. the walker before issue 26), and the two runs must leave the same timeline and context."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from apps.nodes import registry
from apps.nodes.base import NodeError
from apps.runs.contract import SIGNAL_EVENT, UPDATE_RESUME
from apps.runs.models import NodeExecution
from devtools.testing.builders import (
    branch_node,
    child_node,
    instruction_node,
    script_node,
    state,
    success_node,
    value,
    wait_node,
    workflow,
)
from devtools.testing.definitions import publish_definitions
from drift.temporal import run_async
from worker import versions
from worker.kinds import segment

pytestmark = pytest.mark.temporal


def _rows(workflow_id: str) -> list[tuple]:
    rows = NodeExecution.objects.filter(run__workflow_id=workflow_id).order_by("seq")
    return list(rows.values_list("seq", "instance_name", "node_type", "outcome", "error", "lane"))


def _markers(runs, workflow_id: str) -> dict[str, int]:
    """Per run: the local activities in its history (their markers; each result is one workflow activation)."""
    history = run_async(runs.client.get_workflow_handle(workflow_id).fetch_history())
    markers = [event.marker_recorded_event_attributes.marker_name for event in history.events
               if event.HasField("marker_recorded_event_attributes")]
    return {"local activities": markers.count("core_local_activity")}


def _without_context_ids(output: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in output.items() if key != "workflowId"}


@pytest.fixture
def unsegmented(monkeypatch):
    """Switch segments off for the runs started inside the block: one activity per node, as before."""

    class Switch:
        def __enter__(self) -> None:
            monkeypatch.setattr(segment, "applies", lambda engine, name: None)
            # As a build before engine level 2 too, so that the session's replay (today's code) takes the same path.
            monkeypatch.setattr(versions, "level", lambda: 0)

        def __exit__(self, *exc: object) -> None:
            monkeypatch.undo()

    return Switch()


def _mixed_flow(tenant: str, url: str) -> None:
    nodes = [
        script_node("inc", "return _global.params.n + 1"),
        branch_node("route", [("return _global.s1 > 1", "s2")], default="s3"),
        script_node("double", "return _global.s1 * 2"),
        script_node("never", "return 'not taken'"),
        {"id": "fetch", "name": "fetch", "type": "HTTP", "httpComponents": {"url": value(url, "STATIC"),
                                                                            "method": "GET"}},
        script_node("after", "return {'fetched': _global.h, 'p': nodeParameters.p}", ["p"]),
        script_node("again", "return _global.s4.p + 1"),
        wait_node("hold", waitType="ON_EVENT", eventName="go"),
        script_node("last", "return [_global.s5, _global['w:event']]"),
        success_node(),
    ]
    states = [
        state("s1", "inc", "r"), state("r", "route"), state("s2", "double", "h"), state("s3", "never", "h"),
        state("h", "fetch", "s4"), state("s4", "after", "s5", parameters={"p": "$.s2"}), state("s5", "again", "w"),
        state("w", "hold", "s6"), state("s6", "last", "done"), state("done"),
    ]
    publish_definitions(tenant, nodes, [workflow("mixed", "s1", states)])


def _mixed_run(runs) -> tuple[str, dict[str, Any]]:
    waiting = runs.start("mixed", {"n": 4})
    assert waiting["workflowStatus"] == "WAITING", waiting
    runs.signal(waiting["workflowId"], SIGNAL_EVENT, "go", {"ok": 1})
    result = runs.result(waiting["workflowId"])
    assert result["workflowStatus"] == "COMPLETED", result
    return waiting["workflowId"], result


def test_a_segmented_run_leaves_the_timeline_and_context_of_the_unsegmented_one(runs, tenant, settings, httpserver,
                                                                                  unsegmented):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/ping").respond_with_json({"pong": True})
    _mixed_flow(tenant, httpserver.url_for("/ping"))
    segmented_id, segmented = _mixed_run(runs)
    with unsegmented:
        plain_id, plain = _mixed_run(runs)
    assert [row[1] for row in _rows(segmented_id)] == ["s1", "r", "s2", "h", "s4", "s5", "w", "s6", "done"]
    assert _rows(segmented_id) == _rows(plain_id)
    assert _without_context_ids(segmented["output"]) == _without_context_ids(plain["output"])
    assert segmented["output"]["s4"] == {"fetched": {"pong": True}, "p": 10}
    assert segmented["output"]["s6"] == [11, {"ok": 1}]
    # s1-r-s2 and s4-s5 are one activity each; s6 is alone (SUCCESS is settled in the workflow).
    assert _markers(runs, segmented_id)["local activities"] < _markers(runs, plain_id)["local activities"]


def _chain(tenant: str, length: int = 10) -> None:
    nodes = [script_node(f"n{i}", f"return (_global.s{i - 1} if {i} else _global.params.n) + 1") for i in range(length)]
    states = [state(f"s{i}", f"n{i}", f"s{i + 1}" if i < length - 1 else "done") for i in range(length)]
    publish_definitions(tenant, [*nodes, success_node()], [workflow("chain10", "s0", [*states, state("done")])])


def test_ten_scripts_take_one_local_activity_instead_of_ten(runs, tenant, unsegmented):
    _chain(tenant)
    segmented = runs.start("chain10", {"n": 0})
    with unsegmented:
        plain = runs.start("chain10", {"n": 0})
    assert segmented["workflowStatus"] == plain["workflowStatus"] == "COMPLETED"
    assert runs.result(segmented["workflowId"])["output"]["s9"] == 10
    assert _rows(segmented["workflowId"]) == _rows(plain["workflowId"])
    # start_run (these starts bypass the API, which pins the definition itself), the nodes, the final persist; the
    # segment stores the run's end too (engine level 4, worker/run_end.py).
    assert _markers(runs, plain["workflowId"]) == {"local activities": 12}
    assert _markers(runs, segmented["workflowId"]) == {"local activities": 2}


def test_the_node_limit_holds_inside_a_segment(runs, tenant, settings):
    settings.DRIFT_MAX_NODE_EXECUTIONS = 4
    _chain(tenant)
    response = runs.start("chain10", {"n": 0})
    assert response["workflowStatus"] == "FAILED" and "node limit" in response["errorMessage"]
    assert [row[1] for row in _rows(response["workflowId"])] == ["s0", "s1", "s2", "s3"]


def _failing_middle(tenant: str) -> None:
    publish_definitions(
        tenant,
        [script_node("a", "return 1"), script_node("b", "return _global.sa / (1 if _global.fixed else 0)"),
         script_node("c", "return _global.sb + 1"), success_node(),
         {"id": "f", "name": "f", "type": "FAILURE", "error": "flow failed"}],
        [workflow("middle", "sa", [state("sa", "a", "sb"), state("sb", "b", "sc"), state("sc", "c", "done"),
                                   state("done"), state("f", "f")], defaultFailureNode="f")],
    )


def test_a_failure_in_the_middle_of_a_segment_fails_that_node(runs, tenant, unsegmented):
    _failing_middle(tenant)
    segmented = runs.start("middle")
    with unsegmented:
        plain = runs.start("middle")
    assert segmented["workflowStatus"] == "FAILED"
    assert segmented["errorMessage"] == plain["errorMessage"]
    assert segmented["errorMessage"].startswith("flow failed: node sb failed: transformer: ZeroDivisionError")
    rows = _rows(segmented["workflowId"])
    assert rows == _rows(plain["workflowId"])
    assert [(row[1], row[3]) for row in rows] == [("sa", "SUCCESS"), ("sb", "FAILURE"), ("f", "FAILURE")]
    assert "ZeroDivisionError" in rows[1][4]


def test_redrive_from_the_failed_middle_node_completes(api, runs, tenant):
    from devtools.testing.rest import start, wait_final

    _failing_middle(tenant)
    failed = start(api, params={"workflowId": "middle"}).json()
    assert failed["workflowStatus"] == "FAILED"
    redriven = api.post(f"/v3/workflow/{failed['workflowId']}/redrive",
                        {"fromNode": "sb", "contextPatch": {"fixed": True}}, format="json")
    assert redriven.status_code == 202, redriven.json()
    new = redriven.json()["workflowId"]
    assert wait_final(new).status == "COMPLETED"
    assert [row[1] for row in _rows(new)] == ["sb", "sc", "done"]
    assert api.get(f"/v3/workflow/{new}?includeContext=true").json()["_global"]["sc"] == 2


# A SCRIPT node `fl` whose first attempt in each run fails with a retryable error (no built-in pure type raises
# one; a plugin type may): the segment hands that node to its own activity, whose retry policy runs it again.
_ATTEMPTS: dict[str, int] = {}


@pytest.fixture
def flaky(monkeypatch):
    script = registry.NODE_TYPES["SCRIPT"]

    def execute(node: dict, instance: dict, scope: Any) -> dict:
        if node.get("id") != "fl":
            return script.execute(node, instance, scope)
        run = scope.context["workflowId"]
        _ATTEMPTS[run] = _ATTEMPTS.get(run, 0) + 1
        if _ATTEMPTS[run] == 1:
            raise NodeError("upstream hiccup", retryable=True)
        return {"output": _ATTEMPTS[run]}

    # Still SCRIPT and pure: the session's closing replay takes the same path without the patch.
    monkeypatch.setitem(registry.NODE_TYPES, "SCRIPT", dataclasses.replace(script, execute=execute))


def test_a_retryable_error_in_a_segment_is_retried_by_the_node_s_own_policy(runs, tenant, flaky):
    publish_definitions(
        tenant, [script_node("a", "return 1"), script_node("fl", "return 0"), script_node("c", "return _global.sb + 1"),
                 success_node()],
        [workflow("flaky", "sa", [state("sa", "a", "sb"), state("sb", "fl", "sc"), state("sc", "c", "done"),
                                  state("done")])],
    )
    response = runs.start("flaky")
    assert response["workflowStatus"] == "COMPLETED", response
    assert _ATTEMPTS[response["workflowId"]] == 2  # once in the segment, once on its own
    assert runs.result(response["workflowId"])["output"]["sc"] == 3
    assert [(row[1], row[3]) for row in _rows(response["workflowId"])] == [
        ("sa", "SUCCESS"), ("sb", "SUCCESS"), ("sc", "SUCCESS"), ("done", "SUCCESS")]


def _parallel_flow(tenant: str) -> None:
    nodes = [script_node("x1", "return 1"), script_node("x2", "return _global.a1 + 1"),
             script_node("x3", "return _global.a2 * 10"), script_node("y1", "return 'b'"),
             branch_node("y2", [("return _global.b1 == 'b'", "b3")], default="b4"),
             script_node("y3", "return 'three'"), script_node("y4", "return 'four'"),
             script_node("z", "return [_global.a3, _global.b3]"), success_node()]
    parallel = {"instanceName": "p", "type": "PARALLEL", "nextNode": "z", "failurePolicy": "WAIT_ALL",
                "branches": [{"name": "left", "startNode": "a1"}, {"name": "right", "startNode": "b1"}]}
    states = [parallel, state("a1", "x1", "a2"), state("a2", "x2", "a3"), state("a3", "x3"),
              state("b1", "y1", "b2"), state("b2", "y2"), state("b3", "y3"), state("b4", "y4"),
              state("z", "z", "done"), state("done")]
    publish_definitions(tenant, nodes, [workflow("par", "p", states)])


def test_parallel_branches_run_their_segments_with_the_same_lanes(runs, tenant, unsegmented):
    _parallel_flow(tenant)
    segmented = runs.start("par")
    with unsegmented:
        plain = runs.start("par")
    assert segmented["workflowStatus"] == plain["workflowStatus"] == "COMPLETED"
    output = runs.result(segmented["workflowId"])["output"]
    assert output["z"] == [20, "three"]
    assert output["p"] == {"left": {"status": "COMPLETED", "error": None},
                           "right": {"status": "COMPLETED", "error": None}}

    def by_lane(workflow_id: str) -> dict[str, list[tuple]]:  # branches interleave differently: compare per lane
        lanes: dict[str, list[tuple]] = {}
        for _, instance, node_type, outcome, error, lane in _rows(workflow_id):
            lanes.setdefault(lane, []).append((instance, node_type, outcome, error))
        return lanes

    assert by_lane(segmented["workflowId"]) == by_lane(plain["workflowId"])
    assert by_lane(segmented["workflowId"])["p/right"] == [
        ("b1", "SCRIPT", "SUCCESS", ""), ("b2", "BRANCH", "SUCCESS", ""), ("b3", "SCRIPT", "SUCCESS", "")]
    assert _markers(runs, segmented["workflowId"])["local activities"] < \
        _markers(runs, plain["workflowId"])["local activities"]


def test_a_start_through_the_api_needs_no_start_run(api, runs, tenant):
    """The API resolved and pinned the definition and wrote the Run row: the run's only local activity is its
    segment, which stores the run's end too (engine level 4)."""
    from apps.runs.models import Run
    from devtools.testing.rest import start

    _chain(tenant)
    response = start(api, params={"workflowId": "chain10", "n": 0}).json()
    assert response["workflowStatus"] == "COMPLETED", response
    assert _markers(runs, response["workflowId"]) == {"local activities": 1}
    run = Run.objects.get(workflow_id=response["workflowId"])
    assert (run.status, run.definition_key, run.definition_version) == ("COMPLETED", "chain10", 1)
    assert [row[1] for row in _rows(response["workflowId"])] == [*(f"s{i}" for i in range(10)), "done"]


def _closers_flow(tenant: str) -> None:
    """Segments closed by a screen (after a BRANCH), a SYNC child and an ON_EVENT wait."""
    publish_definitions(
        tenant,
        [script_node("one", "return 1"), branch_node("ok", [("return _global.s1 > 0", "q")], default="done"),
         instruction_node("ask", [{"id": "x"}]), script_node("two", "return _global.s1 + 1"),
         child_node("call", "kid"), script_node("three", "return _global.c.output.k + _global.s2"),
         wait_node("hold", waitType="ON_EVENT", eventName="go"), script_node("kid_node", "return 40"),
         success_node()],
        [workflow("closers", "s1", [state("s1", "one", "r"), state("r", "ok"), state("q", "ask", "s2"),
                                    state("s2", "two", "c"), state("c", "call", "s3"), state("s3", "three", "w"),
                                    state("w", "hold", "done"), state("done")]),
         workflow("kid", "k", [state("k", "kid_node", "done"), state("done")])],
    )


def _closers_run(runs) -> tuple[str, dict[str, Any]]:
    waiting = runs.start("closers")
    assert (waiting["workflowStatus"], waiting["currentNode"]) == ("WAITING", "q"), waiting
    resumed = runs.update(waiting["workflowId"], UPDATE_RESUME, {"viewResponse": {"selectedOptions": {"x": "y"}}})
    assert (resumed["workflowStatus"], resumed["currentNode"]) == ("WAITING", "w"), resumed
    runs.signal(waiting["workflowId"], SIGNAL_EVENT, "go", {"ok": 1})
    result = runs.result(waiting["workflowId"])
    assert result["workflowStatus"] == "COMPLETED", result
    return waiting["workflowId"], result


def test_a_screen_a_child_and_a_wait_close_the_segment_before_them(runs, tenant, unsegmented):
    _closers_flow(tenant)
    segmented_id, segmented = _closers_run(runs)
    with unsegmented:
        plain_id, plain = _closers_run(runs)
    assert [(row[1], row[3]) for row in _rows(segmented_id)] == [
        ("s1", "SUCCESS"), ("r", "SUCCESS"), ("q", "SUCCESS"), ("q", "RESUMED"), ("s2", "SUCCESS"), ("c", "SUCCESS"),
        ("c", "COMPLETED"), ("s3", "SUCCESS"), ("w", "SUCCESS"), ("done", "SUCCESS")]
    assert _rows(segmented_id) == _rows(plain_id)
    def without_run_ids(output: dict[str, Any]) -> dict[str, Any]:  # the child's own ids differ per run
        return {**_without_context_ids(output), "c": {"status": output["c"]["workflowStatus"],
                                                       "k": output["c"]["output"]["k"]}}

    assert without_run_ids(segmented["output"]) == without_run_ids(plain["output"])
    assert segmented["output"]["s3"] == 42
    # s1-r-q, s2-c and s3-w are one activity each instead of three, two and two; (engine level 2, which the plain
    # run predates) the RUNNING state after the screen rides on the s2-c segment instead of its own persist; and
    # (engine level 4) the s1-r-q segment stores the screen's WAITING state too.
    assert _markers(runs, segmented_id)["local activities"] == _markers(runs, plain_id)["local activities"] - 4 - 2


def _patch_events(runs, workflow_id: str) -> dict[str, list[str]]:
    """The patch markers and search-attribute upserts (TemporalChangeVersion) in a run's history."""
    history = run_async(runs.client.get_workflow_handle(workflow_id).fetch_history())
    markers = [event.marker_recorded_event_attributes for event in history.events
               if event.HasField("marker_recorded_event_attributes")]
    upserts = [event for event in history.events
               if event.HasField("upsert_workflow_search_attributes_event_attributes")]
    return {"patches": [str(marker.details) for marker in markers if marker.marker_name == "core_patch"],
            "upserts": [str(event.upsert_workflow_search_attributes_event_attributes) for event in upserts]}


def test_a_run_of_this_build_asks_one_patch_where_it_starts_and_walks_as_one_asking_each(runs, tenant,
                                                                                         before_engine_2):
    """From engine level 2 (worker/versions.py): one marker (today `engine-3`) and one TemporalChangeVersion upsert,
    in the first workflow task, instead of a marker per behaviour where each first applied; a run begun before
    level 2 (`before_engine_2`) asks each patch, and both walk the same."""
    from apps.runs.models import Run
    from worker.versions import ENGINE_PATCH, ENGINE_PATCHES

    _closers_flow(tenant)
    current_id, current = _closers_run(runs)
    with before_engine_2:
        asking_id, asking = _closers_run(runs)
    assert _rows(current_id) == _rows(asking_id)
    assert current["output"]["s3"] == asking["output"]["s3"] == 42
    for run_id in (current_id, Run.objects.get(parent_workflow_id=current_id).workflow_id):  # and its CHILD run
        asked = _patch_events(runs, run_id)
        assert len(asked["patches"]) == len(asked["upserts"]) == 1 and ENGINE_PATCH in asked["patches"][0], asked
    asked = _patch_events(runs, asking_id)
    assert "segments-1" in str(asked["patches"]) and "segments-2" in str(asked["patches"]), asked
    assert not any(patch in str(asked["patches"]) for patch in ENGINE_PATCHES.values()), asked
    assert len(asked["upserts"]) > 1, asked


def test_a_segment_sends_the_enum_store_to_its_sandbox_child_once(runs, tenant, monkeypatch):
    """The nodes of a segment share one enum store object (read from the cache without a copy), so the session
    sends it with the first script only."""
    from apps.definitions.services import enum_entry_set
    from apps.nodes import sandbox

    enum_entry_set(tenant=tenant, key="rate", value={"x": 3}, actor="t")
    publish_definitions(
        tenant, [script_node("a", "return _enum_store.rate.x"),
                 script_node("b", "return _global.sa * _enum_store.rate.x"),
                 script_node("c", "return _global.sb + _enum_store.rate.x"), success_node()],
        [workflow("rated", "sa", [state("sa", "a", "sb"), state("sb", "b", "sc"), state("sc", "c", "done"),
                                  state("done")])],
    )
    sent: list[dict] = []
    call = sandbox._Child.call

    def recording(child, request, timeout):
        sent.append(request)
        return call(child, request, timeout)

    monkeypatch.setattr(sandbox._Child, "call", recording)
    response = runs.start("rated")
    assert response["workflowStatus"] == "COMPLETED", response
    assert runs.result(response["workflowId"])["output"]["sc"] == 12
    carrying = [request for request in sent if "_enum_store" in request.get("names", request.get("set", {}))]
    assert len(sent) == 3 and len(carrying) == 1, sent
