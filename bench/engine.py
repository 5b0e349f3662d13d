"""Engine benchmark: Drift's interpreter versus a hand-written Temporal workflow doing the same steps.

    .venv/bin/python bench/engine.py [--runs 30] [--concurrent 200] [--converter drift|sdk] [--codec] [--tracing]

Both run against the same Temporal dev server, in the same process, in the same run:
(a) per-run latency of a chain of 10 SCRIPT nodes ending in SUCCESS, versus a workflow of 10 local
activities computing the same values, one run of each side in turn ((a'): each side's runs back to back);
(b) throughput of N concurrent runs of each. Prints the figures and the ratios Drift/baseline (latency: lower is
better; throughput: higher is better).
Drift's runs start as the API starts them (definition resolved and pinned, Run row written, in the timed path).
By default Drift runs as deployed (its converter and payload encryption) against the baseline on the SDK's
converter; --codec puts the same payload codec (encryption) on the baseline too, so both sides pay it. Both
workers' clients share one Temporal runtime whose Core log is counted: the SDK's "Workflow task duration
exceeded" warnings (a workflow task that blocked its worker too long) are printed with the figures.
With --tracing, Drift runs again with OpenTelemetry on (drift/tracing.py, sampling 100 %) exporting to a local
OTLP/HTTP receiver (devtools/otlp_receiver.py), and both Drift figures are printed with the cost per run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import temporalio.converter  # noqa: E402

from bench.baseline import STEPS, BaselineChain, bench_step  # noqa: E402


def _drift_definitions() -> tuple[list[dict], dict]:
    nodes, states = [], {}
    for step in range(STEPS):
        source = f"return (_global.s{step - 1} if {step} else _global.params.start) * 2 + {step}"
        nodes.append({"id": f"step{step}", "name": f"step {step}", "type": "SCRIPT",
                      "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": source}}})
        states[f"s{step}"] = {"instanceName": f"s{step}", "resourceId": f"step{step}", "resourceVersion": "LATEST",
                              "type": "NODE", "nextNode": f"s{step + 1}" if step < STEPS - 1 else "done"}
    nodes.append({"id": "done", "name": "done", "type": "SUCCESS", "comment": "ok"})
    states["done"] = {"instanceName": "done", "resourceId": "done", "resourceVersion": "LATEST", "type": "NODE"}
    return nodes, {"id": "bench_chain", "startNode": "s0", "states": states}


def _setup_django(var_dir: Path) -> None:
    os.environ["DRIFT_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drift.settings")
    os.environ.setdefault("DRIFT_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


async def _timed(coro_factory, runs: int) -> list[float]:
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        await coro_factory()
        latencies.append(time.perf_counter() - started)
    return latencies


async def _throughput(coro_factory, count: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(coro_factory() for _ in range(count)))
    return count / (time.perf_counter() - started)


def with_temporal(bench: Callable[[str], Coroutine[Any, Any, None]]) -> None:
    """Run `bench(address)` against a fresh Temporal dev server, with Django set up on a fresh SQLite."""
    from devtools import services

    var_dir = Path(tempfile.mkdtemp(prefix="drift-bench-"))
    temporal = services.start_temporal(var_dir, persistent=False)
    os.environ["TEMPORAL_ADDRESS"] = temporal.url
    try:
        _setup_django(var_dir)
        asyncio.run(bench(temporal.url))
    finally:
        temporal.stop()


async def publish(nodes: list[dict], workflows: list[dict]) -> None:
    """Save, publish and activate the definitions for the tenant `bench`."""
    from apps.definitions.models import DefinitionKind
    from apps.definitions.services import definition_activate, definition_publish, definition_save_snapshot

    for kind, bodies in ((DefinitionKind.NODE, nodes), (DefinitionKind.WORKFLOW, workflows)):
        for body in bodies:
            await asyncio.to_thread(definition_save_snapshot, tenant="bench", kind=kind, body=body, actor="bench",
                                    create=True)
            published = await asyncio.to_thread(definition_publish, tenant="bench", kind=kind, key=body["id"],
                                                actor="bench")
            await asyncio.to_thread(definition_activate, tenant="bench", kind=kind, key=body["id"],
                                    version=published.version, actor="bench")


def main(runs: int, concurrent: int, converter: str, tracing: bool = False, codec: bool = False,
         rounds: int = 3) -> None:
    with_temporal(lambda address: _bench(address, runs, concurrent, converter, tracing, codec, rounds))


class SlowTaskWarnings(logging.Handler):
    """Counts Core's "Workflow task duration exceeded" warnings (forwarded to Python by `counting_runtime`)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "Workflow task duration exceeded" in record.getMessage():
            self.count += 1


