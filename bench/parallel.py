"""PARALLEL benchmark (spec §8): 10 branches, each an HTTP node calling an endpoint that takes 200 ms, versus
one such call. The branches really run concurrently when the PARALLEL run takes at most 1.5x the single one.

    .venv/bin/python bench/parallel.py [--runs 10] [--branches 10] [--delay 0.2]

A local threaded HTTP server sleeps `delay` seconds per request; both workflows run on the same Temporal
dev server and Drift worker, one run at a time. Prints the p50 latencies and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import _timed, publish, with_temporal  # noqa: E402
from bench.json_server import with_json_server  # noqa: E402


def _definitions(url: str, branches: int) -> tuple[list[dict], list[dict]]:
    call = {"id": "call", "name": "call", "type": "HTTP",
            "httpComponents": {"url": {"type": "STATIC", "value": {"type": "STRING", "data": url}}, "method": "GET"}}
    done = {"id": "done", "name": "done", "type": "SUCCESS"}

    def node_state(name: str, resource: str, next_node: str | None = None) -> dict:
        return {"instanceName": name, "resourceId": resource, "resourceVersion": "LATEST", "type": "NODE",
                "nextNode": next_node}

    single = {"id": "bench_single", "startNode": "c", "states": {"c": node_state("c", "call", "done"),
                                                                  "done": node_state("done", "done")}}
    fan = {"instanceName": "fan", "type": "PARALLEL", "failurePolicy": "WAIT_ALL", "nextNode": "done",
           "branches": [{"name": f"b{index}", "startNode": f"c{index}"} for index in range(branches)]}
    states = {"fan": fan, "done": node_state("done", "done")}
    states |= {f"c{index}": node_state(f"c{index}", "call") for index in range(branches)}
    return [call, done], [single, {"id": "bench_fan", "startNode": "fan", "states": states}]


def main(runs: int, branches: int, delay: float) -> None:
    def slow(path: str) -> dict:
        time.sleep(delay)
        return {"ok": True}

    with_json_server(slow, "/slow", lambda url: with_temporal(lambda address: _bench(address, url, runs, branches,
                                                                                       delay)))


async def _bench(address: str, url: str, runs: int, branches: int, delay: float) -> None:
    from temporalio.client import Client

    from apps.runs.contract import WORKFLOW_NAME, RunInput
    from worker.main import build_worker

    nodes, workflows = _definitions(url, branches)
    await publish(nodes, workflows)

    client = await Client.connect(address)
    queue = "bench-parallel"

    def run_of(key: str):
        async def run() -> None:
            result = await client.execute_workflow(WORKFLOW_NAME, RunInput(tenant="bench", workflow_key=key),
                                                   id=f"bench-{key}-{uuid.uuid4().hex}", task_queue=queue)
            assert result["workflowStatus"] == "COMPLETED", result

        return run

    async with build_worker(client, task_queue=queue):
        for key in ("bench_single", "bench_fan"):
            await _timed(run_of(key), 2)  # warm up
        single = statistics.median(await _timed(run_of("bench_single"), runs)) * 1000
        fan = statistics.median(await _timed(run_of("bench_fan"), runs)) * 1000

    print(f"PARALLEL benchmark: {branches} branches, each one HTTP call taking {delay * 1000:.0f} ms, vs one call")
    print(f"    single call run p50   {single:8.1f} ms")
    print(f"    {branches} branches run p50  {fan:8.1f} ms")
    print(f"    ratio parallel/single = {fan / single:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--branches", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    main(args.runs, args.branches, args.delay)
