"""Turn a finished production run into a test case (spec §9): its start body, what its calls returned as
mocks, its screens' answers as resumes, its events, and the status and path it took as the expectation.

Each node's type says what one of its executions gives the case (`NodeType.case_part`, apps/nodes/base.py): this
module names no type. What a run keeps is each node's *output* (the context store), not the raw HTTP response, so
the types a case must mock (HTTP, CHILD) are mocked with `{"output": ...}` (their transformer does not run again
in the test) and a node run several times is mocked with its last output each time; a failed call is mocked with
its error. A screen gives its answer as a resume, an event wait the event it consumed.

Sensitive values (sealed at rest) are copied as `***`: a test case is readable by whoever edits definitions,
so it never holds them, in clear or as envelopes (which would open in no other run anyway).
"""

from __future__ import annotations

from typing import Any

from apps.definitions.models import Kind
from apps.definitions.selectors import definition_get, workflow_inline_nodes
from apps.nodes.base import Execution
from apps.nodes.registry import type_of
from apps.runs.context_store import get_context_store
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import Run
from apps.runs.selectors import run_steps
from apps.secrets.sealing import mask_sealed
from drift.errors import Conflict


def case_from_run(run: Run) -> dict[str, Any]:
    if run.status not in FINAL_STATUSES:
        raise Conflict(f"Run {run.workflow_id} is {run.status}: only a finished run becomes a test case.")
    stored = get_context_store().load(run.workflow_id)
    context = stored.context if stored else {}
    body = definition_get(tenant=run.tenant, kind=Kind.WORKFLOW, key=run.definition_key,
                          version=run.definition_version)
    states = workflow_inline_nodes(tenant=run.tenant, body=body, pin=False, strict=False)["states"]
    executions = list(run_steps(run).values_list("instance_name", "node_type", "outcome",
                                                                      "error"))
    mocks: dict[str, list[dict[str, Any]]] = {}
    resumes: list[dict[str, Any]] = []
    events: dict[str, Any] = {}
    for instance, _, outcome, error in executions:
        state = states.get(instance) or {}
        node_type = type_of(state.get("nodeDefinition"))  # None: a PARALLEL or MAP state, or an unknown type
        if node_type is None:
            continue
        part = node_type.case_part(Execution(node=state["nodeDefinition"], key=state.get("contextOverrideKey")
                                             or instance, context=context, failed=outcome == "FAILURE",
                                             error=error))
        if part.mock is not None:
            mocks.setdefault(instance, []).append(part.mock)
        if part.resume is not None:
            resumes.append(part.resume)
        events.update(part.events)
    case = {"name": f"as run {run.workflow_id}", "start": (run.start_request or {}).get("start") or {},
            "mocks": mocks, "resumes": resumes, "events": events,
            "expect": {"status": run.status, "path": [execution[0] for execution in executions]}}
    return mask_sealed({key: value for key, value in case.items() if value or key in ("name", "start", "expect")})
