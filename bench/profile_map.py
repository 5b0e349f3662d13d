"""Where a MAP item's child run spends its time: a MAP over N items (the bench/map.py iterator, SCRIPT then
SUCCESS) on a fresh Temporal dev server, with the worker in this process.

    .venv/bin/python bench/profile_map.py [--items 300] [--concurrency 20]

Prints, per item run: the activities (count, mean wall time including the wait for an executor thread),
the SQL statements by kind and table (count, mean time, which includes SQLite's wait for the write lock),
and the history events of one item run and of one batch; --cprofile adds the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import io
import pstats
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import publish, with_temporal  # noqa: E402
from bench.map import ITERATOR_NODES, _workflows  # noqa: E402

ACTIVITY_TIME: dict[str, list[float]] = collections.defaultdict(list)
STATEMENTS: collections.Counter = collections.Counter()
LOCK = threading.Lock()
ACTIVITY_PROFILE = pstats.Stats()
STATEMENT_TIME: collections.Counter = collections.Counter()
PROFILE = "--cprofile" in sys.argv


def _count_sql() -> None:
    """Count every SQL statement by verb and first table (a profiling hook, this script only)."""
    from django.db.backends import utils

    original = utils.CursorWrapper._execute

    def execute(self, sql, params, *ignored):
        match = re.match(r"\s*(\w+)\s.*?(?:FROM|INTO|UPDATE)?\s*\"(\w+)\"", sql, re.S | re.I)
        kind = f"{match[1].upper()} {match[2]}" if match else sql.split()[0].upper()
        started = time.perf_counter()
        try:
            return original(self, sql, params, *ignored)
        finally:
            with LOCK:
                STATEMENTS[kind] += 1
                STATEMENT_TIME[kind] += time.perf_counter() - started

    utils.CursorWrapper._execute = execute


class ProfiledExecutor(ThreadPoolExecutor):
    """Each activity call under its own cProfile; the stats add up in ACTIVITY_PROFILE."""

    def submit(self, fn, /, *args, **kwargs):
        def profiled():
            profiler = cProfile.Profile()
            try:
                return profiler.runcall(fn, *args, **kwargs)
            finally:
                with LOCK:
                    ACTIVITY_PROFILE.add(profiler)

        return super().submit(profiled)


def _interceptor():
    from temporalio import client
    from temporalio.worker import ActivityInboundInterceptor, Interceptor

    class Timed(ActivityInboundInterceptor):
        async def execute_activity(self, input: Any) -> Any:
            from temporalio import activity

            started = time.perf_counter()
            try:
                return await super().execute_activity(input)
            finally:
                ACTIVITY_TIME[activity.info().activity_type].append(time.perf_counter() - started)

    class Timing(client.Interceptor, Interceptor):
        def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
            return Timed(next)

    return Timing()


async def _profile(address: str, items: int, concurrency: int) -> None:
    from temporalio.client import Client

    from apps.runs.contract import WORKFLOW_NAME, RunInput
    from apps.runs.models import Run
    from drift.codec import data_converter
    from worker.main import build_worker

    await publish(ITERATOR_NODES, _workflows(concurrency))
    _count_sql()
    # A client interceptor that is also a worker interceptor applies to the workers built on the client.
    client = await Client.connect(address, data_converter=data_converter(), interceptors=[_interceptor()])
    executor = ProfiledExecutor(max_workers=20) if PROFILE else None
    async with build_worker(client, task_queue="profile-map", executor=executor):
        start = RunInput(tenant="bench", workflow_key="bench_map", start={"params": {"items": [1] * 10}})
        await client.execute_workflow(WORKFLOW_NAME, start, id=f"warm-{uuid.uuid4().hex}", task_queue="profile-map")
        ACTIVITY_TIME.clear()
        STATEMENTS.clear()
        STATEMENT_TIME.clear()
        ACTIVITY_PROFILE.stats.clear()
        loop_profile = cProfile.Profile()
        if PROFILE:  # slows the event loop a lot: workflow tasks then run late
            loop_profile.enable()
        workflow_id = f"profile-{uuid.uuid4().hex}"
        start = RunInput(tenant="bench", workflow_key="bench_map", start={"params": {"items": list(range(items))}})
        started = time.perf_counter()
        result = await client.execute_workflow(WORKFLOW_NAME, start, id=workflow_id, task_queue="profile-map")
        elapsed = time.perf_counter() - started
        loop_profile.disable()
        assert result["workflowStatus"] == "COMPLETED", result
        child = await asyncio.to_thread(lambda: Run.objects.filter(parent_workflow_id=workflow_id).first())
        item = await _history(client, child.workflow_id)
        batch = await _history(client, f"{child.workflow_id.rsplit('.', 1)[0]}.batch0")
    print(f"MAP over {items} items, maxConcurrency {concurrency}: {elapsed:.1f} s, {items / elapsed:.1f} items/s")
    print("activities per item run (count, mean ms incl. the wait for a thread):")
    for name, times in sorted(ACTIVITY_TIME.items()):
        print(f"    {name:16} {len(times) / items:5.2f} x {1000 * sum(times) / len(times):7.1f} ms")
    print(f"SQL statements per item run: {sum(STATEMENTS.values()) / items:.1f}")
    for statement, count in STATEMENTS.most_common(25):
        print(f"    {count / items:6.2f} x {1000 * STATEMENT_TIME[statement] / count:6.1f} ms  {statement}")
    print(f"history of one item run: {len(item)} events: {collections.Counter(item).most_common()}")
    print(f"history of batch0: {len(batch)} events, {len(batch) / min(items, 500):.1f} per item")
    if not PROFILE:
        return
    loop_stats = pstats.Stats(loop_profile)
    for title, stats in (("activity threads", ACTIVITY_PROFILE), ("event loop (workflows, SDK)", loop_stats)):
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats("tottime").print_stats(30)
        print(f"--- {title}: top functions by own time")
        print(out.getvalue())


async def _history(client, workflow_id: str) -> list[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [event.WhichOneof("attributes").removesuffix("_event_attributes") for event in history.events]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--cprofile", action="store_true", help="profile activities and the event loop (slow)")
    args = parser.parse_args()
    with_temporal(lambda address: _profile(address, args.items, args.concurrency))
