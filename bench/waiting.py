"""Many runs WAITING on one worker: its memory, and resuming them all in random order.

    .venv/bin/python bench/waiting.py [--runs 10000] [--concurrency 16] [--threads 4]

Brings up the stack like bench/api.py (one worker process, DRIFT_WORKER_MAX_CACHED_WORKFLOWS as set in the
environment), starts `--runs` sample `order_status` runs straight through Temporal (each waited for until
WAITING), samples the worker's resident memory (VmRSS) as they pile up, then resumes every run in random order
and checks each COMPLETED. Prints the worker's RSS as the waiting runs pile up and the start/resume rates.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import REPLY, Stack  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def _bounded(concurrency: int, jobs) -> list:
    gate = asyncio.Semaphore(concurrency)

    async def one(job):
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def measure(stack: Stack, runs: int, concurrency: int) -> None:
    from django.conf import settings
    from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

    from apps.runs.contract import UPDATE_RESUME, UPDATE_WAIT_STABLE, WORKFLOW_NAME, RunInput
    from drift.codec import data_converter

    client = await Client.connect(settings.TEMPORAL_ADDRESS, data_converter=data_converter())
    worker_pid = stack.pid_of("worker")
    print(f"worker pid {worker_pid}: {rss_mb(worker_pid):.0f} MB before any run "
          f"(max_cached_workflows {settings.DRIFT_WORKER_MAX_CACHED_WORKFLOWS})")
    ids: list[str] = []

    async def stable(workflow_id: str, update: str, arg) -> dict:
        """The update's answer; an overloaded server may time the RPC out, and the update is then asked again
        (wait_stable is idempotent; a resume that went through answers a conflict, read as its state)."""
        handle = client.get_workflow_handle(workflow_id)
        for _ in range(20):
            try:
                return await handle.execute_update(update, arg, result_type=dict)
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                update, arg = UPDATE_WAIT_STABLE, 0
        raise RuntimeError(f"{workflow_id}: no stable state after 20 tries")

    def starter(workflow_id: str):
        async def start() -> None:
            inp = RunInput(tenant="demo", workflow_key="order_status", start={"params": {"orderId": "42"}},
                           client_id="demo", username="bench")
            await client.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=settings.TEMPORAL_TASK_QUEUE)
            state = await stable(workflow_id, UPDATE_WAIT_STABLE, 0)
            assert state["workflowStatus"] == "WAITING", state
        return start

    step = max(1, min(1000, runs // 5))
    started = time.perf_counter()
    for batch_start in range(0, runs, step):
        batch = [f"bench-wait-{uuid.uuid4().hex}" for _ in range(min(step, runs - batch_start))]
        await _bounded(concurrency, [starter(workflow_id) for workflow_id in batch])
        ids += batch
        print(f"  {len(ids):6d} WAITING   worker RSS {rss_mb(worker_pid):7.0f} MB   "
              f"({len(ids) / (time.perf_counter() - started):.1f} starts/s)", flush=True)
    peak = rss_mb(worker_pid)

    # The most recently started runs are still in the worker's cache; the others were evicted and replay
    # their history when resumed: the two groups' latencies show what an eviction costs.
    cache_size = settings.DRIFT_WORKER_MAX_CACHED_WORKFLOWS
    cached = set(ids[-cache_size:]) if cache_size else set()
    latencies: dict[bool, list[float]] = {True: [], False: []}

    def resumer(workflow_id: str):
        async def resume() -> None:
            began = time.perf_counter()
            state = await stable(workflow_id, UPDATE_RESUME, {**REPLY, "resumedBy": "bench"})
            assert state["workflowStatus"] == "COMPLETED", state
            latencies[workflow_id in cached].append(time.perf_counter() - began)
        return resume

    random.shuffle(ids)
    started = time.perf_counter()
    await _bounded(concurrency, [resumer(workflow_id) for workflow_id in ids])
    elapsed = time.perf_counter() - started
    print(f"resumed {len(ids)} runs in random order: all COMPLETED, {len(ids) / elapsed:.1f} resumes/s; "
          f"worker RSS {rss_mb(worker_pid):.0f} MB after (peak while waiting {peak:.0f} MB)")
    for in_cache, label in ((True, "started last (cached)"), (False, "evicted (replayed)")):
        values = sorted(latencies[in_cache])
        if values:
            print(f"  resume latency, {len(values)} runs {label}: p50 {1000 * values[len(values) // 2]:.0f} ms, "
                  f"p90 {1000 * values[int(len(values) * 0.9)]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads (the API is idle here)")
    args = parser.parse_args()
    stack = Stack(args.threads)
    try:
        stack.setup_django_here()
        asyncio.run(measure(stack, args.runs, args.concurrency))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
