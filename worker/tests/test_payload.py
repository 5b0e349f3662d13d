"""No payload cliff (issue 11): a large context reaches remote (HTTP) nodes by reference to the context store, so
a run's Temporal history grows with its nodes by a few hundred bytes each, not by the context each time. From
engine level 3 a short remote node runs as a local activity, whose input never enters history: the tests of the
regular-activity path (a long `timeoutSeconds`, or DRIFT_LOCAL_NODE_MAX_SECONDS=0) switch local nodes off."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from werkzeug import Request, Response

from apps.runs.contract import RunInput
from apps.runs.models import NodeExecution, Run, RunContext
from apps.runs.services import run_begin
from apps.secrets.sealing import SEALED
from devtools.testing.builders import child_node, parallel, script_node, state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions
from drift.codec import data_converter
from drift.errors import Conflict
from drift.temporal import run_async
from worker.replay import fetch_closed_histories, replay_histories

pytestmark = pytest.mark.temporal

# 50 nodes keep CI short and still fail the old code by far (each HTTP node's input was the whole context:
# ~57 MB, past Temporal's history limit); bench/payload.py runs the 200 nodes.
NODES = 50
LINES = 7_000  # order lines of ~140 bytes: a context just under DRIFT_MAX_CONTEXT_BYTES (1 MiB) with the outputs
TOKEN = "tok-Secret-4417-Zq"
QUERY = "return {'i': nodeParameters.i, 'sku': _global.orderDetails['lines'][nodeParameters.i].sku}"


class Shop:
    """Answers /line with the order line the request names (i, sku), checking a token header when given."""

    def __init__(self, server: HTTPServer, token: str | None = None) -> None:
        self.token, self.seen, self.lock = token, [], threading.Lock()
        server.expect_request("/line").respond_with_handler(self.line)
        self.url = server.url_for("/line")

    def line(self, request: Request) -> Response:
        if self.token is not None and request.headers.get("X-Token") != self.token:
            return Response("bad token", status=401)
        with self.lock:
            self.seen.append(dict(request.args))
        return Response(json.dumps({"i": int(request.args["i"]), "sku": request.args["sku"]}),
                        content_type="application/json")


@pytest.fixture
def shop_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", threaded=True)  # PARALLEL branches call at once
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def local_http(settings) -> None:
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def _order(lines: int) -> dict[str, Any]:
    return {"lines": [{"sku": f"sku-{index:06d}", "qty": index % 7 + 1, "note": "n" * 96} for index in range(lines)]}


def _http_line(shop: Shop, node_id: str = "fetch_line", **components: Any) -> dict[str, Any]:
    """An HTTP node whose query reads its parameter and the big part of the context."""
    return {
        "id": node_id, "name": node_id, "type": "HTTP", "parameters": ["i"], "timeoutSeconds": 5,
        "httpComponents": {
            "url": value(shop.url, "STATIC"), "method": "GET",
            "queryParams": value(QUERY),
            **components,
        },
    }


def _chain(tenant: str, shop: Shop) -> None:
    """NODES states: HTTP nodes, and every tenth a SCRIPT node reading the big part."""
    states = []
    for index in range(NODES):
        after = f"n{index + 1}" if index + 1 < NODES else "done"
        resource = "qty" if index % 10 == 9 else "fetch_line"
        states.append(state(f"n{index}", resource, after, parameters={"i": index}))
    publish_definitions(
        tenant,
        [_http_line(shop), script_node("qty", "return _global.orderDetails['lines'][nodeParameters.i].qty", ["i"]),
         success_node()],
        [workflow("big", "n0", [*states, state("done")])],
    )


async def _history_bytes(client: Client, workflow_id: str) -> int:
    """The history size of every Temporal run of the workflow id (a continue-as-new starts a new one)."""
    total = 0
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        described = await client.get_workflow_handle(workflow_id, run_id=execution.run_id).describe()
        total += described.raw_description.workflow_execution_info.history_size_bytes
    return total


async def _recorded_inputs(client: Client, workflow_id: str, event_type: int, attributes: str) -> list[Any]:
    """The inputs of the run's history events of one type (decoded as the worker's converter does)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    converter = data_converter()
    inputs = []
    for event in history.events:
        if event.event_type == event_type:
            inputs += await converter.decode(getattr(event, attributes).input.payloads)
    return inputs


