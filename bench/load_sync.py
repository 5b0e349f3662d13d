"""Load check (issue 8): N concurrent sync starts of the sample in the shipped dev configuration.

    .venv/bin/python bench/load_sync.py [--starts 400] [--threads <gunicorn threads, default: devtools.up's>]

Brings up the stack exactly as `scripts/run` does (`python -m devtools.up`: gunicorn with drift/gunicorn_conf.py,
the worker, Celery, Redis, Temporal and the demo order service the sample calls), on free ports in a temporary
folder. Then fires every start at once (`POST /v3/workflow/start`, SYNC, the sample `order_status`) while a
monitor polls `/healthz` on the probe port (what Kubernetes probes) and, for comparison, on the API port, every
200 ms. When the starts are answered, each run is read back until it is stable. Prints: non-2xx answers, runs
accounted for (every start answered with a run id, read back stable and not FAILED), p50/p99 start latency,
and the worst `/healthz` latency seen on each port. A benchmark, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.services import free_port, wait_for_port  # noqa: E402

STABLE = {"WAITING", "COMPLETED", "FAILED", "TERMINATED"}


class Stack:
    """`python -m devtools.up` with its defaults, on free ports in a temporary folder."""

    def __init__(self, threads: int | None) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="drift-bench-load-"))
        self.port, self.health_port = free_port(), free_port()
        args = [
            sys.executable, "-m", "devtools.up", "--var-dir", str(self.var), "--host", "127.0.0.1",
            "--port", str(self.port), "--health-port", str(self.health_port), "--demo-port", str(free_port()),
            "--temporal-port", str(free_port()), "--temporal-ui-port", "0", "--redis-port", str(free_port()),
            "--worker-health-port", str(free_port()), "--metrics-port", "0",
        ] + (["--threads", str(threads)] if threads else [])
        env = {**os.environ, "DRIFT_LOG_LEVEL": "WARNING", "DRIFT_ADMIN_PASSWORD": "bench"}
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 240
        while not (self.var / "up.json").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"devtools.up did not come up; see {self.var / 'logs'}")
            time.sleep(0.2)
        wait_for_port(self.port, 60, self.process, "api")
        self.key = (self.var / "demo-api-key.txt").read_text().strip()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Api-Key {self.key}", "X-Tenant-Id": "demo", "X-Client-Id": "demo"}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(90)


class HealthMonitor(threading.Thread):
    """Polls a /healthz every 200 ms; records each answer's latency (a failure counts as its time-out)."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        super().__init__(daemon=True)
        self.url, self.timeout = url, timeout
        self.latencies: list[float] = []
        self.failures = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            started = time.perf_counter()
            try:
                ok = requests.get(self.url, timeout=self.timeout).status_code == 200
            except requests.RequestException:
                ok = False
            self.latencies.append(time.perf_counter() - started)
            self.failures += not ok
            self.done.wait(0.2)


def start_one(stack: Stack, number: int) -> tuple[int, float, str]:
    body = {"issueDetail": {"issueId": "order_status"}, "params": {"orderId": str(number)},
            "customer": {"id": f"c-{number}"}}
    started = time.perf_counter()
    try:
        response = requests.post(f"{stack.url}/v3/workflow/start", json=body, headers=stack.headers, timeout=300)
    except requests.RequestException:
        return 0, time.perf_counter() - started, ""
    elapsed = time.perf_counter() - started
    workflow_id = response.json().get("workflowId", "") if response.headers.get("Content-Type", "").startswith(
        "application/json") else ""
    return response.status_code, elapsed, workflow_id


def settle(stack: Stack, workflow_id: str, timeout: float = 300) -> str:
    """The run's status once stable (WAITING/COMPLETED/FAILED/TERMINATED), or the last seen after `timeout`."""
    deadline, status = time.monotonic() + timeout, "UNKNOWN"
    while time.monotonic() < deadline:
        response = requests.get(f"{stack.url}/v3/workflow/{workflow_id}", headers=stack.headers, timeout=30)
        status = response.json().get("workflowStatus", "UNKNOWN") if response.status_code == 200 else "MISSING"
        if status in STABLE:
            return status
        time.sleep(0.5)
    return status


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=400)
    parser.add_argument("--threads", type=int, default=None, help="gunicorn threads (default: devtools.up's)")
    opts = parser.parse_args(argv)
    print(f"bringing the dev stack up (devtools.up defaults); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    stack = Stack(opts.threads)
    monitors = [HealthMonitor(f"http://127.0.0.1:{stack.health_port}/healthz"),
                HealthMonitor(f"{stack.url}/healthz")]
    try:
        for monitor in monitors:
            monitor.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(opts.starts) as executor:
            answers = list(executor.map(lambda n: start_one(stack, n), range(opts.starts)))
        wall = time.perf_counter() - started
        ids = [workflow_id for _, _, workflow_id in answers if workflow_id]
        with ThreadPoolExecutor(32) as executor:
            finals = Counter(executor.map(lambda workflow_id: settle(stack, workflow_id), ids))
        for monitor in monitors:
            monitor.done.set()
            monitor.join(15)
    finally:
        stack.stop()

    codes = Counter(code for code, _, _ in answers)
    latencies = [elapsed for code, elapsed, _ in answers if 200 <= code < 300]
    accounted = sum(count for status, count in finals.items() if status in STABLE - {"FAILED", "TERMINATED"})
    non_2xx = sum(count for code, count in codes.items() if not 200 <= code < 300)
    print(f"starts:               {opts.starts} concurrent, answered in {wall:.1f} s; status codes {dict(codes)}")
    print(f"non-2xx:              {non_2xx}")
    print(f"runs accounted for:   {accounted}/{opts.starts} stable and not failed; final states {dict(finals)}")
    if latencies:
        p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
        print(f"start latency:        p50 {p50:.2f} s   p99 {p99:.2f} s   max {max(latencies):.2f} s")
    for name, monitor in zip(("probe port", "API port"), monitors, strict=True):
        worst = max(monitor.latencies, default=float("nan"))
        print(f"/healthz ({name}):  {len(monitor.latencies)} polls, {monitor.failures} failed, worst {worst:.3f} s")
    return 0 if non_2xx == 0 and accounted == opts.starts and monitors[0].failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
