"""Structured JSON log lines; a record's `workflow_id` (from `extra=`) is kept as a field."""

import json
import logging
from datetime import UTC, datetime

_PASSTHROUGH = ("workflow_id", "run_id", "tenant", "node", "activity")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _PASSTHROUGH:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TemporalContextFilter(logging.Filter):
    """Adds `workflow_id`, `run_id` and `activity` to records logged inside a Temporal activity or workflow.

    Activities: read from `temporalio.activity.info()` (set for sync activities on their executor thread
    too). Workflows and the SDK's own adapters: read from the `temporal_workflow` / `temporal_activity`
    extras that `workflow.logger` / `activity.logger` attach. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "workflow_id"):
            details = _activity_details() or _sdk_extra(record)
            for name, value in details.items():
                if value and not hasattr(record, name):
                    setattr(record, name, value)
        return True


def _activity_details() -> dict[str, str]:
    try:
        from temporalio import activity

        if not activity.in_activity():
            return {}
        info = activity.info()
    except Exception:  # noqa: BLE001 - logging must never fail because of context lookup
        return {}
    return {"workflow_id": info.workflow_id, "run_id": info.workflow_run_id, "activity": info.activity_type}


def _sdk_extra(record: logging.LogRecord) -> dict[str, str]:
    for attr, name_key in (("temporal_activity", "activity_type"), ("temporal_workflow", None)):
        extra = getattr(record, attr, None)
        if isinstance(extra, dict) and extra.get("workflow_id"):
            details = {"workflow_id": extra["workflow_id"], "run_id": extra.get("run_id") or ""}
            if name_key and extra.get(name_key):
                details["activity"] = extra[name_key]
            return details
    return {}
