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
