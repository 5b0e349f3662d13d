"""The timeline rows a persist writes (apps/runs/services.py `_timeline_append`, one executemany): every field as
the entry gives it, a retried persist's rows ignored. On SQLite and on MariaDB (the `mysql` pass)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.runs.contract import PersistRequest
from apps.runs.models import NodeExecution, Run
from apps.runs.services import run_record_state

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.mysql]


def _persist(workflow_id: str, seq: int, rows: list[dict]) -> PersistRequest:
    return PersistRequest(workflow_id, seq, "RUNNING", "b", {"a": 1}, {"workflowStatus": "RUNNING"}, rows, tenant="t")


def test_rows_are_stored_with_every_field_and_a_retried_persist_adds_none():
    run = Run.objects.create(workflow_id="w-rows", tenant="t", status="RUNNING", definition_key="flow")
    rows = [
        {"seq": 1, "instance": "a", "type": "SCRIPT", "outcome": "SUCCESS", "error": "",
         "startedAt": "2026-01-02T03:04:05.678901+00:00", "durationMs": 1.5},
        {"seq": 2, "instance": "b", "type": "HTTP", "outcome": "FAILURE", "error": "HTTP 503 ✗",
         "startedAt": "2026-01-02T03:04:06+00:00", "durationMs": 20.25, "hostWaitMs": 3.5, "actor": "bo",
         "lane": "p/" + "x" * 600},
    ]
    run_record_state(_persist(run.workflow_id, 1, rows))
    run_record_state(_persist(run.workflow_id, 1, rows))  # a retry: the same rows again
    run_record_state(_persist(run.workflow_id, 2, [{**rows[0], "seq": 3, "instance": "c"}]))
    stored = list(NodeExecution.objects.filter(run=run).order_by("seq").values(
        "seq", "instance_name", "node_type", "outcome", "error", "actor", "lane", "started_at", "duration_ms",
        "host_limit_wait_ms"))
    assert [row["seq"] for row in stored] == [1, 2, 3]
    assert stored[0] == {"seq": 1, "instance_name": "a", "node_type": "SCRIPT", "outcome": "SUCCESS", "error": "",
                         "actor": "", "lane": "", "started_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                         "duration_ms": 1.5, "host_limit_wait_ms": 0}
    assert stored[1]["error"] == "HTTP 503 ✗" and stored[1]["actor"] == "bo" and stored[1]["host_limit_wait_ms"] == 3.5
    assert stored[1]["lane"] == ("p/" + "x" * 600)[:500]
    assert stored[1]["started_at"] == datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
