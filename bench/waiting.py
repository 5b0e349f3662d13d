"""Many runs WAITING on one worker: its memory, and resuming them all in random order.

    .venv/bin/python bench/waiting.py [--runs 10000] [--concurrency 16] [--threads 4] [--start-minutes M]
    .venv/bin/python bench/waiting.py --attach VAR_DIR [--concurrency 16]

Brings up the stack like bench/api.py (one worker process, DRIFT_WORKER_MAX_CACHED_WORKFLOWS as set in the
environment), starts `--runs` sample `order_status` runs straight through Temporal (each waited for until
WAITING), samples the worker's resident memory (VmRSS) as they pile up, then resumes every run in random order
and checks each COMPLETED. Prints the worker's RSS as the waiting runs pile up, the start/resume rates and the
resume latency of runs still cached vs evicted (replayed). `--start-minutes` stops starting runs after M minutes
(a loaded machine). `--attach VAR_DIR` skips the start phase: it resumes, in random order, every WAITING bench
run of a stack that is still up (`devtools.up --var-dir VAR_DIR`, e.g. left by an interrupted run of this script).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
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


PREFIX = "bench-wait-"


async def connect():
    from django.conf import settings
    from temporalio.client import Client

    from drift.codec import data_converter

    return await Client.connect(settings.TEMPORAL_ADDRESS, data_converter=data_converter())


async def pile_up(client, worker_pid: int, runs: int, concurrency: int, minutes: float | None) -> list[str]:
    """Start runs until `runs` are WAITING (or `minutes` passed); their ids, in start order."""
    from django.conf import settings
    from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

    from apps.runs.contract import UPDATE_WAIT_STABLE, WORKFLOW_NAME, RunInput

    async def start(workflow_id: str) -> None:
        inp = RunInput(tenant="demo", workflow_key="order_status", start={"params": {"orderId": "42"}},
                       client_id="demo", username="bench")
        await client.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=settings.TEMPORAL_TASK_QUEUE)
        handle = client.get_workflow_handle(workflow_id)
        for _ in range(20):  # an overloaded server may time the RPC out; wait_stable is idempotent
            with contextlib.suppress(WorkflowUpdateRPCTimeoutOrCancelledError):
                state = await handle.execute_update(UPDATE_WAIT_STABLE, 0, result_type=dict)
                assert state["workflowStatus"] == "WAITING", state
                return
        raise RuntimeError(f"{workflow_id}: no stable state after 20 tries")

    ids: list[str] = []
    step = max(1, min(500, runs // 10))
    started = time.perf_counter()
    while len(ids) < runs and (minutes is None or time.perf_counter() - started < 60 * minutes):
        batch = [f"{PREFIX}{uuid.uuid4().hex}" for _ in range(min(step, runs - len(ids)))]
        await _bounded(concurrency, [lambda workflow_id=workflow_id: start(workflow_id) for workflow_id in batch])
        ids += batch
        print(f"  {len(ids):6d} WAITING   worker RSS {rss_mb(worker_pid):7.0f} MB   "
              f"({len(ids) / (time.perf_counter() - started):.1f} starts/s)", flush=True)
    return ids


async def resume_all(client, worker_pid: int, ids: list[str], concurrency: int) -> None:
    """Resume every run in random order and check each COMPLETED. The most recently started runs are still in
    the worker's cache; the others were evicted and replay their history when resumed: the two groups'
    latencies show what an eviction costs."""
    from django.conf import settings
    from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
    from temporalio.service import RPCError, RPCStatusCode

    from apps.runs.contract import UPDATE_RESUME

    cache_size = settings.DRIFT_WORKER_MAX_CACHED_WORKFLOWS
    cached = set(ids[-cache_size:]) if cache_size else set()
    latencies: dict[bool, list[float]] = {True: [], False: []}

    not_ready: list[str] = []

    async def resume(workflow_id: str) -> None:
        handle = client.get_workflow_handle(workflow_id, result_type=dict)
        began = time.perf_counter()
        for _ in range(60):  # asked again when the RPC times out; a Conflict means an earlier ask went through
            try:
                await handle.execute_update(UPDATE_RESUME, {**REPLY, "resumedBy": "bench"}, result_type=dict)
                break
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                continue
            except WorkflowUpdateFailedError:
                break
            except RPCError as error:
                if "completed" in error.message or "closing" in error.message:
                    break  # an earlier ask went through: the run ended meanwhile
                if error.status != RPCStatusCode.FAILED_PRECONDITION:
                    raise RuntimeError(f"{workflow_id}: {error.message}") from error
                # WorkflowNotReady: its last workflow task failed or timed out (an overloaded worker); the
                # server retries the task, so the resume is asked again a little later (the API does the same).
                not_ready.append(workflow_id)
                await asyncio.sleep(1)
        result = await handle.result()
        assert result["workflowStatus"] == "COMPLETED", result
        latencies[workflow_id in cached].append(time.perf_counter() - began)

    peak = rss_mb(worker_pid)
    shuffled = random.sample(ids, len(ids))
    started = time.perf_counter()
    await _bounded(concurrency, [lambda workflow_id=workflow_id: resume(workflow_id) for workflow_id in shuffled])
    elapsed = time.perf_counter() - started
    print(f"resumed {len(ids)} runs in random order: all COMPLETED, {len(ids) / elapsed:.1f} resumes/s; "
          f"worker RSS {rss_mb(worker_pid):.0f} MB after ({peak:.0f} MB with all of them waiting)")
    if not_ready:
        print(f"  {len(not_ready)} resumes asked again after WorkflowNotReady, "
              f"{len(set(not_ready))} runs: {sorted(set(not_ready))[:5]}")
    for in_cache, label in ((True, "started last (cached)"), (False, "evicted (replayed)")):
        values = sorted(latencies[in_cache])
        if values:
            print(f"  resume latency, {len(values)} runs {label}: p50 {1000 * values[len(values) // 2]:.0f} ms, "
                  f"p90 {1000 * values[int(len(values) * 0.9)]:.0f} ms")


def announce(worker_pid: int) -> None:
    from django.conf import settings

    print(f"worker pid {worker_pid}: {rss_mb(worker_pid):.0f} MB now "
          f"(max_cached_workflows {settings.DRIFT_WORKER_MAX_CACHED_WORKFLOWS})", flush=True)


async def measure(stack: Stack, runs: int, concurrency: int, minutes: float | None) -> None:
    client = await connect()
    worker_pid = stack.pid_of("worker")
    announce(worker_pid)
    ids = await pile_up(client, worker_pid, runs, concurrency, minutes)
    await resume_all(client, worker_pid, ids, concurrency)


def _worker_environment(pid: int) -> dict[str, str]:
    """The settings the stack's worker runs with (its Temporal address, Redis, database...)."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if entry.startswith(("DRIFT_", "REDIS_", "TEMPORAL_")))


