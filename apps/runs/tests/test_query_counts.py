"""The statements a sync start (API side) and one persist send (issue 26): held here so that a new one per start or
per state change cannot creep in."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.runs.contract import PersistRequest
from apps.runs.models import Run
from apps.runs.services import run_record_state
from apps.tasks.models import Task, TaskStatus
from devtools.testing.builders import script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start

pytestmark = pytest.mark.django_db(transaction=True)

STEP = {"seq": 1, "instance": "s1", "type": "SCRIPT", "outcome": "SUCCESS", "error": "",
        "startedAt": "2026-01-01T00:00:00+00:00", "durationMs": 1.0}


def _statements(request: PersistRequest) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        run_record_state(request)
    return _shapes(queries)


def _shapes(queries: CaptureQueriesContext) -> list[str]:
    """Each statement as its verb and first table (savepoints and transaction control as they are)."""
    shapes = []
    for query in queries.captured_queries:
        sql = re.sub(r"^\d+ times: ", "", query["sql"])  # an executemany (the timeline rows: one statement)
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


def test_an_end_stored_newest_only_writes_nothing_once_a_newer_state_is_stored(run):
    """A segment's stored end (worker/run_end.py) the workflow may have given up for a terminate: arriving after the
    newer state, it writes no row, no task, no context and no mirror change (one SELECT, nothing else)."""
    task = {"screen": 1, "node": "ask", "group": "g", "user": "", "escalationLevel": 0,
            "waitingSince": "2026-01-01T00:00:00+00:00", "state": TaskStatus.OPEN}
    run_record_state(_persist(run.workflow_id, 2, "TERMINATED"))
    with CaptureQueriesContext(connection) as queries:
        run_record_state(_persist(run.workflow_id, 1, "WAITING", task), newest_only=True)
    assert _shapes(queries) == ["BEGIN", "SELECT runs_run", "COMMIT"]
    assert not Task.objects.filter(workflow_id=run.workflow_id).exists()
    run.refresh_from_db()
    assert (run.status, run.state_seq) == ("TERMINATED", 2)
    assert list(run.node_executions.values_list("seq", flat=True)) == [2]
    # the same end stored first is written as any persist (then the newer state after it)
    other = Run.objects.create(workflow_id="w-end-first", tenant="t", status="RUNNING", definition_key="flow")
    run_record_state(_persist(other.workflow_id, 1, "WAITING", task), newest_only=True)
    assert Task.objects.get(workflow_id=other.workflow_id).status == TaskStatus.OPEN


@pytest.mark.temporal
def test_a_sync_start_inserts_the_run_and_asks_temporal_once(api, runs, tenant):
    """Auth, the Run row (pinned, RUNNING) and its params index; no look for an open run with a generated id,
    no read of the row after Temporal answered (the worker's statements run on its own threads' connections)."""
    publish_definitions(tenant, [script_node("one", "return 1"), success_node()],
                        [workflow("quick", "s1", [state("s1", "one", "done"), state("done")])])
    assert start(api, params={"workflowId": "quick"}).status_code == 200  # the definition cache is warm now
    with CaptureQueriesContext(connection) as queries:
        response = start(api, params={"workflowId": "quick", "n": 1})
    assert response.status_code == 200 and response.json()["workflowStatus"] == "COMPLETED", response.json()
    assert _shapes(queries) == ["SELECT clients_apikey", "BEGIN", "INSERT runs_run", "INSERT runs_runparam", "COMMIT"]