def counting_runtime() -> tuple[Any, SlowTaskWarnings]:
    """A Temporal runtime whose Core warnings go to a Python logger, with a handler counting the slow-task ones."""
    from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    counter = SlowTaskWarnings()
    core_logger = logging.getLogger("bench.temporal_core")
    core_logger.addHandler(counter)
    core_logger.setLevel(logging.WARNING)
    logging_config = LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                                   forwarding=LogForwardingConfig(logger=core_logger))
    return Runtime(telemetry=TelemetryConfig(logging=logging_config)), counter


def _pinned_start(workflow_id: str) -> Any:
    """What the API does before it starts a run (apps/runs/runtime.py): resolve and pin the definition, write the
    Run row; the run then needs no start_run. Timed with the run, as it is part of a start through the API."""
    from apps.definitions.selectors import workflow_resolve_for_run
    from apps.runs.contract import RunInput
    from apps.runs.services import run_pinned, run_register_pinned
    from drift.db import sqlite_writer

    resolved = workflow_resolve_for_run(tenant="bench", workflow_key="bench_chain", version=None, issue_id=None,
                                        bucket_key=workflow_id)
    inp = RunInput(tenant="bench", workflow_key=resolved["id"], version=str(resolved["version"]),
                   start={"params": {"start": 1}}, pinned=run_pinned(resolved))
    with sqlite_writer():  # as the API's start: behind the worker's persists (drift/db.py)
        run_register_pinned(workflow_id=workflow_id, inp=inp)
    return inp


def _drift_run(client: Any, queue: str) -> Callable[[], Coroutine[Any, Any, None]]:
    from apps.runs.contract import WORKFLOW_NAME

    async def run() -> None:
        workflow_id = f"bench-drift-{uuid.uuid4().hex}"
        inp = await asyncio.to_thread(_pinned_start, workflow_id)
        handle = await client.start_workflow(WORKFLOW_NAME, inp, id=workflow_id, task_queue=queue)
        result = await handle.result()
        assert result["workflowStatus"] == "COMPLETED", result

    return run


async def _traced(address: str, converter: Any, executor: ThreadPoolExecutor, runs: int,
                  concurrent: int) -> tuple[list[float], float, float]:
    """Drift with tracing on, every trace sampled, exported to a local receiver: latencies, throughput and spans
    per run. Tracing is configured as in production, by the SDK's environment variables."""
    from temporalio.client import Client

    from devtools.otlp_receiver import OtlpReceiver
    from drift.tracing import temporal_interceptors, tracing_flush, tracing_init
    from worker.main import build_worker

    receiver = OtlpReceiver(keep=False)
    os.environ.update(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_TRACES_SAMPLER="always_on")
    assert tracing_init("drift-bench")
    client = await Client.connect(address, interceptors=temporal_interceptors(),
                                  **({"data_converter": converter} if converter else {}))
    run = _drift_run(client, "bench-drift-traced")
    async with build_worker(client, task_queue="bench-drift-traced", executor=executor):
        await _timed(run, 3)
        tracing_flush()
        warm = receiver.count
        latencies = await _timed(run, runs)
        throughput = await _throughput(run, concurrent)
    tracing_flush()
    receiver.close()
    return latencies, throughput, (receiver.count - warm) / (runs + concurrent)


