"""Writes of the runs app: the Run mirror, its node timeline and the context store, per state change."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.constants import OnConflict
from django.utils import timezone

from apps.definitions.selectors import workflow_resolve_for_run, workflow_sensitive_paths
from apps.runs import hooks
from apps.runs.admission import admission_on_run_end
from apps.runs.context_store import get_context_store
from apps.runs.contract import FINAL_STATUSES, PersistRequest, RunInput
from apps.runs.models import NodeExecution, Run, RunParam, RunStatus
from apps.runs.search import param_index_values
from apps.runs.selectors import run_context_for_node
from apps.runs.webhooks.delivery import webhook_notify
from apps.secrets.sealing import SealedRun, seal
from core.json_safety import json_problem, scrubbed
from core.redaction import redact, sensitive_values
from drift.db import row_of, rows_update
from drift.errors import Conflict, DriftError, NotFound
from drift.tracing import current_trace


def customer_id_of(customer: Any) -> str:
    """Spec §7: `customer.id`, or the original's `customer.customerId`, is the customer id."""
    if not isinstance(customer, dict):
        return ""
    found = customer.get("id")
    if found is None or found == "":
        found = customer.get("customerId")
    return "" if found is None else str(found)[:200]


class UnpersistableState(DriftError):
    """The state holds a value no store accepts (NaN, a lone surrogate): retrying can never succeed."""


def run_register(*, workflow_id: str, inp: RunInput, new: bool = False, **fields: Any) -> Run:
    """Create the Run row of a run (idempotent: a repeated start keeps the first row). `new`: the caller has
    just seen no row with this id, so insert first and look only if another start won the race."""
    defaults = _register_fields(inp, workflow_id) | fields
    params = _unindexed_sensitive(inp)
    if new:
        try:
            with transaction.atomic():  # the row and its search index commit together
                run = Run.objects.create(workflow_id=workflow_id, **defaults)
                run_params_index(run, params)
                return run
        except IntegrityError:
            pass
    with transaction.atomic():
        run, created = Run.objects.get_or_create(workflow_id=workflow_id, defaults=defaults)
        if created:
            run_params_index(run, params)
    return run


def _register_fields(inp: RunInput, workflow_id: str) -> dict[str, Any]:
    start = inp.start or {}
    # The API's request span, or the worker's start_run activity span for runs started elsewhere (children,
    # schedules): empty with tracing off.
    trace_id, span_id = current_trace()
    return {
        "trace_id": trace_id,
        "trace_span_id": span_id,
        "tenant": inp.tenant,
        "client_id": inp.client_id,
        "username": inp.username,
        "incident_id": inp.incident_id,
        "issue_id": inp.issue_id or str((start.get("issueDetail") or {}).get("issueId") or ""),
        "customer_id": customer_id_of(start.get("customer")),
        "definition_key": inp.workflow_key or "",
        "mode": inp.mode,
        "callback_url": inp.callback_url,
        "parent_workflow_id": inp.parent_workflow_id,
        "redrive_of": inp.redrive_of,
        # Scrubbed: a start that bypassed the API with NaN still gets its (failed) row; run_begin refuses it.
        "start_request": scrubbed(_sealed_start_request(inp, workflow_id)),
    }


def _sealed_start_request(inp: RunInput, workflow_id: str) -> dict[str, Any]:
    """The RunInput kept for rerun, its sensitive values sealed (the start body and a redrive's context have
    the context's layout)."""
    stored = {key: value for key, value in inp.__dict__.items() if key != "carry"}
    paths = workflow_sensitive_paths(tenant=inp.tenant, key=inp.workflow_key, version=inp.version)
    paths += [path for path in inp.sensitive_paths if path not in paths]
    if not paths:
        return stored
    sensitive = sensitive_values(inp.start or {}, paths) + sensitive_values(inp.redrive_context or {}, paths)
    return seal(stored, sensitive, SealedRun(inp.tenant, workflow_id))


def _unindexed_sensitive(inp: RunInput) -> Any:
    """The start's `params` to index, less the values its definition's `sensitivePaths` mark: the search index
    is not sealed, so they stay out of it."""
    params = (inp.start or {}).get("params")
    paths = workflow_sensitive_paths(tenant=inp.tenant, key=inp.workflow_key, version=inp.version)
    hidden = sensitive_values(inp.start or {}, paths)
    if not hidden or not isinstance(params, dict):
        return params
    return {name: value for name, value in params.items() if redact(value, hidden) == value}


