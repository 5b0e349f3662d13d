"""The execute_segment activity: consecutive pure nodes in one local activity (worker/kinds/segment.py).

Each node runs exactly as the execute_node activity runs it (the same function: parameters, redaction, result
checks, metrics, timing), the pure ones over one sandbox child held from the first of them to the segment's end,
which keeps the context between the scripts (apps/nodes/sandbox.py `session`): the context crosses the pipe once
per segment, not once per script. A leading remote node (engine level 3) holds none during its call.
"""

from __future__ import annotations

import contextlib
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from apps.nodes.registry import kind_of
from apps.nodes.sandbox import session
from apps.runs.contract import ACTIVITY_EXECUTE_SEGMENT, NodeRequest, SegmentRequest
from core.paths import resolve_parameters
from worker.activities import execute_node, persist_run
from worker.kinds.segment import advance


@activity.defn(name=ACTIVITY_EXECUTE_SEGMENT)
def execute_segment(request: SegmentRequest) -> dict[str, Any]:
    """`{"steps": [{"node", "outcome"} | {"node", "error", "retryable"}]}`, in the order the nodes ran."""
    if request.persist is not None:  # the run's deferred RUNNING state (worker/engine.py, Engine.running)
        persist_run(request.persist)
    context, name = request.context, request.start
    steps: list[dict[str, Any]] = []
    with contextlib.ExitStack() as sandbox:
        held = False
        while name in request.states and len(steps) < request.budget:
            state = request.states[name]
            context["nodeParameters"] = resolve_parameters(state.get("parameters"), context)
            remote = kind_of(state["nodeDefinition"]).remote
            if steps and remote:
                break  # a remote node only leads a segment (its retries are the activity's): it runs on its own
            if not remote and not held:
                # One sandbox child for the pure nodes, held from the first of them: a leading remote node's
                # scripts check one out per script, as alone, so its I/O never holds the tenant's share of them.
                sandbox.enter_context(session())
                held = True
            node_request = NodeRequest(request.tenant, request.workflow_id, state["nodeDefinition"], state, context,
                                       sensitive_paths=request.sensitive_paths, ordinal=0 if steps else request.ordinal)
            try:
                outcome = execute_node(node_request)
            except ApplicationError as error:  # the node's own error: the workflow fails (or retries) that node
                if remote and not error.non_retryable:
                    raise  # the leading remote node's: the activity retries with that node's policy
                steps.append({"node": name, "error": error.message, "retryable": not error.non_retryable})
                break
            except Exception:
                if not steps:
                    raise  # the first node's: the activity's retries are that node's
                break  # a later node's: it runs on its own next, with its own retries
            steps.append({"node": name, "outcome": outcome})
            name = advance(name, state, outcome, context)
    return {"steps": steps}
