"""Fixtures shared by every test package: tenants, API keys, definitions and a live Temporal worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from apps.clients.services import api_key_create
from apps.runs.contract import UPDATE_WAIT_STABLE, WORKFLOW_NAME, RunInput
from drift.codec import data_converter
from drift.temporal import run_async


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> None:
    """Tests create hundreds of users; Django's PBKDF2 (~1 M iterations, a CPU-second under load per user) is
    not what they test. Passwords set and checked in this process use MD5; processes a test starts keep PBKDF2."""
    from django.contrib.auth import hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def api(tenant: str, db) -> APIClient:
    """A REST client authenticated for `tenant` with both scopes."""
    _, raw_key = api_key_create(tenant=tenant, client_id="tests", scopes=["runtime", "definitions"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}", HTTP_X_TENANT_ID=tenant, HTTP_X_CLIENT_ID="tests")
    return client


def publish_definitions(tenant: str, nodes: list[dict[str, Any]], workflows: list[dict[str, Any]]) -> None:
    """Save, publish and activate node and workflow definitions through the services."""
    from apps.definitions.models import DefinitionKind
    from apps.definitions.services import definition_activate, definition_publish, definition_save_snapshot

    for kind, bodies in ((DefinitionKind.NODE, nodes), (DefinitionKind.WORKFLOW, workflows)):
        for body in bodies:
            definition_save_snapshot(tenant=tenant, kind=kind, body=body, actor="tests", create=True)
            published = definition_publish(tenant=tenant, kind=kind, key=body["id"], actor="tests")
            definition_activate(tenant=tenant, kind=kind, key=body["id"], version=published.version, actor="tests")


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


@pytest.fixture
def runs(temporal: Client, worker: str, tenant: str, transactional_db) -> Runs:
    return Runs(temporal, worker, tenant)
