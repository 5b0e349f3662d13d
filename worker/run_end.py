"""The run's end stored by the segment that leads to it (engine level 4).

A run whose last nodes are pure ended with two local activities: the segment (worker/kinds/segment.py), then the
final persist, each a workflow activation, a Core round trip and a history marker. From engine level 4 the
segment's activity stores the end itself when its nodes lead there: the workflow sends what that state change
needs besides the nodes' results (`RunEnd`, with a seq reserved for it), the activity builds the PersistRequest
the workflow is about to build, with the same functions (below: the timeline row, the answer, the task's close),
stores it and answers its digest. The workflow applies the segment as always; its final persist compares the
digest of its own request and stores nothing when they match. When they do not (it never should: logged), it
stores its own state under the next seq, so the stored state is always the workflow's.

What the activity follows after the segment's last node is the walker's own rule: a terminal outcome ends the
run; else the next state (`nextNode` of the outcome, or of the state unless `end`), none meaning COMPLETED; a
SUCCESS or fixed FAILURE state there is settled as the walker settles it (worker/kinds/node.py, `settled`). Any
other next state (a remote node, a screen, a state kind) means the run goes on: nothing is stored.
Pure module: no Django, no workflow calls, so the workflow and the activity run the same code.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from apps.nodes.registry import kind_of
from apps.runs.contract import FINAL_STATUSES, WAITING_STATUSES, PersistRequest, SegmentRequest
from core.paths import resolve_parameters
from core.redaction import redact, sensitive_values


def timeline_row(seq: int, name: str, node_type: str, outcome: str, error: str, meta: dict[str, Any],
                 now: str, lane: str) -> dict[str, Any]:
    """One node execution as the timeline stores it (`Engine.record`); `now` where the node has no start time."""
    return {
        "seq": seq, "instance": name, "type": node_type, "outcome": outcome, "error": error,
        "startedAt": meta.get("startedAt") or now, "durationMs": meta.get("durationMs", 0),
        **({"actor": meta["actor"]} if meta.get("actor") else {}),
        **({"hostWaitMs": meta["hostWaitMs"]} if meta.get("hostWaitMs") else {}),
        **({"lane": lane} if lane else {}),
    }


def outcome_row(outcome: dict[str, Any]) -> tuple[str, str]:
    """A node outcome's timeline outcome and error: a FAILURE node's end is its row's failure."""
    failed = outcome.get("terminal") == "FAILED"
    return ("FAILURE", outcome.get("error", "")) if failed else ("SUCCESS", "")


def masked(value: Any, context: dict[str, Any], paths: list[str]) -> Any:
    """`value` with the run's sensitive values masked: answers, the mirror and webhooks never carry them."""
    return redact(value, sensitive_values(context, paths)) if paths else value


def answer(*, workflow_id: str, incident_id: str | None, status: str, disposition: str | None, error: str | None,
           view: dict[str, Any] | None, current_node: str, key: str, version: int | None, seq: int,
           context: dict[str, Any], sensitive_paths: list[str]) -> dict[str, Any]:
    """The run's state as callers, the mirror and webhooks get it (`Engine.response`)."""
    return {
        "workflowId": workflow_id,
        "incidentId": incident_id,
        "workflowStatus": status,
        "disposition": disposition,
        "errorMessage": masked(error, context, sensitive_paths),
        "view": masked(view, context, sensitive_paths),
        "currentNode": current_node,
        "workflowDefinitionId": key,
        "workflowVersion": version,
        "seq": seq,
    }


def closed_task(task: dict[str, Any] | None, status: str) -> dict[str, Any] | None:
    """An open task of a run that ended while its screen waited is closed by the persist of that end."""
    if status in FINAL_STATUSES and task is not None and task["state"] == "OPEN":
        return {**task, "state": "TERMINATED", "closedBy": ""}
    return task


