"""Activities: all I/O of a run. Synchronous, run on the worker's thread pool with Django set up."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import DataError, IntegrityError, close_old_connections
from temporalio import activity
from temporalio.exceptions import ApplicationError

from apps.definitions.selectors import enum_store_for
from apps.nodes.base import NodeError
from apps.nodes.invocation import Invocation, invoked
from apps.nodes.registry import execute_node as run_node
from apps.nodes.registry import mocked_call
from apps.nodes.scope import ScriptScope
from apps.runs.admission import admission_begin
from apps.runs.context_store import UnstorableContext
from apps.runs.contract import (
    ACTIVITY_EXECUTE_NODE,
    ACTIVITY_PERSIST_RUN,
    ACTIVITY_START_RUN,
    UNPERSISTABLE,
    NodeRequest,
    PersistRequest,
    RunInput,
)
from apps.runs.selectors import ContextNotStored, original_workflow_id, run_context_for_node
from apps.runs.services import UnpersistableState, run_begin, run_record_state
from core.json_safety import json_size, printable
from core.redaction import redact, redacting, sensitive_values
from drift.db import one_writer
from drift.errors import DriftError
from drift.tracing import node_span

T = TypeVar("T")


def _with_db(fn: Callable[..., T]) -> Callable[..., T]:
    """Activity threads live long: drop connections the database closed or that outlived CONN_MAX_AGE."""

    @functools.wraps(fn)
    def wrapper(*args: Any) -> T:
        close_old_connections()
        return fn(*args)

    return wrapper


# no_thread_cancel_exception: a timed-out attempt must not get CancelledError raised into its thread, which can
# land between SQLite's BEGIN IMMEDIATE and Django's bookkeeping and leave the connection holding the write lock
# (every writer then waits forever: seen in 10,000-item MAP runs under load). The attempt finishes; retries are
# idempotent.
@activity.defn(name=ACTIVITY_START_RUN, no_thread_cancel_exception=True)
@_with_db
@one_writer
def start_run(inp: RunInput) -> dict[str, Any]:
    try:
        if inp.admit and not admission_begin(workflow_id=activity.info().workflow_id, inp=inp):
            return {"queued": True}  # over its workflow's limits: the workflow waits for the release
        return run_begin(workflow_id=activity.info().workflow_id, inp=inp)
    except DriftError as error:  # unknown workflow, another tenant's id: final, retrying changes nothing
        raise ApplicationError(error.message, type=error.code, non_retryable=True) from error


@activity.defn(name=ACTIVITY_EXECUTE_NODE)
@_with_db
def execute_node(request: NodeRequest) -> dict[str, Any]:
    if request.persist is not None:  # the run's deferred RUNNING state (worker/engine.py, Engine.running)
        persist_run(request.persist)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    node_type = request.node.get("type", "")
    context = _node_context(request)
    sensitive = sensitive_values(context, request.sensitive_paths)
    # Log lines of this node (ours, urllib3's, the SDK's) carry neither its sensitive values nor its secrets.
    with redacting(sensitive), node_span(_instance_name(request), node_type), invoked(_invocation(request)) as this:
        try:
            # Shared (read only: scripts get it in the sandbox child): one object for all the nodes of a segment,
            # so its sandbox session sends it once, not once per script (sessions compare by identity).
            scope = ScriptScope(context=context, enum_store=enum_store_for(tenant=request.tenant, shared=True),
                                tenant=request.tenant)
            if request.mock is not None:  # a test run's response mock, answered by the type's call (test_mode.py)
                outcome = mocked_call(request.node)(request.node, scope, mock=request.mock)
            else:
                outcome = run_node(request.node, request.instance, scope)
            size = _check_result(context, outcome)
        except NodeError as error:
            # Masked, printable, and without the cause (which holds the original text): a masked message must not
            # travel as a cause, and Temporal cannot encode a lone surrogate (a script may raise with one).
            message = printable(redact(error.message, sensitive))
            raise ApplicationError(message, type="NodeError", non_retryable=not error.retryable) from None
        finally:
            if not request.test:  # test runs are not production: not counted
                _node_latency(node_type, time.perf_counter() - started)
    outcome["_meta"] = {"startedAt": started_at.isoformat(), "durationMs": (time.perf_counter() - started) * 1000,
                        "bytes": size,  # the workflow counts what its workflow task records (Engine.local_result)
                        **({"hostWaitMs": this.host_wait_ms} if this.host_wait_ms else {})}
    return outcome


def _invocation(request: NodeRequest) -> Invocation:
    """This execution, as the node's type sees it; the redrive chain is looked up only for an idempotency key."""
    original = original_workflow_id(request.workflow_id) if request.ordinal else ""
    return Invocation(original_workflow_id=original, instance=_instance_name(request), ordinal=request.ordinal)


