"""`run_worker --processes N`: N full Temporal workers on the same task queue, one per process.

One worker process runs its workflow code on one event loop (one core); the pod's other cores only help the
activities' threads and the sandbox children. So the supervisor starts N children (`run_worker --processes 1`),
each polling the same task queue with its own sandbox pool, and restarts any that dies: Temporal hands a dead
process's workflow tasks and activities to the others (after their timeouts), so no run is lost. On SQLite the
writing activities of all processes queue on one file lock (worker/activities.py); other databases need none.

Ports: the supervisor serves the health port (200 while every child answers ok on its own port, health + 1 + i);
child i serves metrics on metrics + i.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

logger = logging.getLogger("drift.worker")
ROOT = Path(__file__).resolve().parent.parent
RESTART_DELAY_SECONDS = 1.0


def default_processes() -> int:
    """The cores this pod may use: its CPU affinity, capped by a cgroup v2 CPU quota (a k8s CPU limit)."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, round(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _die_with_parent() -> None:
    """In the child before exec: a supervisor killed outright (SIGKILL, OOM) takes its workers with it, as one
    worker process would die, instead of leaving them orphaned (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


class Supervisor:
    """Starts the children, restarts those that die, stops them all on SIGTERM/SIGINT."""

    def __init__(self, processes: int, *, health_port: int, metrics_port: int) -> None:
        self.count = processes
        self.health_port, self.metrics_port = health_port, metrics_port
        self.children: list[subprocess.Popen | None] = [None] * processes
        self.stopping = threading.Event()

    def _command(self, index: int) -> list[str]:
        health = self.health_port + 1 + index if self.health_port > 0 else 0
        metrics = self.metrics_port + index if self.metrics_port > 0 else 0
        return [sys.executable, str(ROOT / "manage.py"), "run_worker", "--processes", "1",
                "--health-port", str(health), "--metrics-port", str(metrics)]

    def _spawn(self, index: int) -> None:
        self.children[index] = subprocess.Popen(self._command(index), cwd=ROOT, preexec_fn=_die_with_parent)
        logger.info("worker process started", extra={"activity": f"{index}: pid {self.children[index].pid}"})

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        health = _serve_health(self) if self.health_port > 0 else None
        for index in range(self.count):
            self._spawn(index)
        while not self.stopping.wait(0.5):
            for index, child in enumerate(self.children):
                if child is not None and child.poll() is not None:
                    logger.warning("worker process exited; restarting",
                                   extra={"activity": f"{index}: pid {child.pid}, status {child.returncode}"})
                    time.sleep(RESTART_DELAY_SECONDS)
                    if not self.stopping.is_set():
                        self._spawn(index)
        self._stop_children()
        if health:
            health.shutdown()
        return 0

    def _stop_children(self) -> None:
        """SIGTERM each (the worker drains), then wait for them all."""
        for child in self.children:
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            if child is not None:
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()

    def healthy(self) -> str:
        for index, child in enumerate(self.children):
            if child is None or child.poll() is not None:
                return f"process {index} not running"
            status = _child_status(self.health_port + 1 + index)
            if status != "ok":  # as the process says it (one process or several: the same answers)
                return status[:300]
        return "ok"


def _child_status(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as reply:
            return json.loads(reply.read())["status"]
    except urllib.error.HTTPError as error:  # a 503 says why in its body
        return json.loads(error.read())["status"]
    except Exception as error:  # noqa: BLE001 - any other failure means the child is not (yet) serving
        return f"starting ({type(error).__name__}: {error})"


def _serve_health(supervisor: Supervisor) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            status = supervisor.healthy()
            self.send_response(200 if status == "ok" else 503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"status": status}).encode())

        def log_message(self, *args) -> None:
            return

    server = ThreadingHTTPServer(("0.0.0.0", supervisor.health_port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
