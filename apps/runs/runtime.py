"""API-side services of the runtime API (/v3): start, resume, terminate, disconnected nodes, events.

Every Temporal call goes through `temporal_call`, which applies the sync-timeout rule (the caller gets
202 with the mirror's state when the run is not stable in time) and maps Temporal's errors to
DriftErrors. Tenant isolation: a run is looked up by workflow id AND tenant before Temporal is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from apps.clients.authentication import Principal
from apps.definitions.selectors import workflow_get, workflow_resolve_for_run
from apps.nodes.registry import events_of
from apps.runs.admission import admission_register
from apps.runs.contract import (
    FINAL_STATUSES,
    SIGNAL_EVENT,
    STABLE_STATUSES,
    UPDATE_DISCONNECTED,
    UPDATE_RESUME,
    UPDATE_TERMINATE,
    UPDATE_WAIT_STABLE,
    WORKFLOW_NAME,
    RunInput,
)
from apps.runs.models import Run, RunMode, RunStatus
from apps.runs.selectors import run_find, run_get, run_response, workflow_response
from apps.runs.services import customer_id_of, run_pinned, run_register_pinned
from apps.runs.terminations import runs_mark_terminated, terminated_family_enqueue
from apps.secrets.sealing import refuse_sealed
from drift.db import sqlite_writer
from drift.errors import Conflict, DriftError, InvalidInput, NotFound, ServiceUnavailable, unavailable_error
from drift.metrics import SYNC_WAIT_SECONDS
from drift.temporal import run_async, temporal_client
from drift.tracing import link_current_span

logger = logging.getLogger(__name__)
T = TypeVar("T")

START_FIELDS = ("issueDetail", "customer", "orderDetails", "params", "config", "threadContext", "queueDetail",
                "parentWorkflowId")
# Workflow validators reject updates with these ApplicationError types.
_REJECTIONS: dict[str, type[DriftError]] = {"Conflict": Conflict, "NotFound": NotFound, "Invalid": InvalidInput}


@dataclass(frozen=True)
class Reply:
    """A runtime call's answer; `accepted` = the run goes on without a stable state yet (HTTP 202)."""

    body: dict[str, Any]
    accepted: bool = False


class SyncTimeout(Exception):
    """The run did not reach a stable state within the wait; it goes on."""


# --------------------------------------------------------------------------- the one Temporal helper


# Temporal refuses updates while a run's last workflow task failed (a timeout under load, a worker lost
# mid-task) until the worker retries it: a transient state, retried briefly, then a 503.
NOT_READY_ATTEMPTS = 5


def _workflow_not_ready(error: RPCError) -> bool:
    return error.status == RPCStatusCode.FAILED_PRECONDITION and b"WorkflowNotReadyFailure" in (error.raw_grpc_status
                                                                                             or b"")


def temporal_call(operation: Callable[[Client], Awaitable[T]], *, wait: float | None = None) -> T:
    """Run `operation(client)` on the client loop. Raises SyncTimeout after `wait` seconds (when Temporal
    is reachable; 503 otherwise), and DriftErrors for rejected updates, ended runs and outages."""

    async def call() -> T:
        client = await temporal_client()
        for attempt in range(NOT_READY_ATTEMPTS):
            try:
                return await asyncio.wait_for(operation(client), wait)
            except RPCError as error:
                if not _workflow_not_ready(error) or attempt == NOT_READY_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.25 * (attempt + 1))  # the worker retries the failed workflow task meanwhile
        raise AssertionError("unreachable")

    try:
        return run_async(call())
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        _raise_if_unreachable()
        raise SyncTimeout from None
    except WorkflowUpdateFailedError as error:
        raise _rejection(error) from error
    except WorkflowAlreadyStartedError as error:
        raise Conflict(f"Run '{error.workflow_id}' has already ended; start with a new workflowId.") from error
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:  # callers checked the mirror: the run existed
            raise Conflict("The run has already ended.") from error
        if _workflow_not_ready(error):
            raise ServiceUnavailable("The run's last workflow task failed (e.g. timed out under load) and is being "
                                     "retried; retry the call shortly.") from error
        _raise_unavailable(error)
        raise
    except RuntimeError as error:
        _raise_unavailable(error)
        raise


