"""Gunicorn settings of the API, used by the image (docker/entrypoint.sh) and `devtools.up`.

Process model (docs/operations.md, "API process model"): gthread workers. A request thread holds for the whole
of a sync start/resume (up to DRIFT_SYNC_TIMEOUT_SECONDS), but it only waits there (on the shared Temporal
client loop), so threads are cheap: one worker process per pod with GUNICORN_THREADS threads (default 32), and
replicas for more. Probes do not queue behind those threads: every worker serves /healthz and /readyz on
DRIFT_HEALTH_PORT from a thread of its own (drift.health.serve_probes).
"""

import os

worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 20
backlog = 2048  # a burst of connections queues in the kernel instead of being refused


def post_fork(server, worker) -> None:
    """Tracing (drift/tracing.py) per worker process, after the fork and before the app loads: the Django
    instrumentation adds its middleware to the settings the app is built from."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drift.settings")
    from drift.tracing import tracing_init

    tracing_init("drift-api")


def post_worker_init(worker) -> None:
    """The app (Django) is loaded: start this worker's probe server."""
    from django.conf import settings

    from drift.health import serve_probes

    serve_probes(settings.DRIFT_HEALTH_PORT)