async def _bench(address: str, runs: int, concurrent: int, converter: str, tracing: bool = False,
                 codec: bool = False, rounds: int = 3) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from worker.main import build_worker, workflow_runner

    nodes, chain = _drift_definitions()
    await publish(nodes, [chain])

    from drift.codec import data_converter, payload_codec

    # Drift as deployed (its converter and payload encryption) unless --converter sdk; the baseline on the SDK's
    # converter, with Drift's payload codec when --codec.
    drift_converter = data_converter() if converter == "drift" else None
    base_converter = dataclasses.replace(temporalio.converter.default(), payload_codec=payload_codec()) if codec \
        else None
    runtime, slow_tasks = counting_runtime()
    client = await Client.connect(address, runtime=runtime,
                                  **({"data_converter": base_converter} if base_converter else {}))
    drift_client = await Client.connect(address, runtime=runtime,
                                        **({"data_converter": drift_converter} if drift_converter else {}))
    drift_queue, base_queue = "bench-drift", "bench-baseline"
    executor = ThreadPoolExecutor(max_workers=64)
    drift_worker = build_worker(drift_client, task_queue=drift_queue, executor=executor)
    base_worker = Worker(client, task_queue=base_queue, workflows=[BaselineChain], activities=[bench_step],
                         activity_executor=executor, max_concurrent_local_activities=64, max_concurrent_activities=64,
                         max_concurrent_workflow_tasks=64, workflow_runner=workflow_runner())  # as Drift's: fair

    drift_run = _drift_run(drift_client, drift_queue)

    async def baseline_run() -> None:
        result = await client.execute_workflow(
            BaselineChain.run, 1, id=f"bench-base-{uuid.uuid4().hex}", task_queue=base_queue
        )
        assert result["status"] == "COMPLETED"

    async with drift_worker, base_worker:
        for factory in (drift_run, baseline_run):  # warm up caches, sandbox processes, connections
            await _timed(factory, 3)
        # Interleaved, one run of each side in turn, so both meet the same server state: the dev server's dispatch
        # delay (docs/engine.md, "the ~37 ms dispatch delay") sets in after ~10 runs back to back, and in blocks it
        # fell mostly on whichever side ran second. Then the same in blocks, each side back to back, for comparison.
        drift_lat, base_lat = [], []
        for _ in range(runs):
            drift_lat += await _timed(drift_run, 1)
            base_lat += await _timed(baseline_run, 1)
        drift_block = await _timed(drift_run, runs)
        base_block = await _timed(baseline_run, runs)
        # Alternating rounds: this VM's speed drifts by tens of percent within a minute (the host's other guests).
        drift_tps, base_tps = [], []
        for _ in range(rounds):
            drift_tps.append(await _throughput(drift_run, concurrent))
            base_tps.append(await _throughput(baseline_run, concurrent))
        ratios = [drift / base for drift, base in zip(drift_tps, base_tps, strict=True)]
        drift_tp = statistics.median(drift_tps)
    traced = await _traced(address, drift_converter, executor, runs, concurrent) if tracing else None

    def p50(values: list[float]) -> float:
        return statistics.median(values) * 1000

    from django.conf import settings

    sandbox = "sandboxed" if settings.DRIFT_WORKFLOW_SANDBOX else "unsandboxed (DRIFT_WORKFLOW_SANDBOX=0, the default)"
    latency = p50(drift_lat) / p50(base_lat)
    print(f"engine benchmark: chain of {STEPS} SCRIPT nodes + SUCCESS vs {STEPS} local activities")
    print(f"both workers {sandbox} (the same workflow runner); SQLite; one worker process each")
    drift_side = "its own data converter and payload encryption" if converter == "drift" else "the SDK converter"
    base_side = "the SDK converter with Drift's payload codec (--codec)" if codec else "the SDK's default converter"
    print(f"drift with {drift_side}, the baseline with {base_side}")
    print(f"(a) per-run latency p50 over {runs} sequential runs of each side, interleaved")
    print(f"    drift     {p50(drift_lat):8.1f} ms   (mean {statistics.mean(drift_lat) * 1000:.1f} ms)")
    print(f"    baseline  {p50(base_lat):8.1f} ms   (mean {statistics.mean(base_lat) * 1000:.1f} ms)")
    print(f"    ratio drift/baseline = {latency:.2f}  (target <= 0.8)")
    print(f"(a') the same, {runs} runs of each side back to back")
    print(f"    drift     {p50(drift_block):8.1f} ms   baseline  {p50(base_block):8.1f} ms   "
          f"ratio {p50(drift_block) / p50(base_block):.2f}")
    print(f"(b) throughput, {concurrent} concurrent runs to completion, {rounds} rounds alternating")
    print(f"    drift     {' '.join(f'{rate:5.1f}' for rate in drift_tps)} runs/s")
    print(f"    baseline  {' '.join(f'{rate:5.1f}' for rate in base_tps)} runs/s")
    print(f"    ratio drift/baseline per round {' '.join(f'{ratio:.2f}' for ratio in ratios)}; median "
          f"{statistics.median(ratios):.2f}  (target >= 1.25)")
    print(f"SDK warnings 'Workflow task duration exceeded' (both workers): {slow_tasks.count}  (target 0)")
    print(f"load average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    if traced is not None:
        _print_traced(traced, p50(drift_lat), drift_tp, p50)


def _print_traced(traced: tuple[list[float], float, float], off_p50: float, off_tp: float,
                  p50: Callable[[list[float]], float]) -> None:
    latencies, throughput, spans = traced
    print(f"(c) drift with tracing on (OTLP/HTTP to a local receiver, sampling 100 %, {spans:.1f} spans per run)")
    print(f"    latency p50  off {off_p50:8.1f} ms   on {p50(latencies):8.1f} ms   "
          f"cost per run {p50(latencies) - off_p50:+.1f} ms ({p50(latencies) / off_p50:.2f}x)")
    print(f"    throughput   off {off_tp:8.1f} runs/s   on {throughput:8.1f} runs/s   ({throughput / off_tp:.2f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--converter", choices=("drift", "sdk"), default="drift",
                        help="Drift's converter as deployed (default: drift/payloads.py and payload encryption), "
                             "or the SDK's")
    parser.add_argument("--codec", action="store_true",
                        help="the baseline with Drift's payload codec (encryption) too: both sides pay it")
    parser.add_argument("--tracing", action="store_true",
                        help="also run Drift with OpenTelemetry on, to a local OTLP receiver, and print both")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the concurrent load (b), alternating")
    args = parser.parse_args()
    main(args.runs, args.concurrent, args.converter, args.tracing, args.codec, args.rounds)
