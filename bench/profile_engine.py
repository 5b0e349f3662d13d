"""Where the worker spends a Drift run's time: bench/engine.py's chain, Drift only, with SQL counted.

    .venv/bin/python bench/profile_engine.py [--runs 60] [--concurrent 0]
    .venv/bin/py-spy record --subprocesses -f raw -o /tmp/engine.txt -- .venv/bin/python bench/profile_engine.py

Runs the 10-SCRIPT chain of bench/engine.py `--runs` times one after the other (then `--concurrent` at once),
counting every SQL statement the worker's activity threads send and the sandbox requests, per run. Under
py-spy (pinned in requirements-dev.txt) the sampled stacks of the worker's threads and the sandbox children
say where the milliseconds go; `--cprofile loop` profiles the event loop thread (workflow code, payload
conversion) with cProfile (PROFILE_STATS_FILE=path also dumps the stats for pstats).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import io
import os
import pstats
import re
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import _drift_definitions, _pinned_start, publish, with_temporal  # noqa: E402

_statements: Counter[str] = Counter()
_sql_seconds: Counter[str] = Counter()
_lock = threading.Lock()


def _count_sql(execute, sql, params, many, context):  # noqa: ANN001 - Django's execute_wrapper signature
    statement = re.sub(r'"s\d+_x\d+"', '"s…"', " ".join(sql.split()[:4]))[:80]
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        with _lock:
            _statements[statement] += 1
            _sql_seconds[statement] += time.perf_counter() - started


_spent: Counter[str] = Counter()
_spent_cpu: Counter[str] = Counter()
_activity_profiler = cProfile.Profile()
_profiling = threading.Event()


def _timed(owner: object, name: str, label: str) -> None:
    """Accumulate the wall time of `owner.name` under `label`."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started, cpu_started = time.perf_counter(), time.thread_time()
        profile = _profiling.is_set() and label.startswith("activities.run_")  # the outermost calls only
        if profile:
            _activity_profiler.enable()
        try:
            return original(*args, **kwargs)
        finally:
            if profile:
                _activity_profiler.disable()
            with _lock:
                _spent[label] += time.perf_counter() - started
                _spent_cpu[label] += time.thread_time() - cpu_started

    setattr(owner, name, timed)


