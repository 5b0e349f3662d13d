"""Reads of runs for the runtime API: tenant-scoped lookups of the Run mirror and its public shape."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet

from apps.definitions import map_state
from apps.definitions.selectors import workflow_sensitive_paths
from apps.runs.context_store import get_context_store
from apps.runs.contract import RunInput, map_item_run_id
from apps.runs.models import Run, RunParam
from apps.runs.search import RunFilter, cursor_encode
from apps.secrets.sealing import SealedRun, unseal
from apps.secrets.services import sealed_for_reader
from core.problems import Problem
from drift.db import row_of
from drift.errors import InvalidInput, NotFound

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


def original_workflow_id(workflow_id: str) -> str:
    """The run a redrive chain began with (`redrive_of` followed back); the run itself when it is no redrive.
    Bounded: a chain is never a cycle, but a corrupt row must not hang an activity."""
    current = workflow_id
    for _ in range(100):
        parent = Run.objects.filter(workflow_id=current).values_list("redrive_of", flat=True).first()
        if not parent:
            return current
        current = parent
    return current


def run_get(*, tenant: str, workflow_id: str) -> Run:
    """The tenant's run; another tenant's run is as unknown as a missing one."""
    run = row_of(Run, workflow_id=workflow_id, tenant=tenant)  # every resume, terminate, event and detail asks
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


def run_detail(run: Run, *, include_context: bool = False, reveal: bool = False, actor: str = "",
               include_redrives: bool = False) -> dict[str, Any]:
    """GET /v3/workflow/{id}: the mirror's WorkflowResponse plus mode, lineage and timestamps. Sensitive values
    in `_global` are `***` unless `reveal` (audited under `actor`)."""
    detail = run_response(run) | {
        "mode": run.mode,
        "issueId": run.issue_id or None,
        "parentWorkflowId": run.parent_workflow_id or None,
        "customerId": run.customer_id or None,
        "redriveOf": run.redrive_of or None,
        "traceId": run.trace_id or None,
        "createdAt": run.created_at,
        "updatedAt": run.updated_at,
        "finishedAt": run.finished_at,
    }
    if include_redrives:
        detail["redrivenBy"] = list(Run.objects.filter(redrive_of=run.workflow_id, tenant=run.tenant)
                                    .order_by("id").values_list("workflow_id", flat=True))
    if include_context:
        stored = get_context_store().load(run.workflow_id)
        context = stored.context if stored is not None else {}
        detail["_global"] = sealed_for_reader(context, reveal=reveal, actor=actor, run=run_sealing(run), channel="api")
    return detail


class ContextNotStored(LookupError):
    """The context store does not (yet) hold the write a by-reference node names."""


def run_context_for_node(*, workflow_id: str, min_seq: int, sealed: bool) -> dict[str, Any]:
    """The run's stored context in clear, for a node whose request carries it by reference: the write at
    `min_seq` or a newer one (a concurrent PARALLEL branch may have stored one since; both hold what the
    node needs). A run with sensitive paths (`sealed`) has them sealed at rest: the node sees them in clear."""
    stored = get_context_store().load(workflow_id)
    if stored is None or stored.seq < min_seq:
        found = "nothing" if stored is None else f"seq {stored.seq}"
        raise ContextNotStored(f"the context store holds {found} for run {workflow_id}, not seq {min_seq}")
    if not sealed:
        return stored.context
    run = Run.objects.only("tenant", "workflow_id", "created_at").get(workflow_id=workflow_id)
    return unseal(stored.context, run_sealing(run))


def run_sealing(run: Run) -> SealedRun:
    """Whose sealed values a run's stored documents hold (its envelopes open only for it)."""
    return SealedRun(run.tenant, run.workflow_id, run.created_at)


def runs_matching(run_filter: RunFilter, *, tenant: str | None, before: int | None = None) -> QuerySet[Run]:
    """Runs matching a search, newest first, with ids below `before` (a cursor). `tenant=None` is the admin's
    all-tenant search. Pages are ordered by id: every search index yields that order without a sort. With
    params, the first one is a join walked down its (tenant, name, value, run) index; others are subqueries."""
    runs = Run.objects.all() if tenant is None else Run.objects.filter(tenant=tenant)
    runs = runs.filter(**run_filter.fields)
    scope = {"tenant": tenant} if tenant is not None else {}
    params = list(run_filter.params.items())
    order = "-id"
    if params:
        (name, value), params = params[0], params[1:]
        joined = {f"param_index__{key}": val for key, val in {**scope, "name": name, "value": value}.items()}
        if before is not None:
            joined["param_index__run__lt"] = before
        runs, order = runs.filter(**joined), "-param_index__run_id"
    for name, value in params:
        runs = runs.filter(pk__in=RunParam.objects.filter(**scope, name=name, value=value).values("run_id"))
    if before is not None:
        runs = runs.filter(pk__lt=before)
    return runs.order_by(order)