def _instance_name(request: NodeRequest) -> str:
    """The state's name (the DSL may leave `instanceName` out: then its node's id)."""
    instance = request.instance
    return str(instance.get("instanceName") or instance.get("resourceId") or request.node.get("id", ""))


def _node_context(request: NodeRequest) -> dict[str, Any]:
    """The context the node runs on: sent inline, or read from the context store (a large context, by reference)."""
    if request.context is not None:
        return request.context
    try:
        context = run_context_for_node(workflow_id=request.workflow_id, min_seq=request.context_seq,
                                       sealed=bool(request.sensitive_paths))
    except ContextNotStored as error:  # cannot happen after the workflow's persist; a retry reads again
        raise ApplicationError(str(error), type="ContextNotStored") from error
    return {**context, "nodeParameters": request.parameters}


def _check_result(context: dict[str, Any], outcome: dict[str, Any]) -> int:
    """Fail the node, not the workflow task, when its result cannot enter the run: NaN/Infinity, a lone surrogate,
    absurd nesting (the context would never persist, or never be answered), or a size beyond a Temporal payload
    (its workflow task would be retried forever). One strict serialization measures and checks the result; its
    size in bytes is returned."""
    produced, problem = json_size(outcome, "$", max_depth=settings.DRIFT_MAX_JSON_DEPTH)
    if problem is not None:
        raise NodeError(f"node result {problem.path} {problem.problem}")
    if produced > settings.DRIFT_MAX_NODE_OUTPUT_BYTES:
        raise NodeError(f"node output of {produced} bytes exceeds DRIFT_MAX_NODE_OUTPUT_BYTES "
                        f"({settings.DRIFT_MAX_NODE_OUTPUT_BYTES})")
    total = produced + len(json.dumps(context, ensure_ascii=False, default=str).encode())
    if total > settings.DRIFT_MAX_CONTEXT_BYTES:
        raise NodeError(f"the run context would grow to {total} bytes, over DRIFT_MAX_CONTEXT_BYTES "
                        f"({settings.DRIFT_MAX_CONTEXT_BYTES})")
    return produced


def _node_latency(node_type: str, seconds: float) -> None:
    histogram = activity.metric_meter().create_histogram_float(
        "drift_node_latency", "Node execution latency by node type", "s"
    )
    histogram.with_additional_attributes({"node_type": node_type}).record(seconds)


@activity.defn(name=ACTIVITY_PERSIST_RUN, no_thread_cancel_exception=True)
@_with_db
@one_writer
def persist_run(request: PersistRequest) -> None:
    try:
        run_record_state(request)
    except (UnpersistableState, UnstorableContext, IntegrityError, DataError, UnicodeEncodeError) as error:
        # Retrying cannot help (the data itself is refused): the workflow fails the run with this message.
        raise ApplicationError(str(error), type=UNPERSISTABLE, non_retryable=True) from error


@_with_db
@one_writer
def store_run_end(request: PersistRequest) -> None:
    """The run's end as a segment's activity stores it (worker/run_end.py): nothing once a newer state is stored
    (the workflow gave the segment up for a terminate, and stored that end first)."""
    run_record_state(request, newest_only=True)


ACTIVITIES = [start_run, execute_node, persist_run]