def _raise_unavailable(error: Exception) -> None:
    mapped = unavailable_error(error)
    if mapped is not None:
        raise mapped from error


def _raise_if_unreachable() -> None:
    """A wait that timed out may hide an outage (RPC retries outlast short waits): tell them apart."""

    async def healthy() -> bool:
        client = await temporal_client()
        return await client.service_client.check_health(timeout=timedelta(seconds=2))

    try:
        if run_async(healthy()):
            return
    except Exception:  # noqa: BLE001 - any failure of the health check means unreachable
        logger.warning("temporal health check failed", exc_info=True)
    raise ServiceUnavailable("The workflow engine is unreachable; retry later.")


def _rejection(error: WorkflowUpdateFailedError) -> DriftError:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type in _REJECTIONS:
        return _REJECTIONS[cause.type](cause.message)
    message = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
    return Conflict(f"The run refused the request: {message}")


def _update(workflow_id: str, name: str, arg: Any) -> Callable[[Client], Awaitable[dict]]:
    return lambda client: client.get_workflow_handle(workflow_id).execute_update(name, arg, result_type=dict)


def _sync_wait() -> float:
    return settings.DRIFT_SYNC_TIMEOUT_SECONDS


def _stable_or_accepted(workflow_id: str, operation: Callable[[Client], Awaitable[dict]]) -> Reply:
    """The stable state the update returns, or 202: past the sync timeout (with the mirror's state), or when
    the run answered while still RUNNING (it hands over to a new run with continue-as-new)."""
    started = time.perf_counter()
    try:
        body = workflow_response(temporal_call(operation, wait=_sync_wait()))
        SYNC_WAIT_SECONDS.observe(time.perf_counter() - started)
        return Reply(body, accepted=body["workflowStatus"] not in STABLE_STATUSES)
    except SyncTimeout:
        SYNC_WAIT_SECONDS.observe(time.perf_counter() - started)
        return Reply(run_response(Run.objects.get(workflow_id=workflow_id)), accepted=True)


def _open_run(*, tenant: str, workflow_id: str) -> Run:
    run = run_get(tenant=tenant, workflow_id=workflow_id)
    if run.status in FINAL_STATUSES:
        raise Conflict(f"Run '{workflow_id}' already ended {run.status}.")
    return run


# --------------------------------------------------------------------------- start


def run_start(*, principal: Principal, data: dict[str, Any]) -> Reply:
    """3.1: register the Run row, then start (or join: same id while open) the workflow."""
    refuse_sealed(data)  # only Drift seals (apps/secrets/sealing.py); so for every input below
    # A generated id is new: only a caller's id needs the look for an open run to join.
    workflow_id = data.get("workflowId") or uuid.uuid4().hex
    existing = _check_id_free(tenant=principal.tenant, workflow_id=workflow_id) if data.get("workflowId") else None
    inp = _run_input(principal, data, workflow_id)
    with sqlite_writer():  # queued behind the worker's persists, not sleeping in SQLite's busy handler
        run = existing or admission_register(
            inp=inp, workflow_id=workflow_id,
            register=lambda status: run_register_pinned(workflow_id=workflow_id, inp=inp, status=status))
    if run.tenant != principal.tenant:  # lost a race for the id against another tenant
        raise Conflict(f"workflowId '{workflow_id}' is already in use.")
    if run.status == RunStatus.QUEUED:  # held back by the workflow's limits: started when a slot frees
        return Reply(run_response(run), accepted=True)
    try:
        return _start_workflow(inp, workflow_id)
    except Exception:
        # Whatever failed (an outage, a conflict, a bug), no orphan CREATED row stays behind; should the start
        # have gone through, run_begin recreates the row.
        if existing is None:
            Run.objects.filter(pk=run.pk, status__in=(RunStatus.CREATED, RunStatus.RUNNING), state_seq=0).delete()
        raise


