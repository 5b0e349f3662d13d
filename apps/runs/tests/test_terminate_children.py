"""A terminated run's children (apps/runs/terminations.py): Temporal terminates a SYNC child when its parent closes
(parent-close policy TERMINATE) without the child persisting it, so the mirror is reconciled after the terminate;
an ASYNC child (ABANDON) runs on, and its mirror row stays open."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowExecutionStatus

from apps.runs import terminations
from apps.runs.models import Run
from apps.runs.runtime import run_mark_terminated
from apps.runs.tasks import RECONCILE_COUNTDOWNS, reconcile_terminated_family
from apps.runs.terminations import terminated_family_reconcile
from apps.tasks.models import Task
from devtools.testing.builders import (
    child_node,
    instruction_node,
    state,
    success_node,
    value,
    wait_node,
    workflow,
)
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_final, wait_for
from drift.temporal import run_async

pytestmark = pytest.mark.temporal


def _publish(tenant: str, mode: str, kid_node: dict, parent_after: list[dict]) -> None:
    publish_definitions(
        tenant,
        [kid_node, child_node("call", "kid", mode), success_node(), *parent_after],
        [workflow("kid", "k", [state("k", kid_node["id"], "done"), state("done")]),
         workflow("parent", "c", [state("c", "call", parent_after[0]["id"] if parent_after else "done"),
                                  *[state(node["id"], node["id"], "done") for node in parent_after], state("done")])],
    )


def _child_of(parent_id: str, status: str) -> Run:
    return wait_for(lambda: Run.objects.filter(parent_workflow_id=parent_id, status=status).first(),
                    f"a {status} child of {parent_id}")


def test_terminating_a_parent_mirrors_its_sync_child_terminated_and_closes_its_task(api, runs, tenant,
                                                                                     celery_worker):
    button = {"id": "ok", "description": "OK", "tags": {"values": ["ui.button"]}}
    screen = instruction_node("review", [button], layoutId="review")
    _publish(tenant, "SYNC", screen | {"assignment": {"group": value("support", "STATIC")}}, [])
    parent_id = start(api, params={"workflowId": "parent"}, mode="ASYNC").json()["workflowId"]
    child = _child_of(parent_id, "WAITING")
    assert wait_for(lambda: Task.objects.filter(workflow_id=child.workflow_id, status="OPEN").first(), "the task")

    ended = api.delete(f"/v3/workflow/terminate/{parent_id}", {"reason": "customer hung up"}, format="json")
    assert (ended.status_code, ended.json()["workflowStatus"]) == (200, "TERMINATED"), ended.json()

    child = wait_final(child.workflow_id)
    assert child.status == "TERMINATED" and child.finished_at is not None, child.error_message
    assert Task.objects.get(workflow_id=child.workflow_id).status == "TERMINATED"
    described = run_async(runs.client.get_workflow_handle(child.workflow_id).describe())
    assert described.status == WorkflowExecutionStatus.TERMINATED


def test_a_hard_terminate_leaves_an_async_child_open_and_it_still_completes(api, runs, tenant):
    _publish(tenant, "ASYNC", wait_node("park", waitType="ON_EVENT", eventName="go"),
             [wait_node("hold", waitType="ON_EVENT", eventName="never")])
    parent_id = start(api, params={"workflowId": "parent"}, mode="ASYNC").json()["workflowId"]
    child = _child_of(parent_id, "WAITING")
    wait_for(lambda: Run.objects.get(workflow_id=parent_id).status == "WAITING", "the parent to wait")

    # The hard path of run_terminate (its update unanswered): Temporal terminates the run, Drift marks the mirror.
    run_async(runs.client.get_workflow_handle(parent_id).terminate(reason="stuck"))
    assert run_mark_terminated(workflow_id=parent_id, reason="stuck").status == "TERMINATED"
    assert terminated_family_reconcile(workflow_id=parent_id, reason="stuck") == 1  # the child runs on
    assert Run.objects.get(workflow_id=child.workflow_id).status == "WAITING"

    sent = api.post(f"/v3/workflow/{child.workflow_id}/event/go", {}, format="json")
    assert sent.status_code == 202, sent.json()
    assert wait_final(child.workflow_id).status == "COMPLETED"


def test_a_descendant_temporal_does_not_know_is_left_as_it_is(runs, tenant):
    Run.objects.create(workflow_id="gone-parent", tenant=tenant, definition_key="p", status="TERMINATED")
    Run.objects.create(workflow_id="gone-child", tenant=tenant, definition_key="k", status="WAITING",
                       parent_workflow_id="gone-parent")
    assert terminated_family_reconcile(workflow_id="gone-parent", reason="stuck") == 0
    assert Run.objects.get(workflow_id="gone-child").status == "WAITING"


def test_temporal_out_of_reach_is_retried_then_given_up_without_touching_the_mirror(transactional_db, monkeypatch):
    Run.objects.create(workflow_id="p", tenant="t", definition_key="p", status="TERMINATED")
    Run.objects.create(workflow_id="k", tenant="t", definition_key="k", status="WAITING", parent_workflow_id="p")
    calls = []

    async def unreachable():
        calls.append(1)
        raise RuntimeError("Failed client connect: connection refused")

    monkeypatch.setattr(terminations, "temporal_client", unreachable)
    assert reconcile_terminated_family.apply(args=("p", "stuck")).get() == -1  # eager: the retries run at once
    assert len(calls) == len(RECONCILE_COUNTDOWNS) + 1
    assert Run.objects.get(workflow_id="k").status == "WAITING"


def test_a_terminate_with_no_open_descendant_enqueues_nothing(api, runs, tenant, monkeypatch):
    publish_definitions(tenant, [wait_node("park", waitType="ON_EVENT", eventName="go"), success_node()],
                        [workflow("alone", "w", [state("w", "park", "done"), state("done")])])
    enqueued = []
    monkeypatch.setattr(reconcile_terminated_family, "delay", lambda *args: enqueued.append(args))
    workflow_id = start(api, params={"workflowId": "alone"}, mode="ASYNC").json()["workflowId"]
    wait_for(lambda: Run.objects.get(workflow_id=workflow_id).status == "WAITING", "the run to wait")
    assert api.delete(f"/v3/workflow/terminate/{workflow_id}").status_code == 200
    assert enqueued == []
