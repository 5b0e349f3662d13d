"""Runtime API benchmark: Drift's REST API versus a bare update-with-start on a hand-written workflow.

    .venv/bin/python bench/api.py [--starts 50] [--concurrent 200] [--codec]

Brings up the whole stack with `devtools.up` (Temporal dev server, Redis, gunicorn API, worker, Celery, the
sample definitions) on free ports, and an order service in this process that both sides call. The baseline
(`bench/baseline.py`, BaselineOrderStatus: the same steps as the sample `order_status`) runs on a worker in
this process against the same Temporal server, in the same run. Prints:
(a) sync start latency p50/p99: `POST /v3/workflow/start` (SYNC, answered at WAITING) versus
    `execute_update_with_start_workflow` straight to Temporal;
(b) N concurrent start + resume runs to completion: REST versus the bare Temporal calls.
Drift runs as deployed (its converter and payload encryption); the baseline on the SDK's converter, and with
--codec on the SDK's converter with Drift's payload codec (the same keys), so both sides pay the encryption.
The SDK's "Workflow task duration exceeded" warnings during (b) are counted on both sides (Drift's in the
worker's log, the baseline's from this process's Core log) and printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import temporalio.converter  # noqa: E402
from temporalio.client import Client, WithStartWorkflowOperation  # noqa: E402
from temporalio.common import WorkflowIDConflictPolicy  # noqa: E402
from temporalio.worker import UnsandboxedWorkflowRunner, Worker  # noqa: E402

from bench.baseline import BaselineOrderStatus, baseline_get_order  # noqa: E402
from bench.engine import counting_runtime  # noqa: E402
from devtools.services import free_port, wait_for_port  # noqa: E402

REPLY = {"viewResponse": {"selectedOptions": {"reason": "DAMAGED", "submit": "SUBMIT"}}}


class _Orders(BaseHTTPRequestHandler):
    """The order service both sides call: its own server, so sync API calls never wait on their own threads."""

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = json.dumps({"id": self.path.rsplit("/", 1)[-1], "status": "DELIVERED", "returnable": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        return


def start_order_service() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


class Stack:
    """`python -m devtools.up` on free ports in a temporary folder."""

    def __init__(self, threads: int) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="drift-bench-api-"))
        self.port, self.temporal_port, self.redis_port = free_port(), free_port(), free_port()
        args = [
            sys.executable, "-m", "devtools.up", "--var-dir", str(self.var), "--host", "127.0.0.1",
            "--port", str(self.port), "--temporal-port", str(self.temporal_port), "--temporal-ui-port", "0",
            "--redis-port", str(self.redis_port), "--worker-health-port", str(free_port()), "--metrics-port", "0",
            "--health-port", str(free_port()), "--demo-port", str(free_port()), "--threads", str(threads),
        ]
        env = {**os.environ, "DRIFT_LOG_LEVEL": "WARNING", "DRIFT_ADMIN_PASSWORD": "bench"}
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()
        self.key = (self.var / "demo-api-key.txt").read_text().strip()
        self.url = f"http://127.0.0.1:{self.port}"
        self.orders = start_order_service()
        self._point_samples_at(self.orders)

    def _point_samples_at(self, orders: str) -> None:
        headers = {"Authorization": f"Api-Key {self.key}", "X-Tenant-Id": "demo"}
        response = requests.put(f"{self.url}/enumStore/oms", json={"value": {"base_url": orders}}, headers=headers)
        assert response.status_code == 200, response.text

    def _wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not (self.var / "up.json").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"devtools.up did not come up; see {self.var / 'logs'}")
            time.sleep(0.2)
        wait_for_port(self.port, 60, self.process, "api")

    def setup_django_here(self) -> None:
        """Configure this process as one more Drift process of the stack (same database, Redis, Temporal)."""
        os.environ.update(DJANGO_SETTINGS_MODULE="drift.settings", DRIFT_VAR_DIR=str(self.var),
                          REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0", DRIFT_DEV_ALLOW_LOOPBACK="1",
                          TEMPORAL_ADDRESS=f"127.0.0.1:{self.temporal_port}", DRIFT_LOG_LEVEL="WARNING")
        os.environ.pop("DJANGO_SECRET_KEY", None)
        import django

        django.setup()

    def slow_task_warnings(self) -> int:
        """The SDK's slow workflow task warnings the stack's worker has logged so far."""
        log = self.var / "logs" / "worker.log"
        return log.read_text(errors="replace").count("Workflow task duration exceeded") if log.exists() else 0

    def pid_of(self, child: str) -> int:
        return json.loads((self.var / "up.json").read_text())["children"][child]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


class RestClient:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.headers = {"Authorization": f"Api-Key {stack.key}", "X-Tenant-Id": "demo", "X-Client-Id": "demo"}
        self.session = requests.Session()
        self.timeouts = 0

    def start(self, order_id: str) -> dict:
        body = {"issueDetail": {"issueId": "order_status"}, "params": {"orderId": order_id}}
        response = self.session.post(f"{self.stack.url}/v3/workflow/start", json=body, headers=self.headers)
        return self._stable(response)

    def resume(self, workflow_id: str, waiting: dict) -> dict:
        response = self.session.put(f"{self.stack.url}/v3/workflow/resume/{workflow_id}", json=REPLY,
                                    headers=self.headers)
        return self._stable(response, waiting)

    def _stable(self, response: requests.Response, left: dict | None = None) -> dict:
        """The stable state; past the sync timeout (202) a real client polls the run, and so do we (after a
        resume, until the mirror has left the state resumed: it may not have taken the resume in yet)."""
        assert response.status_code in (200, 202), response.text
        state = response.json()
        accepted = response.status_code == 202
        self.timeouts += accepted

        def unmoved() -> bool:
            return accepted and left is not None and (state["workflowStatus"], state["currentNode"]) == (
                left["workflowStatus"], left["currentNode"])

        while response.status_code == 202 or state["workflowStatus"] in ("RUNNING", "CREATED") or unmoved():
            time.sleep(0.2)
            response = self.session.get(f"{self.stack.url}/v3/workflow/{state['workflowId']}", headers=self.headers)
            state = response.json()
        return state


def rest_start_and_resume(stack: Stack) -> int:
    client = RestClient(stack)
    waiting = client.start("42")
    assert waiting["workflowStatus"] == "WAITING", waiting
    assert client.resume(waiting["workflowId"], waiting)["workflowStatus"] == "COMPLETED"
    return client.timeouts


async def baseline_start(client: Client, stack: Stack, queue: str) -> dict:
    operation = WithStartWorkflowOperation(
        BaselineOrderStatus.run, f"{stack.orders}/orders/42", id=f"base-{uuid.uuid4().hex}", task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    state = await client.execute_update_with_start_workflow(
        BaselineOrderStatus.wait_stable, start_workflow_operation=operation
    )
    assert state["workflowStatus"] == "WAITING", state
    return state


async def baseline_start_and_resume(client: Client, stack: Stack, queue: str) -> None:
    state = await baseline_start(client, stack, queue)
    handle = client.get_workflow_handle(state["workflowId"])
    done = await handle.execute_update(BaselineOrderStatus.resume, REPLY)
    assert done["workflowStatus"] == "COMPLETED"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


def baseline_converter(codec: bool) -> temporalio.converter.DataConverter:
    """The SDK's converter; with `codec`, Drift's payload codec on it (this process shares the stack's keys)."""
    if not codec:
        return temporalio.converter.default()
    from drift.codec import payload_codec

    return dataclasses.replace(temporalio.converter.default(), payload_codec=payload_codec())


async def measure(stack: Stack, starts: int, concurrent: int, codec: bool, rounds: int, threads: int) -> None:
    runtime, base_slow = counting_runtime()
    client = await Client.connect(f"127.0.0.1:{stack.temporal_port}", runtime=runtime,
                                  data_converter=baseline_converter(codec))
    queue = "bench-baseline-api"
    executor = ThreadPoolExecutor(max_workers=64)
    worker = Worker(client, task_queue=queue, workflows=[BaselineOrderStatus], activities=[baseline_get_order],
                    activity_executor=executor, max_concurrent_activities=64,
                    # The Drift worker of devtools.up runs unsandboxed (DRIFT_WORKFLOW_SANDBOX=0): so does this one.
                    workflow_runner=UnsandboxedWorkflowRunner())
    rest = RestClient(stack)
    async with worker:
        for _ in range(3):  # warm up connections, caches, sandbox processes
            await asyncio.to_thread(rest.start, "42")
            await baseline_start(client, stack, queue)
        rest_latency, base_latency = [], []
        for _ in range(starts):
            started = time.perf_counter()
            await asyncio.to_thread(rest.start, "42")
            rest_latency.append(time.perf_counter() - started)
            started = time.perf_counter()
            await baseline_start(client, stack, queue)
            base_latency.append(time.perf_counter() - started)

        # The same starts in blocks, each side back to back: the interleaved figures above pay whatever cools
        # down in a side's processes while the other side runs; these pay none of it (both are printed).
        rest_block, base_block = [], []
        for _ in range(starts):
            started = time.perf_counter()
            await asyncio.to_thread(rest.start, "42")
            rest_block.append(time.perf_counter() - started)
        for _ in range(starts):
            started = time.perf_counter()
            await baseline_start(client, stack, queue)
            base_block.append(time.perf_counter() - started)

        # The loads alternate, `rounds` of each: this 2-core VM's speed drifts by tens of percent within a minute
        # (the host's other guests), so one load of each side, back to back, compares two different machines.
        drift_slow, base_slow.count = stack.slow_task_warnings(), 0  # count the load (b) only
        rest_rates, base_rates, polled = [], [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrent) as pool:
                polled += sum(pool.map(lambda _: rest_start_and_resume(stack), range(concurrent)))
            rest_rates.append(concurrent / (time.perf_counter() - started))
            started = time.perf_counter()
            await asyncio.gather(*(baseline_start_and_resume(client, stack, queue) for _ in range(concurrent)))
            base_rates.append(concurrent / (time.perf_counter() - started))
    drift_slow = stack.slow_task_warnings() - drift_slow
    ratios = [rest / base for rest, base in zip(rest_rates, base_rates, strict=True)]

    p50_rest, p50_base = percentile(rest_latency, 0.5), percentile(base_latency, 0.5)
    print("runtime API benchmark: sample order_status (HTTP node, branch, WAITING screen, resume)")
    print("drift: REST through gunicorn + worker process (devtools.up); baseline: bare Temporal calls, same server")
    base_side = "the SDK converter with Drift's payload codec (--codec)" if codec else "the SDK's default converter"
    print(f"drift as deployed (its converter and payload encryption), the baseline with {base_side}")
    print(f"(a) sync start latency over {starts} starts (answered at WAITING)")
    print(f"    drift REST    p50 {p50_rest:7.1f} ms   p99 {percentile(rest_latency, 0.99):7.1f} ms")
    print(f"    baseline      p50 {p50_base:7.1f} ms   p99 {percentile(base_latency, 0.99):7.1f} ms")
    p99_ratio = percentile(rest_latency, 0.99) / percentile(base_latency, 0.99)
    print(f"    ratio p50 drift/baseline = {p50_rest / p50_base:.2f}  (target <= 1.1)   "
          f"p99 {p99_ratio:.2f}  (target <= 1.2)   "
          f"mean {statistics.mean(rest_latency) / statistics.mean(base_latency):.2f}")
    print(f"(a') the same, {starts} starts of each side back to back (nothing cools down between a side's starts)")
    print(f"    drift REST    p50 {percentile(rest_block, 0.5):7.1f} ms   p99 {percentile(rest_block, 0.99):7.1f} ms")
    print(f"    baseline      p50 {percentile(base_block, 0.5):7.1f} ms   p99 {percentile(base_block, 0.99):7.1f} ms")
    print(f"    ratio p50 drift/baseline = {percentile(rest_block, 0.5) / percentile(base_block, 0.5):.2f}   "
          f"p99 {percentile(rest_block, 0.99) / percentile(base_block, 0.99):.2f}")
    print(f"(b) {concurrent} concurrent start + resume runs to completion, {rounds} rounds alternating "
          f"(gunicorn threads: {threads})")
    print(f"    drift REST    {' '.join(f'{rate:5.1f}' for rate in rest_rates)} runs/s   ({polled} calls passed the "
          f"sync timeout and were polled)")
    print(f"    baseline      {' '.join(f'{rate:5.1f}' for rate in base_rates)} runs/s")
    print(f"    ratio drift/baseline per round {' '.join(f'{ratio:.2f}' for ratio in ratios)}; median "
          f"{statistics.median(ratios):.2f}  (target >= 0.9)")
    print(f"SDK warnings 'Workflow task duration exceeded' during (b): drift {drift_slow}, baseline "
          f"{base_slow.count}  (target 0)")
    print(f"load average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--threads", type=int, default=32,
                        help="gunicorn threads (32: as deployed, drift/gunicorn_conf.py and devtools.up)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the concurrent load (b), alternating")
    parser.add_argument("--codec", action="store_true",
                        help="the baseline with Drift's payload codec (encryption) too: both sides pay it")
    args = parser.parse_args()
    stack = Stack(args.threads)
    try:
        if args.codec:
            stack.setup_django_here()  # the codec's keys come from the stack's settings
        asyncio.run(measure(stack, args.starts, args.concurrent, args.codec, args.rounds, args.threads))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