def _start_workflow(inp: RunInput, workflow_id: str) -> Reply:
    if inp.mode == RunMode.ASYNC:
        workflow_start_async(inp, workflow_id)
        return Reply(run_response(Run.objects.get(workflow_id=workflow_id)), accepted=True)

    async def update_with_start(client: Client) -> dict:
        # Built on the client loop: the operation creates an asyncio future, and request threads have no loop.
        operation = WithStartWorkflowOperation(WORKFLOW_NAME, inp, **_start_options(workflow_id))
        # The SDK sets the start error (a CancelledError when the sync wait times out) on the operation's
        # handle future, which nothing awaits: retrieve it so asyncio does not log "Future exception was
        # never retrieved" on every sync timeout.
        operation._workflow_handle.add_done_callback(_retrieve_exception)
        return await client.execute_update_with_start_workflow(
            UPDATE_WAIT_STABLE, 0, start_workflow_operation=operation, result_type=dict
        )

    return _stable_or_accepted(workflow_id, update_with_start)


def _retrieve_exception(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def workflow_start_async(inp: RunInput, workflow_id: str) -> None:
    """Start the run without waiting for a state; an open run with the id is joined, an ended one is 409."""
    temporal_call(lambda client: client.start_workflow(WORKFLOW_NAME, inp, **_start_options(workflow_id)))


def _check_id_free(*, tenant: str, workflow_id: str) -> Run | None:
    """The tenant's open run with this id (a repeated start joins it), None if the id is new."""
    existing = run_find(workflow_id=workflow_id)
    if existing is None:
        return None
    if existing.tenant != tenant:
        raise Conflict(f"workflowId '{workflow_id}' is already in use.")
    if existing.status in FINAL_STATUSES:
        raise Conflict(f"Run '{workflow_id}' already ended {existing.status}; start with a new workflowId.")
    return existing


def _start_options(workflow_id: str) -> dict[str, Any]:
    # USE_EXISTING: a repeated start joins the open run. REJECT_DUPLICATE: an ended run is never reborn
    # under the same id (its Run mirror row would no longer describe it).
    return {
        "id": workflow_id, "task_queue": settings.TEMPORAL_TASK_QUEUE,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    }


def _run_input(principal: Principal, data: dict[str, Any], workflow_id: str) -> RunInput:
    """Resolve the workflow up front (404 before anything starts) and pin the resolved version."""
    params = data.get("params") or {}
    issue_id = str((data.get("issueDetail") or {}).get("issueId") or "") or None
    incident_id = data.get("incidentId") or ""
    bucket_key = incident_id or customer_id_of(data.get("customer")) or workflow_id
    resolved = workflow_resolve_for_run(
        tenant=principal.tenant, workflow_key=params.get("workflowId"), version=_version(params.get("version")),
        issue_id=issue_id, bucket_key=bucket_key,
    )
    return RunInput(
        tenant=principal.tenant, workflow_key=resolved["id"], version=str(resolved["version"]), issue_id=issue_id,
        bucket_key=bucket_key, start={k: data[k] for k in START_FIELDS if data.get(k) is not None},
        mode=data.get("mode") or RunMode.SYNC, callback_url=data.get("callbackUrl") or "",
        client_id=principal.client_id, username=principal.username, incident_id=incident_id,
        pinned=run_pinned(resolved),  # the run needs no start_run: its row is written RUNNING here
    )


def _version(raw: Any) -> str | None:
    return None if raw is None or raw == "" else str(raw)


# --------------------------------------------------------------------------- the other calls


def run_resume(*, tenant: str, workflow_id: str, payload: dict[str, Any], actor: str = "") -> Reply:
    """3.2: hand the view response to a WAITING run and answer with its next stable state. `actor` (the API's
    user, or the operator of a human task) is recorded on the timeline and closes the screen's task."""
    refuse_sealed(payload)
    run = _open_run(tenant=tenant, workflow_id=workflow_id)
    link_current_span(run.trace_id, run.trace_span_id)  # the resume's own trace, linked to the run's (§14)
    return _stable_or_accepted(workflow_id, _update(workflow_id, UPDATE_RESUME, {**payload, "resumedBy": actor}))


def run_terminate(*, tenant: str, workflow_id: str, reason: str) -> Reply:
    """3.3: ask the workflow to end itself (it persists TERMINATED); when its worker does not answer in
    time, terminate it hard in Temporal and mark the mirror ourselves."""
    run = _open_run(tenant=tenant, workflow_id=workflow_id)
    reason = reason or "terminated by request"
    if run.status == RunStatus.QUEUED:  # never started in Temporal: only the mirror knows it
        if (run.start_request or {}).get("admit"):  # but a schedule's fire waits there for its admission
            with contextlib.suppress(Conflict):  # it ended meanwhile
                temporal_call(lambda client: client.get_workflow_handle(workflow_id).terminate(reason=reason))
        return Reply(run_response(run_mark_terminated(workflow_id=workflow_id, reason=reason)))
    try:
        wait = settings.DRIFT_TERMINATE_UPDATE_TIMEOUT_SECONDS
        ended = workflow_response(temporal_call(_update(workflow_id, UPDATE_TERMINATE, reason), wait=wait))
        # The run persisted only its own end; its SYNC children are terminated by Temporal as it closes.
        terminated_family_enqueue(workflow_id=workflow_id, reason=reason)
        return Reply(ended)
    except SyncTimeout:
        logger.warning("terminate update unanswered; terminating hard", extra={"workflow_id": workflow_id})
    temporal_call(lambda client: client.get_workflow_handle(workflow_id).terminate(reason=reason))
    return Reply(run_response(run_mark_terminated(workflow_id=workflow_id, reason=reason)))


def run_mark_terminated(*, workflow_id: str, reason: str) -> Run:
    """Mirror a hard termination (the workflow could not persist it) and notify ASYNC callers. Its descendants
    are reconciled against Temporal afterwards: SYNC children die with it, ASYNC ones run on."""
    runs_mark_terminated(workflow_ids=[workflow_id], reason=reason)
    terminated_family_enqueue(workflow_id=workflow_id, reason=reason)
    return Run.objects.get(workflow_id=workflow_id)


def run_execute_disconnected(*, tenant: str, workflow_id: str, node: str, parameters: dict | None) -> dict[str, Any]:
    """3.5: run a disconnected node against the run's context; the run does not move."""
    refuse_sealed(parameters, "$.parameters")
    _open_run(tenant=tenant, workflow_id=workflow_id)
    request = {"node": node, "parameters": parameters or {}}
    try:
        return temporal_call(_update(workflow_id, UPDATE_DISCONNECTED, request), wait=_sync_wait())
    except SyncTimeout:
        raise ServiceUnavailable(f"Node '{node}' did not answer within the sync timeout; retry later.") from None


def _awaited_events(run: Run) -> set[str]:
    """The event names the run's pinned workflow version can wait for."""
    definition = workflow_get(tenant=run.tenant, key=run.definition_key, version=run.definition_version, enrich=True)
    return {event for state in definition["states"].values() for event in events_of(state.get("nodeDefinition"))}


def run_send_event(*, tenant: str, workflow_id: str, event_name: str, payload: Any,
                   request_id: str | None = None) -> dict[str, Any]:
    """3.6: signal the event; the run consumes it at (or when it reaches) the matching ON_EVENT wait. With a
    `request_id` (a trigger's event id) a repeated delivery is dropped by Temporal: delivered once."""
    refuse_sealed(payload)
    run = _open_run(tenant=tenant, workflow_id=workflow_id)
    if run.definition_version is not None and event_name not in _awaited_events(run):
        # Refused here: an event no wait can consume would sit in the run's state for ever.
        raise NotFound(f"Workflow '{run.definition_key}' version {run.definition_version} has no ON_EVENT wait "
                       f"for '{event_name}'.")
    temporal_call(_signal_event(workflow_id, [event_name, payload], request_id))
    return {"workflowId": workflow_id, "event": event_name, "delivered": True}


def _signal_event(workflow_id: str, args: list[Any], request_id: str | None) -> Callable[[Client], Awaitable[None]]:
    if request_id is None:
        return lambda client: client.get_workflow_handle(workflow_id).signal(SIGNAL_EVENT, args=args)

    async def signal(client: Client) -> None:
        # The SDK picks a fresh request id per call; the service's own request keeps ours, which Temporal
        # remembers per run and answers a repeat of without a second signal.
        request = SignalWorkflowExecutionRequest(
            namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            signal_name=SIGNAL_EVENT, identity=client.identity, request_id=request_id,
        )
        request.input.payloads.extend(await client.data_converter.encode(args))
        await client.workflow_service.signal_workflow_execution(request, retry=True)

    return signal
