"""The child kind: a CHILD outcome runs another workflow as a child run, SYNC (its result lands at the node's
key; a terminate cancels it) or ASYNC (started and abandoned). Test runs never get here: CHILD must be mocked."""

from __future__ import annotations

import json
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from apps.runs.contract import CHILD_START_KEYS, WORKFLOW_NAME, RunInput
    from worker.engine import Engine, meta_since
    from worker.errors import NodeFailed, failure_message

FIELD = "child"
DECIDES_NEXT = False


async def run(engine: Engine, name: str, state: dict[str, Any], outcome: dict[str, Any], key: str,
              parameters: dict[str, Any]) -> None:
    engine.run.context[key] = await _child(engine, name, outcome["child"], parameters)


async def _start(engine: Engine, parameters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A CHILD run's start: the parent's CHILD_START_KEYS parts and the node's params. A child's input is
    recorded in the parent's history, so parts above `inlineContextBytes` go by reference, like a remote
    node's context: the child's start_run reads them from this run's context store (at this seq or later)."""
    parts = {key: engine.run.context.get(key) for key in CHILD_START_KEYS}
    params = {"params": dict(parameters or {})}
    limit = engine.run.limits.get("inlineContextBytes")
    if limit is None or len(json.dumps(parts, default=str)) <= limit:
        return {**parts, **params}, None
    seq = await engine.persist(stable=False, notify=False)
    source = {"workflowId": workflow.info().workflow_id, "seq": seq, "keys": list(CHILD_START_KEYS),
              "sealed": bool(engine.sensitive_paths())}
    return params, source


async def _child(engine: Engine, name: str, child: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    inp, limits = engine.run.inp, engine.run.limits
    if inp.depth + 1 > limits.get("maxDepth", 5):
        raise NodeFailed(f"node {name}: child nesting deeper than {limits.get('maxDepth')} levels")
    # Unguessable (workflow.uuid4 is replay-safe): no other tenant can take a child's id first.
    child_id = f"{workflow.info().workflow_id}.{name}.{workflow.uuid4().hex[:16]}"
    start, start_from = await _start(engine, parameters)
    child_input = RunInput(
        tenant=inp.tenant, workflow_key=child["workflowId"], version=str(child.get("version") or "ACTIVE"),
        start=start, start_from=start_from,
        mode="SYNC", client_id=inp.client_id, username=inp.username, incident_id=inp.incident_id,
        parent_workflow_id=workflow.info().workflow_id, depth=inp.depth + 1,
    )
    started_at = workflow.now()
    if child.get("mode") == "ASYNC":
        try:
            await workflow.start_child_workflow(
                WORKFLOW_NAME, child_input, id=child_id, parent_close_policy=workflow.ParentClosePolicy.ABANDON
            )
        except FailureError as error:
            raise NodeFailed(f"node {name}: child {child_id} did not start: {failure_message(error)}") from error
        engine.record(name, "CHILD", "STARTED", "", meta_since(started_at))
        return {"workflowId": child_id, "workflowStatus": "RUNNING"}
    try:
        call = workflow.execute_child_workflow(WORKFLOW_NAME, child_input, id=child_id)
        result = await engine.unless_terminated(call)
    except FailureError as error:
        raise NodeFailed(f"node {name}: child {child_id} failed: {failure_message(error)}") from error
    status, message = result["workflowStatus"], result.get("errorMessage") or ""
    engine.record(name, "CHILD", status, message, meta_since(started_at))
    if status != "COMPLETED":
        raise NodeFailed(f"node {name}: child {child_id} ended {status}: {message}")
    return {"workflowId": child_id, "workflowStatus": result["workflowStatus"], "output": result.get("output")}
