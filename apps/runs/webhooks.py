"""Webhook notifications of ASYNC runs (delivery itself: apps/runs/tasks.py, through Celery)."""

from __future__ import annotations

from typing import Any

from apps.runs.models import Run, RunMode


def webhook_notify(*, run: Run, response: dict[str, Any]) -> None:
    if run.mode != RunMode.ASYNC:
        return
    raise NotImplementedError("webhook delivery is not built yet")
