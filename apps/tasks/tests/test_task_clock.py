"""Escalation and timeout of a human task on Temporal's time-skipping test server: real Temporal timers in the
workflow (no polling loop), only the clock jumps."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.testing import WorkflowEnvironment

from apps.runs.contract import WORKFLOW_NAME, RunInput
from apps.runs.models import NodeExecution
from apps.tasks.models import Task, TaskStatus
from apps.tasks.services import task_claim
from devtools.testing.builders import instruction_node, script_node, state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.temporal import time_skipping_server
from drift.temporal import run_async
from worker.main import build_worker

pytestmark = pytest.mark.temporal

HOUR = 3600


def _screen(**assignment) -> dict:
    node = instruction_node("approve_refund", [{"id": "decision", "tags": {"values": ["ui.button"]}}])
    return node | {"assignment": assignment}


def _publish(tenant: str, screen: dict) -> None:
    publish_definitions(
        tenant, [screen, script_node("gave_up", "return 'nobody answered'"), success_node()],
        [workflow("refund", "ask", [state("ask", "approve_refund", "done"), state("late", "gave_up", "done"),
                                    state("done")])],
    )


def _tasks(workflow_id: str) -> list[Task]:
    return list(Task.objects.filter(workflow_id=workflow_id))


def test_escalation_reassigns_on_time_and_timeout_takes_the_timeout_node(tenant, transactional_db):
    _publish(tenant, _screen(
        group=value("return 'tier1'"), dueInSeconds=HOUR,
        escalation=[{"afterSeconds": 2 * HOUR, "group": value("tier2", "STATIC")},
                    {"afterSeconds": 5 * HOUR, "user": value("lead", "STATIC")}],
        timeoutSeconds=24 * HOUR, timeoutNode="late",
    ))
    workflow_id = f"refund-{uuid.uuid4().hex}"

    async def scenario() -> tuple[list[list[Task]], dict]:
        env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=time_skipping_server())
        async with env:
            worker = build_worker(env.client, task_queue=f"tasks-{uuid.uuid4().hex[:6]}",
                                  executor=ThreadPoolExecutor(max_workers=64))
            async with worker:
                handle = await env.client.start_workflow(
                    WORKFLOW_NAME, RunInput(tenant=tenant, workflow_key="refund"), id=workflow_id,
                    task_queue=worker.task_queue, result_type=dict)
                seen = []
                for hours in (1, 2, 3):  # before the first step, after it, after the second
                    await env.sleep(hours * HOUR)
                    seen.append(await _settled(workflow_id, len(seen)))
                    if len(seen) == 1:  # tier1's alice holds it when the escalation comes
                        claimed = await asyncio.to_thread(lambda: task_claim(task=seen[0][0], username="alice"))
                        assert claimed.claimed_by == "alice"
                result = await handle.result()
            return seen, result

    seen, result = run_async(scenario(), timeout=120)
    assert [(t.group, t.user, t.escalation_level, t.claimed_by) for [t] in seen] == [
        ("tier1", "", 0, "alice"), ("tier2", "", 1, ""), ("tier2", "lead", 2, "")]  # escalation drops the claim
    assert result["workflowStatus"] == "COMPLETED"
    assert result["output"]["late"] == "nobody answered"
    [task] = _tasks(workflow_id)
    assert task.status == TaskStatus.TIMED_OUT
    assert NodeExecution.objects.filter(run__workflow_id=workflow_id, outcome="TIMEOUT").exists()


async def _settled(workflow_id: str, level: int) -> list[Task]:
    """The task rows once the persist activity wrote escalation `level` (activities run on worker threads)."""
    for _ in range(200):
        tasks = await asyncio.to_thread(_tasks, workflow_id)
        if tasks and tasks[0].escalation_level >= level:
            return tasks
        await asyncio.sleep(0.05)
    return tasks


def test_timeout_without_timeout_node_fails_the_screen(tenant, transactional_db):
    _publish(tenant, _screen(group=value("ops", "STATIC"), timeoutSeconds=30 * 86_400))

    async def scenario() -> dict:
        env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=time_skipping_server())
        async with env:
            worker = build_worker(env.client, task_queue=f"tasks-{uuid.uuid4().hex[:6]}",
                                  executor=ThreadPoolExecutor(max_workers=64))
            async with worker:
                return await env.client.execute_workflow(
                    WORKFLOW_NAME, RunInput(tenant=tenant, workflow_key="refund"), id=f"r-{uuid.uuid4().hex}",
                    task_queue=worker.task_queue, result_type=dict)

    result = run_async(scenario(), timeout=120)
    assert result["workflowStatus"] == "FAILED"
    assert "no resume within" in result["errorMessage"]
    [task] = _tasks(result["workflowId"])
    assert task.status == TaskStatus.TIMED_OUT