async def resume_attached(var_dir: Path, concurrency: int) -> None:
    """Resume the WAITING bench runs of a stack that is still up."""
    children = json.loads((var_dir / "up.json").read_text())["children"]
    os.environ.update(_worker_environment(children["worker"]), DJANGO_SETTINGS_MODULE="drift.settings")
    os.environ.pop("DJANGO_SECRET_KEY", None)
    import django

    django.setup()
    from asgiref.sync import sync_to_async

    from apps.runs.models import Run

    def waiting() -> list[str]:
        rows = Run.objects.filter(workflow_id__startswith=PREFIX, status="WAITING").order_by("created_at")
        return list(rows.values_list("workflow_id", flat=True))

    ids = await sync_to_async(waiting)()
    announce(children["worker"])
    print(f"  {len(ids):6d} WAITING", flush=True)
    await resume_all(await connect(), children["worker"], ids, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads (the API is idle here)")
    parser.add_argument("--start-minutes", type=float, help="stop starting runs after this long")
    parser.add_argument("--attach", type=Path, help="resume the WAITING runs of this stack's var dir")
    args = parser.parse_args()
    if args.attach:
        asyncio.run(resume_attached(args.attach, args.concurrency))
        return
    stack = Stack(args.threads)
    try:
        stack.setup_django_here()
        asyncio.run(measure(stack, args.runs, args.concurrency, args.start_minutes))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