async def _scheduled_requests(client: Client, workflow_id: str) -> list[dict[str, Any]]:
    """The NodeRequests of the remote activities, as recorded in the run's history."""
    return await _recorded_inputs(client, workflow_id, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
                                  "activity_task_scheduled_event_attributes")


@pytest.mark.parametrize("path", ["local", "by reference"])
def test_a_1_mib_context_through_many_nodes_keeps_history_small(runs, tenant, temporal, shop_server, local_http,
                                                                settings, path):
    if path == "by reference":
        settings.DRIFT_LOCAL_NODE_MAX_SECONDS = 0
    shop = Shop(shop_server)
    _chain(tenant, shop)
    order = _order(LINES)
    context_bytes = len(json.dumps(order))
    assert 950_000 < context_bytes < 1_000_000

    started = runs.start("big", orderDetails=order, timeout=400)
    result = runs.result(started["workflowId"], timeout=400)

    assert result["workflowStatus"] == "COMPLETED", result.get("errorMessage")
    assert result["output"]["n48"] == {"i": 48, "sku": "sku-000048"}
    assert result["output"]["n9"] == order["lines"][9]["qty"]
    assert len(shop.seen) == NODES - NODES // 10
    assert all(seen["sku"] == f"sku-{int(seen['i']):06d}" for seen in shop.seen)
    history = run_async(_history_bytes(temporal, started["workflowId"]))
    assert history < 10 * context_bytes, f"history {history} bytes for a context of {context_bytes}"
    requests = run_async(_scheduled_requests(temporal, started["workflowId"]))
    if path == "local":  # nothing of the nodes' input is in history
        assert requests == []
    else:
        assert len(requests) == len(shop.seen) and all(request["context"] is None for request in requests)

    histories = run_async(fetch_closed_histories(temporal, workflow_ids=[started["workflowId"]]))
    report = run_async(replay_histories(histories))
    assert report.ok, report.failures


def test_by_reference_nodes_see_sensitive_values_in_clear_and_nothing_clear_is_stored(
        runs, tenant, temporal, shop_server, local_http, settings):
    settings.DRIFT_INLINE_CONTEXT_BYTES = 1024
    settings.DRIFT_LOCAL_NODE_MAX_SECONDS = 0
    shop = Shop(shop_server, token=TOKEN)
    node = _http_line(shop, headers=value("return {'X-Token': _global.customer.token}"))
    publish_definitions(tenant, [node, success_node()], [workflow(
        "secretive", "a", [state("a", "fetch_line", "b", parameters={"i": 3}),
                           state("b", "fetch_line", "done", parameters={"i": 4}), state("done")],
        sensitivePaths=["$.customer.token"])])

    started = runs.start("secretive", customer={"token": TOKEN}, orderDetails=_order(20))
    result = runs.result(started["workflowId"])

    assert result["workflowStatus"] == "COMPLETED", result.get("errorMessage")
    assert [seen["i"] for seen in shop.seen] == ["3", "4"]
    requests = run_async(_scheduled_requests(temporal, started["workflowId"]))
    assert [(request["context"], request["parameters"]) for request in requests] == [(None, {"i": 3}),
                                                                                       (None, {"i": 4})]
    stored = json.dumps(RunContext.objects.get(workflow_id=started["workflowId"]).context)
    assert TOKEN not in stored and SEALED in stored
    run = Run.objects.get(workflow_id=started["workflowId"])
    rows = list(NodeExecution.objects.filter(run=run).values_list("error", flat=True))
    assert TOKEN not in json.dumps([rows, run.error_message, run.view])