def run_params_index(run: Run, params: Any) -> None:
    """RunParam rows for the run's scalar `params` (searches by `param.<name>=` use them)."""
    RunParam.objects.bulk_create(
        [RunParam(run=run, tenant=run.tenant, name=name, value=value) for name, value in param_index_values(params)]
    )


def run_begin(*, workflow_id: str, inp: RunInput) -> dict[str, Any]:
    """Resolve and pin the definition for a run, and mark its Run row RUNNING. A CHILD run started by reference
    (`start_from`) also gets its start parts from the parent's context store, in the reply (and its row)."""
    by_reference = inp.start_from is not None
    if by_reference:
        inp = _with_start_from_parent(inp)
    problem = json_problem(inp.start, "$.start")
    if problem is not None:  # only a start that bypassed the API's strict parser gets here
        run_register(workflow_id=workflow_id, inp=inp)
        raise UnpersistableState(f"the run input cannot be stored: {problem.path} {problem.problem}")
    try:
        resolved = workflow_resolve_for_run(
            tenant=inp.tenant, workflow_key=inp.workflow_key, version=inp.version, issue_id=inp.issue_id,
            bucket_key=inp.bucket_key,
        )
    except NotFound:
        run_register(workflow_id=workflow_id, inp=inp)  # the failed run still gets its row
        raise
    pinned = {"definition_key": resolved["id"], "definition_version": resolved["version"], "status": RunStatus.RUNNING}
    # The usual case, in one statement: the API registered the row (CREATED) just before starting the run.
    if not Run.objects.filter(workflow_id=workflow_id, tenant=inp.tenant, status=RunStatus.CREATED).update(**pinned):
        _pin_existing_or_new(workflow_id, inp, pinned)
    return {
        "key": resolved["id"], "version": resolved["version"], "definition": resolved["definition"],
        "limits": run_limits(), **({"start": inp.start} if by_reference else {}),
    }


def run_pinned(resolved: dict[str, Any]) -> dict[str, Any]:
    """What start_run answers, for a start whose caller resolved the definition (`RunInput.pinned`)."""
    return {"key": resolved["id"], "version": resolved["version"], "definition": resolved["definition"],
            "limits": run_limits()}


def run_register_pinned(*, workflow_id: str, inp: RunInput, status: str | None = None) -> Run:
    """run_register for a start that carries its pinned definition: the row is written as start_run would leave
    it (RUNNING, the version pinned), so the run starts with no start_run round trip (worker/workflows.py).
    Only a QUEUED start keeps the pinned definition in its `start_request` (its release starts from it); any
    other start is started now from `inp`, and its row names the version (a rerun resolves its own)."""
    assert inp.pinned is not None
    kept = inp if status == RunStatus.QUEUED else dataclasses.replace(inp, pinned=None)
    return run_register(workflow_id=workflow_id, inp=kept, new=True, definition_key=inp.pinned["key"],
                        definition_version=inp.pinned["version"], status=status or RunStatus.RUNNING)


def _with_start_from_parent(inp: RunInput) -> RunInput:
    """`inp` with its start parts read from the parent's context store (the write at `seq` or a newer one)."""
    source = inp.start_from or {}
    # Only the run's own parent, of the same tenant: a start made straight through Temporal reads no other run.
    parent = source.get("workflowId")
    if parent != inp.parent_workflow_id or not Run.objects.filter(workflow_id=parent, tenant=inp.tenant).exists():
        raise Conflict(f"a child run reads its start only from its own parent run, not '{parent}'")
    context = run_context_for_node(workflow_id=source["workflowId"], min_seq=int(source["seq"]),
                                   sealed=bool(source.get("sealed")))
    parts = {key: context.get(key) for key in source.get("keys") or ()}
    return dataclasses.replace(inp, start={**parts, **(inp.start or {})}, start_from=None)


def _pin_existing_or_new(workflow_id: str, inp: RunInput, pinned: dict[str, Any]) -> None:
    """run_begin without the API's CREATED row: a start straight through Temporal (a CHILD node's or a MAP
    item's run, usually: so the row is inserted without a look first), or a retried start_run whose row is
    there already (it keeps its status)."""
    run = run_register(workflow_id=workflow_id, inp=inp, new=True, **pinned)
    if run.tenant != inp.tenant:
        raise Conflict(f"workflow id '{workflow_id}' belongs to another tenant's run")
    if run.definition_version != pinned["definition_version"]:
        Run.objects.filter(pk=run.pk).update(**pinned)


