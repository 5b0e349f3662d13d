"""A state that runs a node: its type (apps/nodes) settles it in the workflow or computes its outcome in an
activity; what the outcome asks for next (a screen, a wait, a child run) is an outcome kind (worker/kinds/)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from apps.nodes.registry import kind_of
    from apps.nodes.retry import retry_policy_fields
    from apps.runs.contract import ACTIVITY_EXECUTE_NODE, NodeRequest
    from worker.engine import LOCAL_ACTIVITY_TIMEOUT, LOCAL_RETRY, Engine
    from worker.errors import NodeFailed, failure_message
    from worker.run_end import outcome_row


def remote_retry_policy(node: dict[str, Any]) -> RetryPolicy:
    # 4xx and other final errors arrive as non-retryable ApplicationErrors; the policy paces the rest.
    retry = retry_policy_fields(node)
    return RetryPolicy(
        maximum_attempts=int(retry["maxAttempts"]),
        initial_interval=timedelta(seconds=float(retry["initialIntervalSeconds"])),
        backoff_coefficient=float(retry["backoffCoefficient"]),
        maximum_interval=timedelta(seconds=float(retry["maximumIntervalSeconds"])),
    )


async def settled(engine: Engine, name: str, node: dict[str, Any]) -> dict[str, Any] | None:
    """The outcome the node's type computes inside the workflow (no activity), recorded; else None."""
    settle = kind_of(node).settle
    outcome = settle(node, name, engine.run.error) if settle else None
    if outcome is not None:
        # When the segment before it stored the run's end, the time its activity recorded this state at (it is in
        # history: the same on replay); else the workflow's time.
        ended = engine.run.stored_end
        record_outcome(engine, name, node["type"], outcome, {"startedAt": ended[2]} if ended is not None else {})
    return outcome


def runs_local(engine: Engine, node: dict[str, Any]) -> bool:
    """Whether the node's activity is a local one: every node that is not remote, and from engine level 3 a
    remote node whose timeout is within the run's `localNodeSeconds` (DRIFT_LOCAL_NODE_MAX_SECONDS). A local
    activity needs no task through Temporal's matching nor a second workflow task, and its input never reaches
    history (no context by reference); a crashed worker's call is redone by the next one once the workflow task
    times out, as an activity's retry would redo it. Test runs keep regular activities (their response mocks)."""
    if not kind_of(node).remote:
        return True
    run = engine.run
    return (run.engine_level >= 3 and run.harness is None
            and remote_timeout(node) <= run.limits.get("localNodeSeconds", 0))


def remote_timeout(node: dict[str, Any]) -> float:
    return float(node.get("timeoutSeconds") or 30)


def remote_start_to_close(node: dict[str, Any]) -> timedelta:
    """A remote node's activity, local or regular: its own timeout and a margin to report it."""
    return timedelta(seconds=remote_timeout(node) + 5)


async def node_activity(engine: Engine, name: str, state: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    node = state["nodeDefinition"]
    run = engine.run
    mock = test_mock(engine, name, node) if run.harness is not None else None
    if mock is not None and "status" not in mock:
        return mocked(engine, name, node, mock)
    request = NodeRequest(run.inp.tenant, workflow.info().workflow_id, node, state, context,
                          sensitive_paths=engine.sensitive_paths(), mock=mock, test=run.harness is not None,
                          ordinal=visit(engine, name, node))
    carried = None
    local = runs_local(engine, node)
    if not local:  # its input is recorded in history: a deferred state is stored on its own first
        await engine.flush()
        request = await by_reference(engine, request)
        call = workflow.execute_activity(
            ACTIVITY_EXECUTE_NODE, request, start_to_close_timeout=remote_start_to_close(node),
            # A mocked response would only repeat itself: test runs make one attempt.
            retry_policy=remote_retry_policy(node) if mock is None else RetryPolicy(maximum_attempts=1),
        )
    else:
        await engine.task_room()
        carried = engine.carry_pending()
        timeout, retry = local_limits(node)
        call = workflow.execute_local_activity(
            ACTIVITY_EXECUTE_NODE, dataclasses.replace(request, persist=carried) if carried else request,
            start_to_close_timeout=timeout, retry_policy=retry,
        )
    try:
        outcome = await engine.carried(carried, call)
    except FailureError as error:
        message = failure_message(error)
        engine.record(name, node["type"], "FAILURE", message)
        raise NodeFailed(f"node {name} failed: {message}") from error
    meta = outcome.pop("_meta", {})
    if local:
        engine.local_result(meta.get("bytes", 0), meta.get("durationMs", 0))
    record_outcome(engine, name, node["type"], outcome, meta)
    return outcome


def local_limits(node: dict[str, Any]) -> tuple[timedelta, RetryPolicy]:
    """A local activity's timeout and retries for `node` (and a segment it leads): a remote node's own."""
    if kind_of(node).remote:
        return remote_start_to_close(node), remote_retry_policy(node)
    return LOCAL_ACTIVITY_TIMEOUT, LOCAL_RETRY


def visit(engine: Engine, name: str, node: dict[str, Any]) -> int:
    """Count this execution of `name` (only where an idempotency key needs it: the carry stays small). The count
    is workflow state, so it is the same on replay and across the activity's retries."""
    if not node.get("idempotencyKey"):
        return 0
    visits = engine.run.visits
    visits[name] = visits.get(name, 0) + 1
    return visits[name]


async def by_reference(engine: Engine, request: NodeRequest) -> NodeRequest:
    """A remote node's input is recorded in the run's history (local activities' inputs are not): above
    `inlineContextBytes`, the context goes to the context store (a persist) and the request carries only
    the seq written and the node's parameters, so history grows by each node's own request, not by the
    whole context per node. Runs begun before the limit existed (no key) stay inline: their histories replay.
    Test runs store nothing, so they stay inline too."""
    limit = engine.run.limits.get("inlineContextBytes")
    if limit is None or engine.run.harness is not None or len(json.dumps(request.context, default=str)) <= limit:
        return request
    seq = await engine.persist(stable=False, notify=False)
    return dataclasses.replace(request, context=None, context_seq=seq,
                               parameters=(request.context or {}).get("nodeParameters"))


def record_outcome(engine: Engine, name: str, node_type: str, outcome: dict[str, Any],
                   meta: dict | None = None) -> None:
    engine.record(name, node_type, *outcome_row(outcome), meta)


def test_mock(engine: Engine, name: str, node: dict[str, Any]) -> dict[str, Any] | None:
    """Test runs: the instance's next mock outcome; a node whose type must be mocked fails the case without."""
    harness = engine.run.harness
    assert harness is not None
    mock = harness.next_mock(name)
    if mock is None and kind_of(node).must_mock:
        message = harness.unmocked(name, node["type"])
        engine.record(name, node["type"], "FAILURE", message)
        raise NodeFailed(message)
    return mock


def mocked(engine: Engine, name: str, node: dict[str, Any], mock: dict[str, Any]) -> dict[str, Any]:
    """A mock outcome `{"output"}` or `{"error"}` stands for the node's execution."""
    if "error" in mock:
        engine.record(name, node["type"], "FAILURE", f"mocked: {mock['error']}")
        raise NodeFailed(f"node {name} failed: {mock['error']}")
    engine.record(name, node["type"], "MOCKED")
    return kind_of(node).from_mock(mock.get("output"))
