"""MAP states (spec §8) on the real engine: child runs per item, results in item order, the failure tolerance,
terminate mid-map, and validation."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from apps.definitions import dsl
from apps.definitions.graph_render import workflow_dot
from apps.runs.contract import FINAL_STATUSES, SIGNAL_EVENT, UPDATE_TERMINATE, WORKFLOW_NAME, RunInput
from apps.runs.models import Run
from devtools.testing.builders import script_node, state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from drift.temporal import run_async

pytestmark = pytest.mark.temporal

# The iterator: two nodes. A negative item fails its run.
LINE_NODES = [script_node("double", "return 1 / 0 if _global.params.item < 0 else _global.params.item * 2"),
              success_node(), wait_node("hold", waitType="ON_EVENT", eventName="never"),
              wait_node("gate", waitType="ON_EVENT", eventName="go")]
LINE = workflow("line", "d", [state("d", "double", "done"), state("done")])
HELD_LINE = workflow("held_line", "h", [state("h", "hold", "done"), state("done")])
GATED_LINE = workflow("gated_line", "g", [state("g", "gate", "d"), state("d", "double", "done"), state("done")])


# A batch's history: about 4 events per item run plus the slots handed down the chain (103-132 for 25 items).
BATCH_EVENTS_PER_ITEM = 6


def map_state(name: str, items: Any, iterator: str = "line", next_node: str | None = "done", **extra: Any) -> dict:
    return {"instanceName": name, "type": "MAP", "items": items, "nextNode": next_node,
            "iterator": {"workflowId": iterator, "version": "ACTIVE", "resultPath": "$.d"}, **extra}


def _publish(tenant: str, key: str, map_body: dict) -> None:
    publish_definitions(tenant, LINE_NODES, [LINE, HELD_LINE, GATED_LINE,
                                             workflow(key, "m", [map_body, state("done")])])


def test_map_results_in_item_order_with_failures_under_tolerance(runs, tenant):
    _publish(tenant, "lines", map_state("m", "$.params.lines", maxConcurrency=2, toleratedFailurePercentage=30))
    response = runs.start("lines", {"lines": [1, 2, -1, 4]}, timeout=60)
    assert response["workflowStatus"] == "COMPLETED", response
    output = runs.result(response["workflowId"])["output"]["m"]
    assert output["results"] == [2, 4, None, 8]
    assert output["succeeded"] == 3
    [failure] = output["failed"]
    assert failure["index"] == 2 and "division by zero" in failure["error"]
    assert Run.objects.get(workflow_id=failure["workflowId"]).status == "FAILED"


def test_map_over_tolerance_fails_the_state(runs, tenant):
    _publish(tenant, "strict", map_state("m", [3, -1, -2], maxConcurrency=3))
    response = runs.start("strict", timeout=60)
    assert response["workflowStatus"] == "FAILED"
    assert response["errorMessage"] == "MAP m: 2 of 3 items failed (66.7% > 0%)"
    result = runs.result(response["workflowId"])
    assert result["output"]["m"]["results"] == [6, None, None]


def test_map_of_no_items_completes(runs, tenant):
    _publish(tenant, "empty", map_state("m", "$.params.lines"))
    response = runs.start("empty", {"lines": []})
    assert response["workflowStatus"] == "COMPLETED"
    assert runs.result(response["workflowId"])["output"]["m"] == {"results": [], "failed": [], "succeeded": 0}


def test_terminate_reaches_every_item(runs, tenant, temporal):
    _publish(tenant, "held", map_state("m", [1, 2, 3], iterator="held_line", maxConcurrency=2))
    workflow_id = f"run-{uuid.uuid4().hex}"
    run_async(temporal.start_workflow(WORKFLOW_NAME, RunInput(tenant=tenant, workflow_key="held"), id=workflow_id,
                                      task_queue=runs.task_queue))
    children = Run.objects.filter(workflow_id__startswith=f"{workflow_id}.m.")
    deadline = time.monotonic() + 30
    while children.filter(status="WAITING").count() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert children.filter(status="WAITING").count() == 2  # maxConcurrency: the third has not started
    assert runs.update(workflow_id, UPDATE_TERMINATE, "stop")["workflowStatus"] == "TERMINATED"
    assert runs.result(workflow_id)["workflowStatus"] == "TERMINATED"
    assert sorted(children.values_list("status", flat=True)) == ["TERMINATED", "TERMINATED"]


def test_items_flow_across_batch_boundaries_within_max_concurrency(runs, tenant, temporal, settings):
    """Batches of 3 items, maxConcurrency 2: when batch 0 is down to its last item, batch 1's first item
    takes the freed slot at once (the batches used to run one after another), and no more than 2 item runs
    are ever in flight over the whole MAP."""
    settings.DRIFT_MAP_BATCH_SIZE = 3  # the run carries it in its limits (a replay cuts the same batches)
    _publish(tenant, "gated", map_state("m", list(range(7)), iterator="gated_line", maxConcurrency=2))
    workflow_id = f"run-{uuid.uuid4().hex}"
    run_async(temporal.start_workflow(WORKFLOW_NAME, RunInput(tenant=tenant, workflow_key="gated"), id=workflow_id,
                                      task_queue=runs.task_queue))
    children = Run.objects.filter(parent_workflow_id=workflow_id)

    def in_flight(expected: set[int]) -> set[int]:
        """The item indexes whose runs have started and not ended, once they are `expected` (or after 30 s)."""
        deadline = time.monotonic() + 30
        while True:
            indexes = {int(wid.rsplit(".", 1)[1]) for wid in children.exclude(status__in=[*FINAL_STATUSES, "CREATED"])
                       .values_list("workflow_id", flat=True)}
            if indexes == expected or time.monotonic() > deadline:
                return indexes

    def release(index: int) -> None:
        [child_id] = [wid for wid in children.values_list("workflow_id", flat=True) if wid.endswith(f".{index}")]
        runs.signal(child_id, SIGNAL_EVENT, "go", {})

    assert in_flight({0, 1}) == {0, 1}
    release(0)
    assert in_flight({1, 2}) == {1, 2}  # batch 0 has started all its items
    release(1)
    assert in_flight({2, 3}) == {2, 3}  # batch 0's tail (item 2) runs along with batch 1's first item
    release(3)
    assert in_flight({2, 4}) == {2, 4}
    for index, then in ((2, {4, 5}), (4, {5, 6}), (5, {6}), (6, set())):
        release(index)
        assert in_flight(then) == then
    result = runs.result(workflow_id)
    assert result["workflowStatus"] == "COMPLETED", result.get("errorMessage")
    assert result["output"]["m"]["results"] == [2 * item for item in range(7)]


def _problems(map_body: dict) -> list[tuple[str, str]]:
    body = workflow("v", "m", [map_body, {"instanceName": "done", "nodeDefinition": success_node()}])
    return [(p.path, p.problem) for p in dsl.errors_of(dsl.validate_workflow(body, lambda *_: None))]


def test_validation_of_map_states():
    assert _problems(map_state("m", "$.lines")) == []
    picture = workflow_dot(workflow("v", "m", [map_state("m", "$.lines"), {"instanceName": "done"}]))
    assert "MAP of line" in picture and "shape=folder" in picture
    assert set(_problems(map_state("m", 7, maxConcurrency=0, toleratedFailurePercentage=101.5,
                                   iterator=None))) == {
        ("$.states.m.items", "is required: a $.path, a value component or a list"),
        ("$.states.m.maxConcurrency", "must be an integer from 1 to 1000"),
        ("$.states.m.toleratedFailurePercentage", "must be a number from 0 to 100"),
        ("$.states.m.iterator.workflowId", "is required"),
    }


def test_map_over_several_batches_keeps_every_history_bounded_by_its_batch(runs, tenant, temporal, settings):
    """150 child runs in batches of 25: the parent's history does not grow with the items, and each batch's
    grows only with its own 25. (10,000 items at the default 500 a batch: `bench/map.py --items 10000`.)"""
    settings.DRIFT_MAP_BATCH_SIZE = batch = 25
    _publish(tenant, "big", map_state("m", "$.params.lines", maxConcurrency=20))
    count = 150
    workflow_id = f"run-{uuid.uuid4().hex}"
    start = RunInput(tenant=tenant, workflow_key="big", start={"params": {"lines": list(range(count))}})
    run_async(temporal.start_workflow(WORKFLOW_NAME, start, id=workflow_id, task_queue=runs.task_queue))
    result = runs.result(workflow_id, timeout=600)
    assert result["workflowStatus"] == "COMPLETED", result.get("errorMessage")
    assert result["output"]["m"]["results"] == [2 * item for item in range(count)]
    assert result["output"]["m"]["succeeded"] == count

    # Item runs are <parent>.m.<nonce>.<index>; the batches <parent>.m.<nonce>.batch<offset>.
    item = Run.objects.filter(workflow_id__startswith=f"{workflow_id}.m.").values_list("workflow_id", flat=True)[0]
    prefix = item.rsplit(".", 1)[0]
    batches = [f"{prefix}.batch{offset}" for offset in range(0, count, batch)]

    async def history_lengths() -> dict[str, int]:
        return {wid: len((await temporal.get_workflow_handle(wid).fetch_history()).events)
                for wid in [workflow_id, *batches]}

    lengths = run_async(history_lengths(), 120)
    assert lengths[workflow_id] < 100, lengths  # the parent sees the batch chain, not the items
    # Bounded by its batch (all 150 items in one history would be ~900 events); the slack covers the workflow
    # task retries a loaded machine adds (185 seen at load 9).
    assert max(lengths[wid] for wid in batches) < BATCH_EVENTS_PER_ITEM * batch + 80, lengths


def test_a_test_run_mocks_the_map_instead_of_starting_child_runs(runs, tenant, temporal):
    _publish(tenant, "mocked", map_state("m", [1, 2]))
    mocked = {"results": [7, 8], "failed": [], "succeeded": 2}

    def test_run(case: dict) -> dict:
        workflow_id = f"test-{uuid.uuid4().hex}"
        start = RunInput(tenant=tenant, workflow_key="mocked", test=case)
        run_async(temporal.start_workflow(WORKFLOW_NAME, start, id=workflow_id, task_queue=runs.task_queue))
        return runs.result(workflow_id)

    result = test_run({"mocks": {"m": [{"output": mocked}]}})
    assert (result["workflowStatus"], result["output"]["m"]) == ("COMPLETED", mocked)
    unmocked = test_run({})
    assert unmocked["workflowStatus"] == "FAILED" and "MAP node m has no mock" in unmocked["errorMessage"]
    assert not Run.objects.filter(parent_workflow_id__startswith="test-").exists()