def run_limits() -> dict[str, int]:
    """The engine limits a run carries (test runs carry the same)."""
    return {
        "maxNodes": settings.DRIFT_MAX_NODE_EXECUTIONS,
        "maxDepth": settings.DRIFT_MAX_CHILD_DEPTH,
        "historyEvents": settings.DRIFT_HISTORY_EVENT_LIMIT,
        "inlineContextBytes": settings.DRIFT_INLINE_CONTEXT_BYTES,
        "localNodeSeconds": settings.DRIFT_LOCAL_NODE_MAX_SECONDS,
        "mapBatchSize": settings.DRIFT_MAP_BATCH_SIZE,
    }


_PERSIST_FIELDS = ("id", "mode", "callback_url", "tenant", "client_id", "workflow_id", "definition_key", "state_seq")


def run_record_state(request: PersistRequest, *, newest_only: bool = False) -> None:
    """Persist one state change in one transaction; replays and retries with an old `seq` change nothing.
    `newest_only`: a state a newer one may have overtaken (the run's end a segment stores, worker/run_end.py, which
    the workflow may have given up on for a terminate) writes nothing at all once a newer state is stored."""
    problem = json_problem({"context": request.context, "response": request.response, "timeline": request.timeline})
    if problem is not None:
        raise UnpersistableState(f"the run state cannot be stored: {problem.path} {problem.problem}")
    sensitive = sensitive_values(request.context, request.sensitive_paths)
    response = redact(request.response, sensitive)
    context = seal(request.context, sensitive, SealedRun(request.tenant, request.workflow_id))
    timeline = redact(request.timeline, sensitive)
    with transaction.atomic():
        run = row_of(Run, _PERSIST_FIELDS, workflow_id=request.workflow_id, tenant=request.tenant)
        if run is None:  # not this tenant's run (run_begin refused it): write nothing anywhere
            return
        if newest_only and run.state_seq >= request.seq:
            return
        get_context_store().save(
            request.workflow_id, context=context, current_node=request.current_node,
            status=request.status, seq=request.seq, checked=True,  # the walk above: ~57 ms for 1 MB, not twice
        )
        now = timezone.now()
        final = request.status in FINAL_STATUSES
        rows_update(Run, {
            "status": request.status,
            "current_node": request.current_node,
            "disposition": response.get("disposition") or "",
            "error_message": response.get("errorMessage") or "",
            "view": response.get("view"),
            "state_seq": request.seq,
            "updated_at": now,
            "finished_at": now if final else None,
        }, keep=("finished_at",) if final else (),  # the first end counts: post-completion nodes persist again
            pk=run.pk, state_seq__lt=request.seq)
        _timeline_append(run, timeline)
        hooks.state_recorded(run=run, task=request.task, status=request.status)  # human tasks (apps.tasks)
        if final:
            admission_on_run_end(tenant=run.tenant, workflow_key=run.definition_key)
        if request.notify:
            # In the same transaction and keyed by seq: every reported state gets exactly one delivery, even
            # when a newer state (a disconnected node's) committed first; Celery gets it on commit.
            webhook_notify(run=run, response=response, state_seq=request.seq)


# The timeline rows of a persist, as one statement run once per row (mysqlclient sends one multi-row INSERT).
# `bulk_create` prepared every field of every row through the ORM: a third of a persist's CPU for a segment's
# eleven rows (~0.7 of ~1.9 ms under cProfile); rows repeated by a retried persist are ignored as before.
_TIMELINE_COLUMNS = ("run_id", "seq", "instance_name", "node_type", "outcome", "error", "actor", "lane", "started_at",
                     "duration_ms", "host_limit_wait_ms")


def _timeline_append(run: Run, entries: list[dict[str, Any]]) -> None:
    if not entries:
        return
    started_at = NodeExecution._meta.get_field("started_at")
    rows = [
        (run.pk, entry["seq"], entry["instance"], entry["type"], entry["outcome"], entry.get("error") or "",
         entry.get("actor") or "", (entry.get("lane") or "")[:500],
         started_at.get_db_prep_save(datetime.fromisoformat(entry["startedAt"]), connection),
         entry.get("durationMs") or 0, entry.get("hostWaitMs") or 0)
        for entry in entries
    ]
    quote = connection.ops.quote_name
    sql = (f"{connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)} {quote(NodeExecution._meta.db_table)} "
           f"({', '.join(quote(column) for column in _TIMELINE_COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * len(_TIMELINE_COLUMNS))})"
           f" {connection.ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], [])}").rstrip()
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
