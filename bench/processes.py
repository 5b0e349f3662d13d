"""Worker throughput with 1 and with 2 worker processes, in the same run (`run_worker --processes N`).

    .venv/bin/python bench/processes.py [--concurrent 200] [--processes 1 2]

Against one Temporal dev server and one SQLite database: for each N, a real `manage.py run_worker --processes N`
(as deployed: Drift's converter and payload encryption) serves bench/engine.py's chain of 10 SCRIPT nodes +
SUCCESS; `--concurrent` runs are started at once and awaited, then the worker is stopped. Prints runs/s per N,
the ratio to one process, and the load average (the figures are only as quiet as the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import _drift_definitions, publish, with_temporal  # noqa: E402


async def _throughput(client, queue: str, concurrent: int) -> float:  # noqa: ANN001 - a temporalio Client
    from apps.runs.contract import WORKFLOW_NAME, RunInput

    async def run() -> None:
        handle = await client.start_workflow(
            WORKFLOW_NAME, RunInput(tenant="bench", workflow_key="bench_chain", start={"params": {"start": 1}}),
            id=f"bench-procs-{uuid.uuid4().hex}", task_queue=queue)
        result = await handle.result()
        assert result["workflowStatus"] == "COMPLETED", result

    for _ in range(3):  # warm up: the processes' sandboxes, connections, caches
        await run()
    started = time.perf_counter()
    await asyncio.gather(*(run() for _ in range(concurrent)))
    return concurrent / (time.perf_counter() - started)


def _worker(processes: int, queue: str, log: Path) -> subprocess.Popen:
    """The worker, its output (the SDK's Core log included) to `log`."""
    from django.conf import settings

    env = {**os.environ, "TEMPORAL_TASK_QUEUE": queue, "DRIFT_LOG_LEVEL": "WARNING",
           "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}"}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "manage.py", "run_worker", "--processes", str(processes),
                                 "--health-port", "0", "--metrics-port", "0"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


async def _bench(address: str, concurrent: int, counts: list[int]) -> None:
    from temporalio.client import Client

    from drift.codec import data_converter

    nodes, chain = _drift_definitions()
    await publish(nodes, [chain])
    client = await Client.connect(address, data_converter=data_converter())
    figures: dict[int, float] = {}
    slow: dict[int, int] = {}
    for processes in counts:
        queue, log = f"bench-procs-{processes}", Path(os.environ["DRIFT_VAR_DIR"]) / f"worker-{processes}.log"
        worker = _worker(processes, queue, log)
        try:
            figures[processes] = await _throughput(client, queue, concurrent)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        slow[processes] = log.read_text(errors="replace").count("Workflow task duration exceeded")
    print(f"worker throughput, {concurrent} concurrent runs of a chain of 10 SCRIPT nodes + SUCCESS (SQLite, "
          f"Drift as deployed), one `run_worker --processes N` each")
    for processes, rate in figures.items():
        print(f"    {processes} process(es)  {rate:8.1f} runs/s   ({rate / figures[counts[0]]:.2f}x)   "
              f"SDK 'Workflow task duration exceeded' warnings: {slow[processes]}")
    print(f"cores: {len(os.sched_getaffinity(0))}; load average at the end: "
          f"{' '.join(f'{load:.2f}' for load in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with_temporal(lambda address: _bench(address, args.concurrent, args.processes))


if __name__ == "__main__":
    main()