def test_parallel_branches_by_reference_get_their_own_parameters(runs, tenant, temporal, shop_server, local_http,
                                                                 settings):
    settings.DRIFT_INLINE_CONTEXT_BYTES = 1024
    settings.DRIFT_LOCAL_NODE_MAX_SECONDS = 0
    shop = Shop(shop_server)
    publish_definitions(tenant, [_http_line(shop), success_node()], [workflow("fan", "p", [
        parallel("p", [("left", "l1"), ("right", "r1")], "WAIT_ALL", "done"),
        state("l1", "fetch_line", "l2", parameters={"i": 1}), state("l2", "fetch_line", parameters={"i": 2}),
        state("r1", "fetch_line", "r2", parameters={"i": 11}), state("r2", "fetch_line", parameters={"i": 12}),
        state("done"),
    ])])

    started = runs.start("fan", orderDetails=_order(20))
    output = runs.result(started["workflowId"])["output"]

    assert {name: output[name] for name in ("l1", "l2", "r1", "r2")} == {
        name: {"i": i, "sku": f"sku-{i:06d}"} for name, i in (("l1", 1), ("l2", 2), ("r1", 11), ("r2", 12))}
    requests = run_async(_scheduled_requests(temporal, started["workflowId"]))
    assert sorted(request["parameters"]["i"] for request in requests) == [1, 2, 11, 12]
    assert all(request["context"] is None for request in requests)


def test_small_contexts_stay_inline(runs, tenant, temporal, shop_server, local_http, settings):
    settings.DRIFT_LOCAL_NODE_MAX_SECONDS = 0
    shop = Shop(shop_server)
    publish_definitions(tenant, [_http_line(shop), success_node()],
                        [workflow("small", "a", [state("a", "fetch_line", "done", parameters={"i": 2}),
                                                 state("done")])])
    started = runs.start("small", orderDetails=_order(5))
    assert runs.result(started["workflowId"])["output"]["a"] == {"i": 2, "sku": "sku-000002"}
    [request] = run_async(_scheduled_requests(temporal, started["workflowId"]))
    assert request["context"]["orderDetails"] == _order(5) and request["context"]["nodeParameters"] == {"i": 2}



async def _child_inputs(client: Client, workflow_id: str) -> list[dict[str, Any]]:
    """The RunInputs of the child runs the run started, as recorded in its history."""
    return await _recorded_inputs(client, workflow_id, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
                                  "start_child_workflow_execution_initiated_event_attributes")


@pytest.mark.parametrize("mode", ["SYNC", "ASYNC"])
def test_child_runs_get_a_large_start_by_reference(runs, tenant, temporal, settings, mode):
    settings.DRIFT_INLINE_CONTEXT_BYTES = 1024
    line = "return _global.orderDetails['lines'][_global.params.i].sku + '/' + _global.customer.id"
    publish_definitions(tenant, [script_node("line", line), success_node(), child_node("call", "kid", mode)], [
        workflow("kid", "l", [state("l", "line", "done"), state("done")]),
        workflow("parent", "c1", [state("c1", "call", "c2", parameters={"i": 3}),
                                  state("c2", "call", "done", parameters={"i": 4}), state("done")]),
    ])
    order = _order(40)

    started = runs.start("parent", customer={"id": "c-9"}, orderDetails=order)
    output = runs.result(started["workflowId"])["output"]

    children = [output["c1"]["workflowId"], output["c2"]["workflowId"]]
    assert [runs.result(child)["output"]["l"] for child in children] == ["sku-000003/c-9", "sku-000004/c-9"]
    inputs = run_async(_child_inputs(temporal, started["workflowId"]))
    assert [child_input["start"] for child_input in inputs] == [{"params": {"i": 3}}, {"params": {"i": 4}}]
    assert all(child_input["start_from"]["workflowId"] == started["workflowId"] for child_input in inputs)
    for child in children:  # the child's row has its whole start: mirrored, searchable, kept for rerun
        row = Run.objects.get(workflow_id=child)
        assert row.customer_id == "c-9" and row.start_request["start"]["orderDetails"] == order
        assert row.start_request["start_from"] is None


@pytest.mark.django_db
def test_a_child_start_reads_only_its_own_parents_context(tenant):
    """A start made straight through Temporal cannot name another run (another tenant's) as its parent's store."""
    Run.objects.create(workflow_id="someone-elses-run", tenant="another-tenant")
    probe = RunInput(tenant=tenant, workflow_key="kid", parent_workflow_id="someone-elses-run",
                     start={"params": {}},
                     start_from={"workflowId": "someone-elses-run", "seq": 1, "keys": ["customer"]})
    with pytest.raises(Conflict, match="own parent run"):
        run_begin(workflow_id="probe-child", inp=probe)
    probe.start_from = {**probe.start_from, "workflowId": "not-my-parent"}
    with pytest.raises(Conflict, match="own parent run"):
        run_begin(workflow_id="probe-child-2", inp=probe)
