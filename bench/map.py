"""MAP benchmark (spec §8): a MAP state over N items (iterator: a 2-node workflow, SCRIPT then SUCCESS) with
maxConcurrency C, versus a hand-written Temporal workflow starting the same child runs C at a time.

    .venv/bin/python bench/map.py [--items 1000] [--concurrency 20]

Both fan-outs run on the same Temporal dev server and the same Drift worker (which runs every child);
the baseline's parent runs on its own worker in the same process. Prints items/s and the ratio Drift/baseline.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import publish, with_temporal  # noqa: E402

ITERATOR_NODES = [
    {"id": "double", "name": "double", "type": "SCRIPT",
     "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": "return _global.params.item * 2"}}},
    {"id": "done", "name": "done", "type": "SUCCESS"},
]


def _state(name: str, resource: str, next_node: str | None = None) -> dict:
    return {"instanceName": name, "resourceId": resource, "resourceVersion": "LATEST", "type": "NODE",
            "nextNode": next_node}


def _workflows(concurrency: int) -> list[dict]:
    line = {"id": "bench_line", "startNode": "d", "states": {"d": _state("d", "double", "done"),
                                                             "done": _state("done", "done")}}
    fan = {"instanceName": "m", "type": "MAP", "items": "$.params.items", "maxConcurrency": concurrency,
           "iterator": {"workflowId": "bench_line", "version": "ACTIVE", "resultPath": "$.d"}, "nextNode": "done"}
    return [line, {"id": "bench_map", "startNode": "m", "states": {"m": fan, "done": _state("done", "done")}}]


def main(items: int, concurrency: int) -> None:
    with_temporal(lambda address: _bench(address, items, concurrency))


async def _bench(address: str, items: int, concurrency: int) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from apps.runs.contract import WORKFLOW_NAME, RunInput
    from bench.baseline import BaselineMap
    from drift.codec import data_converter
    from worker.main import build_worker

    await publish(ITERATOR_NODES, _workflows(concurrency))

    client = await Client.connect(address, data_converter=data_converter())
    drift_queue, base_queue = "bench-drift", "bench-baseline"
    values = list(range(items))

    async def drift_map(count: int) -> float:
        started = time.perf_counter()
        start = RunInput(tenant="bench", workflow_key="bench_map", start={"params": {"items": values[:count]}})
        result = await client.execute_workflow(WORKFLOW_NAME, start, id=f"bench-map-{uuid.uuid4().hex}",
                                               task_queue=drift_queue)
        assert result["workflowStatus"] == "COMPLETED", result
        assert result["output"]["m"]["results"] == [value * 2 for value in values[:count]]
        return count / (time.perf_counter() - started)

    async def baseline_map(count: int) -> float:
        started = time.perf_counter()
        spec = {"tenant": "bench", "workflowKey": "bench_line", "items": values[:count], "concurrency": concurrency,
                "taskQueue": drift_queue}
        result = await client.execute_workflow(BaselineMap.run, spec, id=f"bench-base-{uuid.uuid4().hex}",
                                               task_queue=base_queue)
        assert [output["d"] for output in result["results"]] == [value * 2 for value in values[:count]]
        return count / (time.perf_counter() - started)

    async with build_worker(client, task_queue=drift_queue), Worker(client, task_queue=base_queue,
                                                                   workflows=[BaselineMap]):
        await drift_map(20)  # warm up
        await baseline_map(20)
        drift = await drift_map(items)
        base = await baseline_map(items)

    print(f"MAP benchmark: {items} items, maxConcurrency {concurrency}, iterator = SCRIPT + SUCCESS child runs")
    print(f"    drift MAP        {drift:8.1f} items/s")
    print(f"    hand-written     {base:8.1f} items/s")
    print(f"    ratio drift/baseline = {drift / base:.2f}  (target >= 0.8)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    main(args.items, args.concurrency)
