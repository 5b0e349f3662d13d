"""The execute_segment activity: consecutive pure nodes in one local activity (worker/kinds/segment.py).

Each node runs exactly as the execute_node activity runs it (the same function: parameters, redaction, result
checks, metrics, timing), the pure ones over one sandbox child held from the first of them to the segment's end,
which keeps the context between the scripts (apps/nodes/sandbox.py `session`): the context crosses the pipe once
per segment, not once per script. A leading remote node (engine level 3) holds none during its call. From engine
level 4 it also stores the run's end when its nodes lead there (worker/run_end.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from apps.nodes.registry import kind_of
from apps.nodes.sandbox import session
from apps.runs.contract import ACTIVITY_EXECUTE_SEGMENT, NodeRequest, PersistRequest, SegmentRequest
from core.paths import resolve_parameters
from worker.activities import execute_node, persist_run, store_run_end
from worker.kinds.segment import advance
from worker.run_end import digest, end_request

logger = logging.getLogger(__name__)


@activity.defn(name=ACTIVITY_EXECUTE_SEGMENT)
def execute_segment(request: SegmentRequest) -> dict[str, Any]:
    """`{"steps": [{"node", "outcome"} | {"node", "error", "retryable"}]}`, in the order the nodes ran."""
    # The run's deferred RUNNING state (worker/engine.py, Engine.running) is stored before the nodes run; from engine
    # level 4 a pure segment that may store the run's end stores it with that end instead (its rows and closed
    # task, in one write: the RUNNING state would be overwritten milliseconds later), else after its nodes.
    carried = request.persist if request.end is not None and request.end.terminal else None
    if request.persist is not None and carried is None:
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
    stored = _store_end(request, steps, context, carried) if request.end is not None else None
    if carried is not None and stored is None:
        persist_run(carried)
    return {"steps": steps, **({"end": stored} if stored else {})}


def _store_end(request: SegmentRequest, steps: list[dict[str, Any]], context: dict[str, Any],
               carried: PersistRequest | None) -> dict | None:
    """Store the run's end the segment led to (engine level 4), with the `carried` RUNNING state's rows and closed
    task: `{"digest", "at"}` (the digest of the end the workflow builds; `at`: when a state the walker settles after
    the segment is recorded), or None when the workflow must store it itself: a state that cannot be stored fails
    the workflow's own persist as always, and any other error is retried there (the nodes above are not run
    again for it)."""
    now = datetime.now(UTC).isoformat()
    end = end_request(request, steps, context, now)
    if end is None:
        return None
    written = end if carried is None else dataclasses.replace(
        end, timeline=carried.timeline + end.timeline, task=end.task if end.task is not None else carried.task)
    try:
        store_run_end(written)
    except Exception:  # noqa: BLE001 - the workflow's own persist stores it, with its retries and its errors
        logger.warning("the run's end was not stored with its segment", exc_info=True,
                       extra={"workflow_id": end.workflow_id})
        return None
    return {"digest": digest(end), "at": now}
