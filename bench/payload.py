"""Payload benchmark (issue 11, no payload cliff): a run whose context is ~1 MiB through N HTTP nodes. Prints the
context size, the Temporal history size (every run of the workflow id, continue-as-new included) and the ratio
history/context, for Drift and for a hand-written Temporal workflow handing the context to each activity.

    .venv/bin/python bench/payload.py [--nodes 200] [--lines 7000] [--timeout 900]

Both run on the same Temporal dev server, in the same process, with Drift's payload converter and encryption.
The baseline usually does not finish: Temporal terminates a workflow whose history passes 50 MB (its ratio is
then the history reached when it was stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baseline import BaselinePayload, baseline_fetch_line  # noqa: E402
from bench.engine import publish, with_temporal  # noqa: E402
from bench.json_server import with_json_server  # noqa: E402

QUERY = "return {'i': nodeParameters.i, 'sku': _global.orderDetails['lines'][nodeParameters.i].sku}"


def _line(path: str) -> dict:
    query = parse_qs(urlsplit(path).query)
    return {"i": int(query["i"][0]), "sku": query["sku"][0]}


def order(lines: int) -> dict:
    return {"lines": [{"sku": f"sku-{index:06d}", "qty": index % 7 + 1, "note": "n" * 96} for index in range(lines)]}


def _definitions(url: str, nodes: int, lines: int) -> tuple[list[dict], list[dict]]:
    fetch = {"id": "fetch_line", "name": "fetch_line", "type": "HTTP", "parameters": ["i"],
             "httpComponents": {"url": {"type": "STATIC", "value": {"type": "STRING", "data": url}}, "method": "GET",
                                "queryParams": {"type": "SCRIPT", "value": {"type": "MAP", "data": QUERY}}}}
    done = {"id": "done", "name": "done", "type": "SUCCESS"}
    states = {f"n{index}": {"instanceName": f"n{index}", "resourceId": "fetch_line", "resourceVersion": "LATEST",
                            "type": "NODE", "parameters": {"i": index % lines},
                            "nextNode": f"n{index + 1}" if index + 1 < nodes else "done"}
              for index in range(nodes)}
    states["done"] = {"instanceName": "done", "resourceId": "done", "resourceVersion": "LATEST", "type": "NODE"}
    return [fetch, done], [{"id": "bench_payload", "startNode": "n0", "states": states}]


async def history_bytes(client, workflow_id: str) -> tuple[int, int]:
    """The history size of every Temporal run of `workflow_id` (continue-as-new starts one), and their number."""
    total, runs = 0, 0
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        described = await client.get_workflow_handle(workflow_id, run_id=execution.run_id).describe()
        total += described.raw_description.workflow_execution_info.history_size_bytes
        runs += 1
    return total, runs


def main(nodes: int, lines: int, timeout: float) -> None:
    with_json_server(_line, "/line", lambda url: with_temporal(
        lambda address: _bench(address, url, nodes, lines, timeout)))


async def _bench(address: str, url: str, nodes: int, lines: int, timeout: float) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from apps.runs.contract import WORKFLOW_NAME, RunInput
    from drift.codec import data_converter
    from worker.main import build_worker

    node_defs, workflows = _definitions(url, nodes, lines)
    await publish(node_defs, workflows)
    client = await Client.connect(address, data_converter=data_converter())
    big = order(lines)
    context_bytes = len(json.dumps(big))

    drift_id, base_id = f"bench-payload-{uuid.uuid4().hex}", f"bench-payload-base-{uuid.uuid4().hex}"
    async with build_worker(client, task_queue="bench-payload"):
        handle = await client.start_workflow(
            WORKFLOW_NAME, RunInput(tenant="bench", workflow_key="bench_payload", start={"orderDetails": big}),
            id=drift_id, task_queue="bench-payload")
        drift_status, drift_seconds = await _outcome(handle, timeout)
    drift_history, drift_runs = await history_bytes(client, drift_id)

    async with Worker(client, task_queue="bench-payload-base", workflows=[BaselinePayload],
                      activities=[baseline_fetch_line], activity_executor=_executor()):
        handle = await client.start_workflow(BaselinePayload.run, {"orderDetails": big, "nodes": nodes, "url": url},
                                             id=base_id, task_queue="bench-payload-base")
        base_status, base_seconds = await _outcome(handle, timeout)
    base_history, _ = await history_bytes(client, base_id)
    base_events = (await client.get_workflow_handle(base_id).describe()).raw_description.workflow_execution_info
    base_nodes = len(await _scheduled(client, base_id))

    print(f"payload benchmark: a context of {context_bytes} bytes through {nodes} HTTP nodes")
    print(f"    drift     {drift_status[:60]} in {drift_seconds:6.1f} s, history {drift_history} bytes "
          f"({drift_runs} Temporal run(s)), "
          f"ratio history/context = {drift_history / context_bytes:6.2f}  (target < 10)")
    print(f"    baseline  {base_status[:60]} in {base_seconds:6.1f} s, {base_nodes} activities scheduled, "
          f"history {base_history} bytes ({base_events.history_length} events), "
          f"ratio history/context = {base_history / context_bytes:.2f}")


async def _outcome(handle, timeout: float) -> tuple[str, float]:
    """How the run ended (or that it had not, after `timeout` seconds), and when."""
    from temporalio.client import WorkflowFailureError

    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(handle.result(), timeout)
        status = result.get("workflowStatus") or result.get("status")
    except WorkflowFailureError as error:
        status = f"ended: {error.cause}"
    except TimeoutError:
        status = f"still running after {timeout:.0f} s"
    return status, time.perf_counter() - started


async def _scheduled(client, workflow_id: str) -> list:
    from temporalio.api.enums.v1 import EventType

    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [event for event in history.events if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]


def _executor():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=8)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--lines", type=int, default=7000)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for each run")
    args = parser.parse_args()
    main(args.nodes, args.lines, args.timeout)