def _cpu_seconds() -> dict[str, float]:
    """CPU time so far of this process and of the sandbox children (from /proc: they never exit here)."""
    from apps.nodes.sandbox import get_pool

    ticks = os.sysconf("SC_CLK_TCK")

    def of(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return {"worker process": of(os.getpid()), "sandbox children": sum(of(pid) for pid in get_pool().pids())}


def _instrument() -> None:
    from django.db.backends.signals import connection_created

    from apps.nodes import sandbox
    from apps.runs import services
    from worker import activities

    connection_created.connect(lambda connection, **_: connection.execute_wrappers.append(_count_sql), weak=False)
    for name in ("run_begin", "run_record_state", "run_node", "_check_result", "enum_store_for",
                 "sensitive_values", "close_old_connections"):
        _timed(activities, name, f"activities.{name}")
    for name in ("workflow_resolve_for_run", "_pin_existing_or_new", "_timeline_append", "json_problem", "seal",
                 "redact", "webhook_notify"):
        _timed(services, name, f"  services.{name}")
    _timed(services.get_context_store().__class__, "save", "  context store save")
    _timed(sandbox.SandboxPool, "_evaluate", "sandbox round trip")
    _timed(sandbox, "compile_problems", "sandbox.compile_problems")


async def _bench(address: str, runs: int, concurrent: int, profile: str, baseline: bool, no_lock: bool,
                 unpinned: bool = False) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from apps.runs.contract import WORKFLOW_NAME, RunInput
    from bench.baseline import BaselineChain, bench_step
    from worker.main import build_worker, workflow_runner

    _instrument()
    if no_lock:
        from drift import db

        db._sqlite_lock = contextlib.nullcontext
    nodes, chain = _drift_definitions()
    await publish(nodes, [chain])
    from drift.codec import data_converter

    client = await Client.connect(address, **({} if baseline else {"data_converter": data_converter()}))
    queue = "profile-drift"
    executor = ThreadPoolExecutor(max_workers=64)
    if not baseline:
        worker = build_worker(client, task_queue=queue, executor=executor)
    else:  # the hand-written chain instead, configured as in bench/engine.py
        worker = Worker(client, task_queue=queue, workflows=[BaselineChain], activities=[bench_step],
                        activity_executor=executor, max_concurrent_local_activities=64, max_concurrent_activities=64,
                        max_concurrent_workflow_tasks=64, workflow_runner=workflow_runner())

    handles, failures = [], []

    async def drift_run() -> None:
        if baseline:
            handles.append(await client.start_workflow(BaselineChain.run, 1, id=f"profile-base-{uuid.uuid4().hex}",
                                                       task_queue=queue))
            await handles[-1].result()
            return
        workflow_id = f"profile-drift-{uuid.uuid4().hex}"
        if unpinned:  # straight through Temporal: start_run resolves, pins and inserts the Run row
            inp = RunInput(tenant="bench", workflow_key="bench_chain", start={"params": {"start": 1}})
        else:  # as the API starts it (bench/engine.py `_pinned_start`)
            inp = await asyncio.to_thread(_pinned_start, workflow_id)
        handle = await client.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=queue)
        result = await handle.result()
        if result["workflowStatus"] != "COMPLETED":  # counted (an overloaded machine): the figures say so
            failures.append(result.get("errorMessage"))
        handles.append(handle)

    async with worker:
        for _ in range(3):
            await drift_run()
        _reset()
        profiler = cProfile.Profile() if profile == "loop" else None
        if profiler:
            profiler.enable()
        if profile == "activities":
            _profiling.set()
        latencies = []
        cpu_started = _cpu_seconds()
        for _ in range(runs):
            started = time.perf_counter()
            await drift_run()
            latencies.append(time.perf_counter() - started)
        if profiler:
            profiler.disable()
        _profiling.clear()
        if profile == "activities":
            profiler = _activity_profiler
        history = await handles[-1].fetch_history()
        print(f"{runs} sequential runs: p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"mean {statistics.mean(latencies) * 1000:.1f} ms")
        print(f"history of one run: {len(history.events)} events, "
              f"{sum(event.ByteSize() for event in history.events)} bytes")
        _report(runs, cpu_started)
        if concurrent:
            _reset()
            cpu_started = _cpu_seconds()
            started = time.perf_counter()
            await asyncio.gather(*(drift_run() for _ in range(concurrent)))
            print(f"\n{concurrent} concurrent runs: {concurrent / (time.perf_counter() - started):.1f} runs/s")
            _report(concurrent, cpu_started)
    if failures:
        print(f"{len(failures)} runs did not complete: {sorted(set(failures))}")
    if profiler:
        if os.environ.get("PROFILE_STATS_FILE"):  # for pstats afterwards (e.g. the callers of one function)
            profiler.dump_stats(os.environ["PROFILE_STATS_FILE"])
        out = io.StringIO()
        order = "cumulative" if profile == "activities" else "tottime"
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(45)
        print(out.getvalue())


def _reset() -> None:
    for counter in (_statements, _sql_seconds, _spent, _spent_cpu):
        counter.clear()


def _report(runs: int, cpu_started: dict[str, float]) -> None:
    cpu = {name: (seconds - cpu_started.get(name, 0.0)) / runs for name, seconds in _cpu_seconds().items()}
    print("CPU per run: " + ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in cpu.items()))
    print(f"SQL statements per run: {sum(_statements.values()) / runs:.1f}  (count, wall time per run)")
    for statement, count in _statements.most_common():
        print(f"  {count / runs:5.1f}  {_sql_seconds[statement] / runs * 1000:6.2f} ms  {statement}")
    print("activity threads, per run:     wall   thread CPU")
    for label, seconds in _spent.most_common():
        print(f"  {seconds / runs * 1000:7.2f} ms  {_spent_cpu[label] / runs * 1000:7.2f} ms  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--concurrent", type=int, default=0)
    parser.add_argument("--baseline", action="store_true", help="the hand-written baseline chain instead")
    parser.add_argument("--without-writer-lock", action="store_true",
                        help="let the writing activities meet in SQLite's busy handler (as before issue 11)")
    parser.add_argument("--cprofile", choices=("loop", "activities"),
                        help="cProfile the event loop thread, or the activities' service calls (run_*)")
    parser.add_argument("--unpinned", action="store_true",
                        help="start straight through Temporal (start_run pins), not as the API does (pinned)")
    args = parser.parse_args()
    with_temporal(lambda address: _bench(address, args.runs, args.concurrent, args.cprofile, args.baseline,
                                          args.without_writer_lock, args.unpinned))


if __name__ == "__main__":
    main()
