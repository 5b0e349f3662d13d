"""Fixtures: a real Celery worker in this process (a thread) on the Redis broker, not eager."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings as django_settings


@contextmanager
def _celery(settings, **options: Any) -> Iterator[None]:
    from celery.contrib.testing.worker import start_worker

    from drift.celery import app

    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the receiver is local; webhooks obey the SSRF guard
    settings.DRIFT_WEBHOOK_BACKOFF_BASE_SECONDS = 0.2
    settings.DRIFT_WEBHOOK_BACKOFF_MAX_SECONDS = 1
    app.conf.task_always_eager = False
    app.conf.broker_url = django_settings.CELERY_BROKER_URL
    assert app.conf.broker_url.startswith("redis://")
    with start_worker(app, perform_ping_check=False, shutdown_timeout=10, **options):
        yield


@pytest.fixture
def celery_worker(settings) -> Iterator[None]:
    with _celery(settings, pool="solo"):
        yield


@pytest.fixture
def celery_pool(settings) -> Iterator[None]:
    """Two deliveries at a time (two threads, as two Celery processes would be)."""
    with _celery(settings, pool="threads", concurrency=2):
        yield
