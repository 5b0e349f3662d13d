"""Child processes of a test (another API process, a Celery worker) on the test session's database and services."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]


def database_url() -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    return f"mysql://{params['USER']}:{params['PASSWORD']}@{params['HOST']}:{params['PORT']}/{params['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment (Redis, Temporal) plus the test database and the live worker's task queue."""
    return os.environ | {
        "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "drift.settings",
        "TEMPORAL_TASK_QUEUE": settings.TEMPORAL_TASK_QUEUE, "DRIFT_LOG_LEVEL": "WARNING",
    } | extra
