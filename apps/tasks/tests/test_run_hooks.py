"""The human-task mirror hooked into the run mirror (apps/runs/hooks.py, registered in apps/tasks/apps.py): a
recorded state writes the task, a hard terminate closes it, and a task reported with no hook fails loudly."""

import pytest

from apps.runs import hooks
from apps.runs.contract import PersistRequest
from apps.runs.models import Run
from apps.runs.runtime import run_mark_terminated
from apps.runs.services import run_record_state
from apps.tasks.models import Task

pytestmark = pytest.mark.django_db
T = "acme"
TASK = {"screen": 1, "node": "review", "group": "refunds", "user": "", "escalationLevel": 0,
        "waitingSince": "2026-01-02T03:04:05+00:00", "state": "OPEN"}


@pytest.fixture
def run() -> Run:
    return Run.objects.create(workflow_id="wf-hooks", tenant=T, definition_key="refund", status="RUNNING")


def waiting(seq: int = 1) -> PersistRequest:
    return PersistRequest(workflow_id="wf-hooks", seq=seq, status="WAITING", current_node="review", context={},
                          response={}, tenant=T, task=TASK)


def test_a_recorded_waiting_state_opens_its_task(run):
    run_record_state(waiting())
    task = Task.objects.get(run=run)
    assert (task.status, task.node, task.group, task.workflow_id) == ("OPEN", "review", "refunds", "wf-hooks")


def test_a_hard_terminate_closes_the_open_task(run):
    run_record_state(waiting())
    run_mark_terminated(workflow_id="wf-hooks", reason="stuck")
    assert Task.objects.get(run=run).status == "TERMINATED"
    assert Run.objects.get(pk=run.pk).status == "TERMINATED"


def test_a_task_reported_with_no_hook_registered_fails_and_writes_nothing(run, monkeypatch):
    monkeypatch.setattr(hooks, "_state_recorded", [])
    with pytest.raises(hooks.HookMissing, match="apps.tasks registers"):
        run_record_state(waiting())
    assert Run.objects.get(pk=run.pk).state_seq == 0 and not Task.objects.exists()
