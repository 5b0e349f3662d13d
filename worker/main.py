"""The Drift worker: polls Temporal, runs the interpreter workflow and the node activities.

Started by `manage.py run_worker` (Django is set up by then). Serves health on
DRIFT_WORKER_HEALTH_PORT and Prometheus metrics (the SDK's own plus Drift's) on DRIFT_METRICS_PORT.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from drift.codec import data_converter
from drift.tracing import temporal_interceptors, tracing_init
from worker.activities import ACTIVITIES
from worker.segment_activity import execute_segment
from worker.workflows import DriftMapBatch, DriftWorkflow

logger = logging.getLogger("drift.worker")


def build_worker(
    client: Client, *, task_queue: str | None = None, executor: ThreadPoolExecutor | None = None
) -> Worker:
    max_activities = settings.DRIFT_WORKER_MAX_CONCURRENT_ACTIVITIES
    return Worker(
        client,
        task_queue=task_queue or settings.TEMPORAL_TASK_QUEUE,
        workflows=[DriftWorkflow, DriftMapBatch],
        activities=[*ACTIVITIES, execute_segment],
        activity_executor=executor or ThreadPoolExecutor(max_workers=max_activities, thread_name_prefix="activity"),
        max_concurrent_activities=max_activities,
        max_concurrent_local_activities=settings.DRIFT_WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES,
        max_concurrent_workflow_tasks=settings.DRIFT_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
        # Runs kept in memory between their workflow tasks; the others are replayed from history when they
        # wake (docs/operations.md, "Many WAITING runs"). Bounds the worker's memory, not the runs it serves.
        max_cached_workflows=settings.DRIFT_WORKER_MAX_CACHED_WORKFLOWS,
        graceful_shutdown_timeout=timedelta(seconds=10),
        workflow_runner=workflow_runner(),
    )


def workflow_runner() -> WorkflowRunner:
    """The interpreter is fixed, reviewed code (user scripts only ever run in activities), so production runs it
    without the sandbox, whose per-run module re-import cost a third of the worker's throughput. `replay` always
    replays inside the sandbox, and the test session replays every run it produced that way, to catch any
    nondeterminism that slips in. DRIFT_WORKFLOW_SANDBOX=1 runs the worker sandboxed too."""
    if not settings.DRIFT_WORKFLOW_SANDBOX:
        return UnsandboxedWorkflowRunner()
    return sandboxed_workflow_runner()


def sandboxed_workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox `replay` uses; the interpreter's own packages pass through (imported once)."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules("worker", "apps"))


class _HealthHandler(BaseHTTPRequestHandler):
    """200 only while the worker polls AND its Temporal server answers a health check (a worker whose
    server is gone polls nothing: it must not report ok). The check runs on the worker's loop, bounded."""

    healthy = threading.Event()
    client: Client | None = None
    loop: asyncio.AbstractEventLoop | None = None
    probe_seconds = 2.0

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        status = self._status()
        body = json.dumps({"status": status}).encode()
        self.send_response(200 if status == "ok" else 503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def _status(self) -> str:
        if not self.healthy.is_set() or self.client is None or self.loop is None:
            return "starting"
        probe = self.client.service_client.check_health(timeout=timedelta(seconds=self.probe_seconds))
        try:
            asyncio.run_coroutine_threadsafe(probe, self.loop).result(self.probe_seconds + 1)
        except Exception as error:  # noqa: BLE001 - any failure means the server is not reachable
            return f"temporal unreachable: {type(error).__name__}: {error}"[:300]
        return "ok"

    def log_message(self, *args) -> None:
        return  # probes every few seconds would flood the log


def _serve_health(port: int) -> ThreadingHTTPServer | None:
    if port <= 0:
        return None
    server = ThreadingHTTPServer(("0.0.0.0", port), _HealthHandler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


async def connect(metrics_port: int) -> Client:
    runtime = None
    if metrics_port > 0:
        telemetry = TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{metrics_port}"))
        runtime = Runtime(telemetry=telemetry)
    return await Client.connect(
        settings.TEMPORAL_ADDRESS, namespace=settings.TEMPORAL_NAMESPACE, data_converter=data_converter(),
        interceptors=temporal_interceptors(),  # workers built on this client trace too
        **({"runtime": runtime} if runtime else {}),
    )


async def run(*, health_port: int, metrics_port: int) -> None:
    tracing_init("drift-worker")
    client = await connect(metrics_port)
    worker = build_worker(client)
    health = _serve_health(health_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    _HealthHandler.client, _HealthHandler.loop = client, loop
    async with worker:
        _HealthHandler.healthy.set()
        logger.info("worker polling", extra={"activity": settings.TEMPORAL_TASK_QUEUE})
        await stop.wait()
        logger.info("worker shutting down")
        _HealthHandler.healthy.clear()
    if health:
        health.shutdown()
