"""Redrive (spec §10): a FAILED or TERMINATED run continues as a new run, from the node that failed (or a
chosen one), with the old context deep-merged with a patch, on the same, the ACTIVE or a numbered version.

The new run's Run row names the old one (`redrive_of`); the old one finds its redrives by that column.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from django.db import transaction

from apps.definitions.models import AuditAction
from apps.definitions.selectors import workflow_resolve_for_run, workflow_sensitive_paths
from apps.definitions.services import audit
from apps.operations.rerun import register_admitted, start_idempotent
from apps.runs.context_store import get_context_store
from apps.runs.models import REDRIVE_ID_PREFIX, Run, RunStatus
from apps.runs.selectors import rerun_input, run_sealing
from apps.secrets.sealing import refuse_sealed, seal, unseal
from core.redaction import sensitive_values
from drift.errors import Conflict, InvalidInput, Problem

REDRIVABLE = frozenset({RunStatus.FAILED, RunStatus.TERMINATED})
# `_global` keys the engine owns (the run's identity, who acts, the current node's inputs): a patch may not set
# them, or a redrive could act as another client or user of the tenant (issue 19).
ENGINE_KEYS = ("workflowId", "incidentId", "threadContext", "parentWorkflowId", "nodeParameters", "errorMessage")
SAME, ACTIVE = "SAME", "ACTIVE"
AUDIT_KIND = "RUN"


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`patch` over `base`: objects merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in patch.items():
        old = merged.get(key)
        merged[key] = deep_merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return merged


def context_patch_check(patch: dict[str, Any] | None, path: str = "$.contextPatch") -> None:
    """400, naming the key, for a patch that touches an engine-owned key of `_global`."""
    touched = sorted(set(patch or {}) & set(ENGINE_KEYS))
    if touched:
        raise InvalidInput(f"contextPatch may not change {', '.join(touched)}: the engine sets them.",
                           [Problem(f"{path}.{key}", "is set by the engine") for key in touched])


def failed_node(run: Run) -> str:
    """Where the run stopped: its last failed node (not a FAILURE end node), else its current node."""
    failure = (run.node_executions.filter(outcome__in=["FAILURE", "TIMEOUT"]).exclude(node_type="FAILURE")
               .order_by("-seq").first())
    return failure.instance_name if failure is not None else run.current_node


def _version_spec(run: Run, version: str | int | None) -> str:
    if version in (None, SAME):
        if run.definition_version is None:
            raise InvalidInput("The run never resolved a version; redrive with version ACTIVE or a number.",
                               [Problem("$.version", "the run has no pinned version")])
        return str(run.definition_version)
    return str(version)


def run_redrive(*, run: Run, actor: str, from_node: str | None = None, context_patch: dict[str, Any] | None = None,
                version: str | int | None = None, workflow_id: str | None = None) -> Run:
    """Register and start (asynchronously) the redriving run; returns its Run row. `workflow_id` lets a bulk
    job make the start idempotent (a repeated redrive of the item joins the run it already started)."""
    refuse_sealed(context_patch, "$.contextPatch")
    context_patch_check(context_patch)
    if run.status not in REDRIVABLE:
        raise Conflict(f"Run '{run.workflow_id}' is {run.status}; only FAILED or TERMINATED runs are redriven.")
    resolved = workflow_resolve_for_run(tenant=run.tenant, workflow_key=run.definition_key,
                                        version=_version_spec(run, version))
    node = from_node or failed_node(run)
    if node not in resolved["definition"]["states"]:
        raise InvalidInput(f"Node '{node}' is not in {resolved['id']} version {resolved['version']}.",
                           [Problem("$.fromNode", "is not a state of the workflow version")])
    stored = get_context_store().load(run.workflow_id)
    # Sensitive values are sealed at rest (spec §12): the new run starts from them in clear, sealed again on persist.
    context = deep_merge(unseal(stored.context, run_sealing(run)) if stored is not None else {}, context_patch or {})
    inp = dataclasses.replace(
        rerun_input(run), workflow_key=resolved["id"], version=str(resolved["version"]), issue_id=None,
        start_node=node, redrive_context=context, redrive_of=run.workflow_id, carry=None,
    )
    new_id = workflow_id or f"{REDRIVE_ID_PREFIX}{uuid.uuid4().hex}"
    with transaction.atomic():
        repeated = Run.objects.filter(workflow_id=new_id).exists()
        new_run = register_admitted(inp, new_id)
        if new_run.redrive_of != run.workflow_id or new_run.tenant != run.tenant:
            raise Conflict(f"workflowId '{new_id}' is already in use.")
        if not repeated:
            # The patch's sensitive values (either version's sensitivePaths) are sealed in the audit too.
            paths = [*resolved["definition"].get("sensitivePaths", ()), *workflow_sensitive_paths(
                tenant=run.tenant, key=run.definition_key, version=run.definition_version)]
            patch = seal(context_patch or {}, sensitive_values(context, paths), run_sealing(run))
            audit(tenant=run.tenant, kind=AUDIT_KIND, key=run.workflow_id, action=AuditAction.REDRIVE, actor=actor,
                  version=resolved["version"], details={"redrive": new_id, "fromNode": node, "contextPatch": patch})
    start_idempotent(inp, new_id, new_run, repeatable=workflow_id is not None)
    return new_run