def digest(request: PersistRequest) -> str:
    """What the workflow compares with the activity's stored end: the whole request, canonical JSON."""
    body = json.dumps(vars(request), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def end_request(request: SegmentRequest, steps: list[dict[str, Any]], context: dict[str, Any],
                now: str) -> PersistRequest | None:
    """The run's end after the segment's `steps` (the activity's side), or None when the run goes on. `now`: when
    a state the walker settles is recorded (the activity answers it: the workflow records that state at it)."""
    end = request.end
    if end is None or not steps or "outcome" not in steps[-1]:
        return None  # a node failed: the workflow takes it from there
    rows = [_row(end.recorded + index + 1, step["node"], request.states[step["node"]], step["outcome"])
            for index, step in enumerate(steps)]
    name, outcome = steps[-1]["node"], steps[-1]["outcome"]
    state = request.states[name]
    error, view, disposition, task = end.error, end.view, end.disposition, end.task
    if outcome.get("terminal"):
        if not end.terminal:
            return None
        status = outcome["terminal"]
        error = outcome["error"] if outcome.get("error") is not None else error
    elif kind_of(state["nodeDefinition"]).closes_segment:
        waiting = _waiting(state, outcome, context, name)  # a screen's View: WAITING; a wait, a child: not here
        if waiting is None:
            return None
        status, view, disposition = waiting[0], waiting[1], waiting[2] or disposition
        task = None  # the screen kind's: a screen without an assignment opens none (human_tasks.open_task)
    else:
        if not end.terminal:
            return None
        following = outcome.get("nextNode") or (None if state.get("end") else state.get("nextNode"))
        status = "COMPLETED"
        if following is not None:  # the walker's next state: only a terminal one it settles itself ends the run
            settled_state = end.settled.get(following)
            if settled_state is None or len(steps) >= request.budget:  # past the budget: the node limit
                return None
            node = settled_state["nodeDefinition"]
            settle = kind_of(node).settle
            settled = settle(node, following, error) if settle is not None else None
            if settled is None:
                return None
            context["nodeParameters"] = resolve_parameters(settled_state.get("parameters"), context)
            outcome_name, row_error = outcome_row(settled)
            rows.append(timeline_row(end.recorded + len(rows) + 1, following, node["type"], outcome_name, row_error,
                                     {"startedAt": now}, now, ""))
            status, name = settled["terminal"], following
            error = settled["error"] if settled.get("error") is not None else error
    response = answer(workflow_id=request.workflow_id, incident_id=end.incident_id, status=status,
                      disposition=disposition, error=error, view=view, current_node=name, key=end.key,
                      version=end.version, seq=end.seq, context=context, sensitive_paths=request.sensitive_paths)
    return PersistRequest(
        workflow_id=request.workflow_id, seq=end.seq, status=status, current_node=name, context=context,
        response=response, timeline=end.timeline + rows, notify=True, tenant=request.tenant,
        task=closed_task(task, status), sensitive_paths=request.sensitive_paths,
    )


def _waiting(state: dict[str, Any], outcome: dict[str, Any], context: dict[str, Any],
             name: str) -> tuple[str, dict[str, Any] | None, str | None] | None:
    """A screen that starts waiting (worker/kinds/screen.py): its status, View and disposition, its output stored
    as the walker's `_settle` stores it; None for one that ends the run or opens a human task (its task is the
    screen kind's to open), and for the other closing nodes (a wait, a child run)."""
    requested = outcome.get("workflowStatus")
    if "view" not in outcome or outcome.get("assignment") or state.get("end") or requested in FINAL_STATUSES:
        return None
    if "output" in outcome:
        context[state.get("contextOverrideKey") or name] = outcome["output"]
    status = requested if requested in WAITING_STATUSES else "WAITING"
    return status, outcome.get("view"), outcome.get("disposition") or None


def _row(seq: int, name: str, state: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
    outcome_name, error = outcome_row(outcome)
    meta = outcome["_meta"]  # every node the activity ran has its start and duration
    return timeline_row(seq, name, state["nodeDefinition"]["type"], outcome_name, error, meta, meta["startedAt"], "")
