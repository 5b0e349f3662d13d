"""The statements one persist sends (issue 26): held here so that a new one per state change cannot creep in."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.runs.contract import PersistRequest
from apps.runs.models import Run
from apps.runs.services import run_record_state
from apps.tasks.models import Task, TaskStatus

pytestmark = pytest.mark.django_db(transaction=True)

STEP = {"seq": 1, "instance": "s1", "type": "SCRIPT", "outcome": "SUCCESS", "error": "",
        "startedAt": "2026-01-01T00:00:00+00:00", "durationMs": 1.0}


def _statements(request: PersistRequest) -> list[str]:
    """Each statement as its verb and first table (savepoints and transaction control as they are)."""
    with CaptureQueriesContext(connection) as queries:
        run_record_state(request)
    shapes = []
    for query in queries.captured_queries:
        sql = query["sql"]
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
        shapes.append(f"{sql.split()[0]} {table.group(1)}" if table else sql.split()[0])
    return shapes


def _persist(workflow_id: str, seq: int, status: str, task: dict | None = None) -> PersistRequest:
    return PersistRequest(workflow_id, seq, status, "s1", {"s1": seq}, {"workflowStatus": status}, [{**STEP,
                          "seq": seq}], tenant="t", task=task)


@pytest.fixture
def run() -> Run:
    return Run.objects.create(workflow_id="w-persist", tenant="t", status="RUNNING", definition_key="flow")


def test_a_persist_writes_the_context_the_mirror_and_the_timeline(run):
    # the first write of the context inserts its row (in a savepoint: a lost insert race is told apart)
    assert _statements(_persist(run.workflow_id, 1, "RUNNING")) == [
        "BEGIN", "SELECT runs_run", "SAVEPOINT", "INSERT runs_runcontext", "RELEASE", "UPDATE runs_run",
        "INSERT runs_nodeexecution", "COMMIT"]
    assert _statements(_persist(run.workflow_id, 2, "RUNNING")) == [
        "BEGIN", "SELECT runs_run", "UPDATE runs_runcontext", "UPDATE runs_run", "INSERT runs_nodeexecution",
        "COMMIT"]


def test_the_final_persist_of_a_run_without_a_task_sends_nothing_about_tasks(run):
    run_record_state(_persist(run.workflow_id, 1, "RUNNING"))
    # only the admission queue is asked (does a queued start wait for the slot this run frees?)
    assert _statements(_persist(run.workflow_id, 2, "COMPLETED")) == [
        "BEGIN", "SELECT runs_run", "UPDATE runs_runcontext", "UPDATE runs_run", "INSERT runs_nodeexecution",
        "SELECT runs_queuedstart", "COMMIT"]


def test_a_run_ending_with_its_screen_open_closes_the_task(run):
    task = {"screen": 1, "node": "ask", "group": "g", "user": "", "escalationLevel": 0,
            "waitingSince": "2026-01-01T00:00:00+00:00", "state": TaskStatus.OPEN}
    run_record_state(_persist(run.workflow_id, 1, "WAITING", task))
    assert Task.objects.get(workflow_id=run.workflow_id).status == TaskStatus.OPEN
    run_record_state(_persist(run.workflow_id, 2, "TERMINATED", {**task, "state": TaskStatus.TERMINATED}))
    assert Task.objects.get(workflow_id=run.workflow_id).status == TaskStatus.TERMINATED
