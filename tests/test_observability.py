"""/metrics names and values, and JSON log lines that carry the workflow id inside activities."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import logging.config
import uuid

import pytest
from django.conf import settings
from django.test import Client
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from drift.logging import JsonFormatter, TemporalContextFilter
from drift.metrics import SYNC_WAIT_SECONDS


@pytest.mark.django_db
def test_metrics_refuse_anonymous_scrapes_and_are_off_without_a_token(settings) -> None:
    """Issue 8.10: /metrics named every tenant's workflows to anyone."""
    settings.DRIFT_METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.DRIFT_METRICS_TOKEN = "scrape-secret"
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "scrape-secret"}):
        response = Client().get("/metrics", **headers)
        assert response.status_code == 401, headers
        assert b"drift_runs" not in response.content


@pytest.mark.django_db
def test_metrics_exposes_drift_metrics(settings) -> None:
    from apps.runs.models import Run, WebhookAttempt, WebhookDelivery

    workflow = f"wf-{uuid.uuid4().hex[:6]}"
    for status in ("COMPLETED", "COMPLETED", "WAITING"):
        run = Run.objects.create(workflow_id=uuid.uuid4().hex, tenant="t", definition_key=workflow, status=status)
    delivery = WebhookDelivery.objects.create(delivery_id=uuid.uuid4().hex, run=run, event="WAITING",
                                              url="https://example.com/hook", payload={}, status="DELIVERED")
    WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=500)
    WebhookAttempt.objects.create(delivery=delivery, number=2, status_code=200)
    SYNC_WAIT_SECONDS.observe(0.2)

    settings.DRIFT_METRICS_TOKEN = "scrape-secret"
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert f'drift_runs{{status="COMPLETED",workflow="{workflow}"}} 2.0' in text
    assert f'drift_runs{{status="WAITING",workflow="{workflow}"}} 1.0' in text
    assert "drift_runs_scrape_error 0.0" in text
    for name in (
        "drift_sync_wait_seconds_bucket",
        "drift_sync_wait_seconds_count",
        'drift_webhook_deliveries{status="DELIVERED"} 1.0',
        'drift_webhook_attempts{result="ok"} 1.0',
        'drift_webhook_attempts{result="error"} 1.0',
        'drift_definition_cache_hits_total{layer="local"}',
        'drift_definition_cache_hits_total{layer="shared"}',
        "drift_definition_cache_misses_total",
        "drift_definition_cache_hit_ratio",
    ):
        assert name in text, name


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(TemporalContextFilter())
    logger = logging.getLogger(f"test.drift.{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, stream


def test_activity_log_lines_carry_workflow_id() -> None:
    logger, stream = _capture()

    @activity.defn(name="drift.test_activity")
    def some_activity() -> None:
        logger.info("inside the activity")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id="wf-123", workflow_run_id="run-9", activity_type="drift.test_activity"
    )
    env.run(some_activity)
    logger.info("outside")

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["message"] == "inside the activity"
    assert inside["workflow_id"] == "wf-123"
    assert inside["run_id"] == "run-9"
    assert inside["activity"] == "drift.test_activity"
    assert "workflow_id" not in outside


def test_explicit_and_sdk_extras_are_kept() -> None:
    logger, stream = _capture()
    logger.info("explicit", extra={"workflow_id": "wf-explicit"})
    logger.info("from workflow.logger", extra={"temporal_workflow": {"workflow_id": "wf-sdk", "run_id": "r1"}})
    explicit, sdk = (json.loads(line) for line in stream.getvalue().splitlines())
    assert explicit["workflow_id"] == "wf-explicit"
    assert sdk["workflow_id"] == "wf-sdk" and sdk["run_id"] == "r1"


def test_settings_wire_the_filter_into_the_console_handler() -> None:
    config = settings.LOGGING
    assert config["handlers"]["console"]["formatter"] == "json"
    assert "temporal" in config["handlers"]["console"]["filters"]
    assert config["filters"]["temporal"]["()"] == "drift.logging.TemporalContextFilter"
    root_filters = [f for h in logging.getLogger().handlers for f in h.filters]
    assert any(isinstance(f, TemporalContextFilter) for f in root_filters)
