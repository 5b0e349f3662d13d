"""Activities: all I/O of a run. Synchronous, run on the worker's thread pool with Django set up."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import close_old_connections
from temporalio import activity
from temporalio.exceptions import ApplicationError

from apps.definitions.selectors import enum_store_for
from apps.nodes.base import NodeError
from apps.nodes.registry import execute_node as run_node
from apps.nodes.scope import ScriptScope
from apps.runs.services import run_begin, run_record_state
from drift.errors import NotFound
from worker.types import (
    ACTIVITY_EXECUTE_NODE,
    ACTIVITY_PERSIST_RUN,
    ACTIVITY_START_RUN,
    NodeRequest,
    PersistRequest,
    RunInput,
)

T = TypeVar("T")


def _with_db(fn: Callable[..., T]) -> Callable[..., T]:
    """Activity threads live long: drop connections the database closed or that outlived CONN_MAX_AGE."""

    @functools.wraps(fn)
    def wrapper(*args: Any) -> T:
        close_old_connections()
        return fn(*args)

    return wrapper


@activity.defn(name=ACTIVITY_START_RUN)
@_with_db
def start_run(inp: RunInput) -> dict[str, Any]:
    try:
        return run_begin(workflow_id=activity.info().workflow_id, inp=inp)
    except NotFound as error:
        raise ApplicationError(error.message, type="NotFound", non_retryable=True) from error


@activity.defn(name=ACTIVITY_EXECUTE_NODE)
@_with_db
def execute_node(request: NodeRequest) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    node_type = request.node.get("type", "")
    try:
        scope = ScriptScope(context=request.context, enum_store=enum_store_for(tenant=request.tenant))
        outcome = run_node(request.node, request.instance, scope)
    except NodeError as error:
        raise ApplicationError(str(error), type="NodeError", non_retryable=not error.retryable) from error
    finally:
        _node_latency(node_type, time.perf_counter() - started)
    outcome["_meta"] = {"startedAt": started_at.isoformat(), "durationMs": (time.perf_counter() - started) * 1000}
    return outcome


def _node_latency(node_type: str, seconds: float) -> None:
    histogram = activity.metric_meter().create_histogram_float(
        "drift_node_latency", "Node execution latency by node type", "s"
    )
    histogram.with_additional_attributes({"node_type": node_type}).record(seconds)


@activity.defn(name=ACTIVITY_PERSIST_RUN)
@_with_db
def persist_run(request: PersistRequest) -> None:
    run_record_state(request)


ACTIVITIES = [start_run, execute_node, persist_run]
