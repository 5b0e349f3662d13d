"""Issue 8.10: the worker's health endpoint follows its Temporal server (it said ok while Temporal was down).

A real `manage.py run_worker` process against its own Temporal dev server, which is stopped under it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools import services

ROOT = Path(__file__).resolve().parent.parent


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def wait_status(port: int, wanted: int, timeout: float = 90) -> dict:
    """Poll until the health endpoint answers `wanted` (a bound on waiting, not an assertion on time)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = health(port)
        if status == wanted:
            return body
        assert time.monotonic() < deadline, f"health stayed {status} {body}, wanted {wanted}"
        time.sleep(0.3)


def test_worker_health_fails_while_temporal_is_down(tmp_path) -> None:
    temporal = services.start_temporal(tmp_path / "temporal")
    port = services.free_port()
    env = dict(os.environ, TEMPORAL_ADDRESS=temporal.url, TEMPORAL_TASK_QUEUE="health-test",
               DJANGO_SETTINGS_MODULE="drift.settings")
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--health-port", str(port), "--metrics-port", "0"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        assert wait_status(port, 200) == {"status": "ok"}
        temporal.kill()
        body = wait_status(port, 503)
        assert body["status"].startswith("temporal unreachable"), body
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        temporal.kill()