def run_search(*, tenant: str, run_filter: RunFilter, after: int | None, limit: int) -> dict[str, Any]:
    """GET /v3/workflow: one page of the tenant's matching runs and the cursor of the next page."""
    runs = runs_matching(run_filter, tenant=tenant, before=after)
    page = list(runs[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"items": [run_detail(run) for run in page], "nextCursor": cursor_encode(page[-1].pk) if more else None}


def run_children_by_status(run: Run) -> dict[str, int]:
    """How many child runs (CHILD nodes, MAP items) the run started, by status."""
    rows = (Run.objects.filter(parent_workflow_id=run.workflow_id).values("status")
            .annotate(count=Count("pk")).order_by("status"))
    return {row["status"]: row["count"] for row in rows}


# MAP item runs that end badly: the run page lists them along with the first items.
UNSUCCESSFUL = ("FAILED", "TERMINATED")
MAX_MAP_EXECUTIONS = 20  # a loop may run a MAP state again: the run page shows this many executions


@dataclass
class MapItems:
    """One execution of a MAP state, as its run page shows it: counts of its item runs by status and a
    bounded list (the first items by index plus the unsuccessful ones), never all 10,000."""

    state: str
    prefix: str
    counts: dict[str, int]
    rows: list[tuple[int, Run]] = field(default_factory=list)  # (index, item run), by index

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def run_map_items(run: Run, states: list[str], *, first: int = 50, unsuccessful: int = 50) -> list[MapItems]:
    """The executions of the run's MAP `states` with their item runs (found by their ids, see map_state)."""
    children = Run.objects.filter(parent_workflow_id=run.workflow_id)
    executions: list[MapItems] = []
    for state in states:
        seen: list[str] = []
        while len(executions) < MAX_MAP_EXECUTIONS:
            query = children.filter(workflow_id__startswith=f"{run.workflow_id}.{state}.")
            for prefix in seen:
                query = query.exclude(workflow_id__startswith=f"{prefix}.")
            item = next((parsed for parsed in (map_state.parse_item_run_id(run.workflow_id, wid) for wid in
                                               query.order_by("pk").values_list("workflow_id", flat=True)[:1])
                         if parsed), None)
            if item is None:
                break
            seen.append(item[0])
            if item[1] == state:  # not the items of a state named "<state>.<more>"
                executions.append(_map_execution(children, item[0], state, first, unsuccessful))
    return executions


def _map_execution(children: QuerySet, prefix: str, state: str, first: int, unsuccessful: int) -> MapItems:
    items = children.filter(workflow_id__startswith=f"{prefix}.")
    counts = {row["status"]: row["count"] for row in
              items.values("status").annotate(count=Count("pk")).order_by("status")}
    columns = ("pk", "workflow_id", "status", "error_message", "created_at", "finished_at")
    leading = items.filter(workflow_id__in=[map_item_run_id(prefix, index) for index in range(first)])
    failing = items.filter(status__in=UNSUCCESSFUL).order_by("pk")[:unsuccessful]
    shown = {child.pk: child for query in (leading, failing) for child in query.only(*columns)}
    rows = sorted(((int(child.workflow_id.rsplit(".", 1)[1]), child) for child in shown.values()),
                  key=lambda row: row[0])
    return MapItems(state=state, prefix=prefix, counts=counts, rows=rows)


_RUN_INPUT_FIELDS = {f.name for f in dataclasses.fields(RunInput)} - {"carry"}


def rerun_input(run: Run, *, same_run: bool = False) -> RunInput:
    """A rerun, a redrive (apps.operations) and a released queued start (apps/runs/admission.py) start from this:
    the RunInput `run` started with (kept in `run.start_request`), ready for a new run. It carries the
    `sensitivePaths` `run` sealed by, so the new run seals them too, whatever its version lists. The definition
    the API pinned stays only for `same_run` (a queued start, started later): a new run resolves its own."""
    start_request = unseal(run.start_request or {}, run_sealing(run))  # sensitive values are sealed at rest
    stored = {key: value for key, value in start_request.items() if key in _RUN_INPUT_FIELDS}
    if not stored.get("tenant"):
        raise InvalidInput(f"Run '{run.workflow_id}' kept no start request; it cannot be rerun.",
                           [Problem("$.start_request", "is empty")])
    paths = list(stored.get("sensitive_paths") or [])
    paths += [path for path in workflow_sensitive_paths(tenant=run.tenant, key=run.definition_key,
                                                        version=run.definition_version) if path not in paths]
    if not same_run and stored.get("pinned"):
        # The key the old run was pinned to, so admission (and start_run) find the workflow's current version.
        stored = {**stored, "pinned": None, "workflow_key": stored.get("workflow_key") or stored["pinned"]["key"]}
    if not same_run:  # a schedule's fire is admitted by its start_run; a new run is admitted by its caller
        stored = {**stored, "admit": False}
    return RunInput(**{**stored, "sensitive_paths": paths})
