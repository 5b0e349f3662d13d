"""Reads of runs for the runtime API: tenant-scoped lookups of the Run mirror and its public shape."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from apps.runs.context_store import get_context_store
from apps.runs.models import Run
from apps.secrets.services import sealed_for_reader
from drift.errors import NotFound

# The WorkflowResponse fields a client sees (the workflow's own dict carries internal ones like `seq`).
RESPONSE_FIELDS = (
    "incidentId", "workflowId", "workflowStatus", "disposition", "errorMessage", "view", "currentNode",
    "workflowDefinitionId", "workflowVersion",
)


# A RESUMED timeline entry records who answered a screen; it is not a step of the path taken.
NOT_A_STEP = "RESUMED"


def run_steps(run: Run):
    """The run's executed nodes in order (the path taken), without the resume records of its screens."""
    return run.node_executions.exclude(outcome=NOT_A_STEP).order_by("seq")


def run_find(*, workflow_id: str) -> Run | None:
    """Any tenant's run with this id (the start checks an id is not taken by another tenant)."""
    return Run.objects.filter(workflow_id=workflow_id).first()


def run_get(*, tenant: str, workflow_id: str) -> Run:
    """The tenant's run; another tenant's run is as unknown as a missing one."""
    run = Run.objects.filter(workflow_id=workflow_id, tenant=tenant).first()
    if run is None:
        raise NotFound(f"Unknown run '{workflow_id}'.")
    return run


def workflow_response(response: dict[str, Any]) -> dict[str, Any]:
    """The public WorkflowResponse from the workflow's state dict."""
    return {name: response.get(name) for name in RESPONSE_FIELDS}


def run_response(run: Run) -> dict[str, Any]:
    """The WorkflowResponse as the Run mirror last recorded it."""
    return {
        "incidentId": run.incident_id or None,
        "workflowId": run.workflow_id,
        "workflowStatus": run.status,
        "disposition": run.disposition or None,
        "errorMessage": run.error_message or None,
        "view": run.view,
        "currentNode": run.current_node or None,
        "workflowDefinitionId": run.definition_key or None,
        "workflowVersion": run.definition_version,
    }


def run_detail(run: Run, *, include_context: bool = False, reveal: bool = False, actor: str = "") -> dict[str, Any]:
    """GET /v3/workflow/{id}: the mirror's WorkflowResponse plus mode, lineage and timestamps. Sensitive values
    in `_global` are `***` unless `reveal` (audited under `actor`)."""
    detail = run_response(run) | {
        "mode": run.mode,
        "issueId": run.issue_id or None,
        "parentWorkflowId": run.parent_workflow_id or None,
        "createdAt": run.created_at,
        "updatedAt": run.updated_at,
        "finishedAt": run.finished_at,
    }
    if include_context:
        stored = get_context_store().load(run.workflow_id)
        context = stored.context if stored is not None else {}
        detail["_global"] = sealed_for_reader(context, reveal=reveal, actor=actor, tenant=run.tenant,
                                              workflow_id=run.workflow_id, channel="api")
    return detail


def run_children_by_status(run: Run) -> dict[str, int]:
    """How many child runs (CHILD nodes, MAP items) the run started, by status."""
    rows = (Run.objects.filter(parent_workflow_id=run.workflow_id).values("status")
            .annotate(count=Count("pk")).order_by("status"))
    return {row["status"]: row["count"] for row in rows}
