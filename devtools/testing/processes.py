"""Child processes of a test (another API process, a Celery worker, a Drift worker) on the test session's database
and services."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from werkzeug import Request, Response

from devtools.testing.builders import value

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database this test runs on, for another process."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user, password = quote(params["USER"], safe=""), quote(params["PASSWORD"], safe="")
    return f"mysql://{user}:{password}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 3306}/{params['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment (Redis, Temporal) plus the test database and the live worker's task queue."""
    return os.environ | {
        "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "drift.settings",
        "TEMPORAL_TASK_QUEUE": settings.TEMPORAL_TASK_QUEUE, "DRIFT_LOG_LEVEL": "WARNING",
    } | extra


def start_worker_process(task_queue: str, *options: str) -> subprocess.Popen:
    """`manage.py run_worker` on the SQLite test database, polling `task_queue` (one process unless told)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
        "TEMPORAL_TASK_QUEUE": task_queue,
        "DRIFT_HTTP_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    command = [sys.executable, "manage.py", "run_worker", "--health-port", "0", "--metrics-port", "0",
               *(options or ("--processes", "1"))]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class HeldService:
    """The order service of the crash tests: `/slow` holds its first calls until the worker is dead; all are counted."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.release_slow = threading.Event()  # `/slow` answers only once the first worker is dead

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.calls[request.path + "?" + request.query_string.decode()] += 1
        if request.path == "/slow":
            self.release_slow.wait(60)
        body = f'{{"run": "{request.args.get("run")}", "path": "{request.path}"}}'
        return Response(body, content_type="application/json")

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(n for key, n in self.calls.items() if key.startswith(prefix))


def held_http_node(node_id: str, url_script: str) -> dict:
    return {
        "id": node_id, "name": node_id, "type": "HTTP", "parameters": ["run"], "timeoutSeconds": 3,
        "httpComponents": {"url": value(url_script), "method": "GET"},
        "retry": {"maxAttempts": 5, "initialIntervalSeconds": 0.5},
    }
