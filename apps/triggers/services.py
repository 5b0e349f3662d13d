"""Writes of the triggers app (spec §13): saving triggers, receiving inbound events, delivering them.

An event is stored (with the start body its mapping built, or the run its correlation found) before the hook
answers 202; `event_deliver` (Celery, apps/triggers/tasks.py) starts the run or signals the event from that
row, retried until it succeeds. Exactly once: a START always starts under the workflow id chosen when the event
was stored (a repeat joins or finds that run), an EVENT's signal carries the event id as Temporal's request id
(a repeat is dropped by Temporal).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.clients.authentication import Principal
from apps.definitions.selectors import workflow_resolve_for_run
from apps.runs.api.serializers import StartSerializer
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import Run, RunMode, RunStatus
from apps.runs.runtime import run_send_event, run_start
from apps.runs.search import search_filter_parse
from apps.runs.selectors import runs_matching
from apps.triggers import mapping as m
from apps.triggers.hook_auth import auth_problems
from apps.triggers.models import EventStatus, Trigger, TriggerAction, TriggerDedupe, TriggerEvent
from core.problems import Problem
from drift.errors import Conflict, DriftError, InvalidInput, NotFound, ServiceUnavailable, TooManyRequests

logger = logging.getLogger(__name__)

OPEN_STATUSES = (RunStatus.RUNNING, RunStatus.WAITING)
FIELDS = ("action", "workflow_key", "issue_id", "version", "mapping", "correlation", "event_name", "dedupe_key",
          "auth", "enabled")
MAX_ATTEMPT_LOG = 20


# --------------------------------------------------------------------------- triggers


def trigger_problems(*, tenant: str, fields: dict[str, Any]) -> list[Problem]:
    """Validated like a definition: the workflow exists, paths are well formed, the secret exists."""
    problems: list[Problem] = []
    start = fields["action"] == TriggerAction.START
    if fields.get("workflow_key") or fields.get("issue_id"):
        try:
            workflow_resolve_for_run(tenant=tenant, workflow_key=fields.get("workflow_key") or None,
                                     version=fields.get("version") or None, issue_id=fields.get("issue_id") or None)
        except NotFound as exc:
            problems.append(Problem("$.workflow", exc.message))
    elif start:
        problems.append(Problem("$.workflow", "a START trigger names a workflowDefinitionId or an issueId"))
    problems += m.mapping_problems(fields.get("mapping") or {}, "$.mapping", keys=m.START_KEYS)
    if start and (fields.get("correlation") or fields.get("event_name")):
        problems.append(Problem("$.correlation", "correlation and eventName are for EVENT triggers"))
    if not start:
        problems += _event_problems(fields)
    if fields.get("dedupe_key"):
        problems += m.value_problems(fields["dedupe_key"], "$.dedupeKey") if m.is_path(fields["dedupe_key"]) else [
            Problem("$.dedupeKey", "must be a $.-path into the event")]
    return problems + auth_problems(fields.get("auth"), tenant=tenant)


def _event_problems(fields: dict[str, Any]) -> list[Problem]:
    problems = []
    if not fields.get("event_name"):
        problems.append(Problem("$.eventName", "an EVENT trigger names the event it delivers"))
    correlation = fields.get("correlation") or {}
    if not correlation:
        return [*problems, Problem("$.correlation", "an EVENT trigger finds its run by search keys")]
    problems += m.mapping_problems(correlation, "$.correlation", keys=None)
    if "status" in correlation:
        problems.append(Problem("$.correlation.status", "the run is always an open one (RUNNING or WAITING)"))
    try:  # the keys must be search keys (§10), as GET /v3/workflow takes them
        search_filter_parse({key: "x" for key in correlation if key != "status"}, base="$.correlation",
                            allow_page=False)
    except InvalidInput as exc:
        problems += exc.details
    return problems


def trigger_save(*, tenant: str, trigger_id: str, fields: dict[str, Any], actor: str, create: bool) -> Trigger:
    """Create (409 if the id is taken) or replace (404 if unknown) a trigger, after validation (400)."""
    problems = trigger_problems(tenant=tenant, fields=fields)
    if problems:
        raise InvalidInput("The trigger is invalid.", problems)
    values = {name: fields.get(name, Trigger._meta.get_field(name).get_default()) for name in FIELDS}
    if create:
        try:
            with transaction.atomic():
                return Trigger.objects.create(tenant=tenant, trigger_id=trigger_id, created_by=actor, **values)
        except IntegrityError:
            raise Conflict(f"Trigger '{trigger_id}' exists; PUT replaces it.") from None
    if not Trigger.objects.filter(tenant=tenant, trigger_id=trigger_id).update(**values, updated_at=timezone.now()):
        raise NotFound(f"Unknown trigger '{trigger_id[:100]}'.")
    return Trigger.objects.get(tenant=tenant, trigger_id=trigger_id)


def trigger_delete(trigger: Trigger) -> None:
    trigger.delete()


# --------------------------------------------------------------------------- receiving an event


@dataclass(frozen=True)
class Prepared:
    """What an event becomes, decided when it is stored."""

    status: str
    workflow_id: str = ""
    start_body: dict[str, Any] | None = None
    error: str = ""


def event_receive(trigger: Trigger, *, body: Any, headers: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    """Store the event (deduped) and hand it to delivery after commit; the hook's 202 body."""
    event = {"body": body, "headers": headers, "query": query}
    event_id = uuid.uuid4().hex
    prepared = _prepare(trigger, event, event_id)
    with transaction.atomic():
        first = _dedupe_claim(trigger, event, event_id, prepared)
        row = TriggerEvent.objects.create(
            event_id=event_id, tenant=trigger.tenant, trigger=trigger, body=body, headers=headers, query=query,
            status=EventStatus.DUPLICATE if first else prepared.status, start_body=prepared.start_body,
            workflow_id=first.workflow_id if first else prepared.workflow_id, error=prepared.error,
            duplicate_of=first.event_id if first else "", next_attempt_at=timezone.now(),
            done_at=timezone.now() if first or prepared.status != EventStatus.PENDING else None,
        )
        if row.status == EventStatus.PENDING:
            transaction.on_commit(lambda: _enqueue(event_id), robust=True)  # the stale sweep covers a lost one
    return _reply(row, first)


def _prepare(trigger: Trigger, event: dict[str, Any], event_id: str) -> Prepared:
    try:
        if trigger.action == TriggerAction.START:
            return _prepare_start(trigger, event, event_id)
        return _prepare_delivery(trigger, event)
    except m.MissingPath as missing:
        return Prepared(EventStatus.FAILED, error=f"{missing.path}: missing from the event")
    except InvalidInput as exc:
        found = "; ".join(f"{d.path}: {d.problem}" for d in exc.details) or exc.message
        return Prepared(EventStatus.FAILED, error=found[:2000])


def _prepare_start(trigger: Trigger, event: dict[str, Any], event_id: str) -> Prepared:
    built = m.apply(trigger.mapping or {}, event)
    # The trigger names the workflow (or issue) and version; a mapping cannot point the run elsewhere.
    if trigger.workflow_key:
        params = built.get("params")
        built["params"] = params = params if isinstance(params, dict) else ({} if params is None else params)
        if isinstance(params, dict):
            params.update({"workflowId": trigger.workflow_key, **({"version": trigger.version} if trigger.version
                                                                   else {})})
    elif trigger.issue_id:
        issue = built.get("issueDetail")
        built["issueDetail"] = {**(issue if isinstance(issue, dict) else {}), "issueId": trigger.issue_id}
    built.setdefault("workflowId", f"trg-{event_id}")
    serializer = StartSerializer(data={**built, "mode": RunMode.ASYNC})
    if not serializer.is_valid():
        raise InvalidInput("The mapped start body is invalid.", _problems(serializer.errors, "$.start"))
    start = json.loads(json.dumps({k: v for k, v in serializer.validated_data.items() if k != "mode"}))
    return Prepared(EventStatus.PENDING, workflow_id=start["workflowId"], start_body=start)


def _problems(errors: Any, path: str) -> list[Problem]:
    if isinstance(errors, dict):
        return [p for key, value in errors.items() for p in _problems(value, f"{path}.{key}")]
    if isinstance(errors, list) and errors and not isinstance(errors[0], str | dict | list):
        errors = [str(error) for error in errors]
    if isinstance(errors, list) and all(isinstance(error, str) for error in errors):
        return [Problem(path, " ".join(errors))]
    return [p for index, value in enumerate(errors) for p in _problems(value, f"{path}.{index}")]


def _prepare_delivery(trigger: Trigger, event: dict[str, Any]) -> Prepared:
    """EVENT: the open run the correlation finds (newest first), or NO_MATCH, decided now: the reply says it."""
    keys = m.apply_flat(trigger.correlation or {}, event)
    run_filter = search_filter_parse(keys, base="$.correlation", allow_page=False)
    if trigger.workflow_key:
        run_filter.fields["definition_key"] = trigger.workflow_key
    run = runs_matching(run_filter, tenant=trigger.tenant).filter(status__in=OPEN_STATUSES).first()
    if run is None:
        return Prepared(EventStatus.NO_MATCH, error=f"no open run matches {json.dumps(keys, default=str)[:500]}")
    return Prepared(EventStatus.PENDING, workflow_id=run.workflow_id)


def _dedupe_claim(trigger: Trigger, event: dict[str, Any], event_id: str,
                  prepared: Prepared) -> TriggerDedupe | None:
    """The first event with this dedupe value (None: this one is the first, or there is no dedupe). A failed
    event claims nothing: sent again after the trigger is fixed, it goes through."""
    if not trigger.dedupe_key or prepared.status == EventStatus.FAILED:
        return None
    try:
        value = m.event_value(event, trigger.dedupe_key)
    except m.MissingPath:
        return None  # no id to dedupe by: the event counts on its own
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
    cutoff = timezone.now() - timedelta(hours=settings.DRIFT_TRIGGER_DEDUPE_HOURS)
    TriggerDedupe.objects.filter(trigger=trigger, value_hash=digest, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():  # a savepoint: the unique index decides between concurrent posts
            TriggerDedupe.objects.create(trigger=trigger, value_hash=digest, event_id=event_id,
                                         workflow_id=prepared.workflow_id)
        return None
    except IntegrityError:
        return TriggerDedupe.objects.get(trigger=trigger, value_hash=digest)


def _reply(row: TriggerEvent, first: TriggerDedupe | None) -> dict[str, Any]:
    reply: dict[str, Any] = {"eventId": first.event_id if first else row.event_id, "status": row.status}
    if row.workflow_id:
        reply["workflowId"] = row.workflow_id
    if first:
        reply["duplicate"] = True
    if row.trigger.action == TriggerAction.EVENT and row.status != EventStatus.FAILED:
        reply["matched"] = bool(row.workflow_id)
    if row.status == EventStatus.FAILED:
        reply["error"] = row.error
    return reply


def _enqueue(event_id: str) -> None:
    from apps.triggers.tasks import deliver_trigger_event

    deliver_trigger_event.delay(event_id)


def event_preview(trigger: Trigger, *, body: Any, headers: dict[str, str], query: dict[str, str]) -> Prepared:
    """What an event would become (the admin's "send a test event" shows it), storing nothing."""
    return _prepare(trigger, {"body": body, "headers": headers, "query": query}, "preview")


# --------------------------------------------------------------------------- delivering an event


def event_deliver(event_id: str) -> float | None:
    """One delivery attempt of a PENDING event; seconds until the next attempt when it must be retried."""
    event = TriggerEvent.objects.select_related("trigger").filter(event_id=event_id,
                                                                  status=EventStatus.PENDING).first()
    if event is None:
        return None  # done already (a redelivered task), or not pending
    attempt = event.attempts + 1
    # Counted before the call: a worker killed mid-call leaves the mark, so the next attempt knows one began.
    TriggerEvent.objects.filter(pk=event.pk).update(attempts=attempt)
    try:
        _deliver(event, earlier_attempt=attempt > 1)
    # Temporal or a store out of reach, or the workflow's limits REJECT the start for now: retried (backoff).
    except (ServiceUnavailable, TooManyRequests, OSError) as exc:
        return _retry(event, attempt, getattr(exc, "message", str(exc)))
    except DriftError as exc:
        _finish(event, attempt, EventStatus.FAILED, exc.message)
        return None
    except Exception as exc:  # a bug: retried (bounded), logged, visible on the event
        logger.exception("trigger event delivery failed", extra={"event_id": event_id})
        if attempt >= settings.DRIFT_TRIGGER_MAX_ATTEMPTS:
            _finish(event, attempt, EventStatus.FAILED, f"{type(exc).__name__}: {exc}")
            return None
        return _retry(event, attempt, f"{type(exc).__name__}: {exc}")
    _finish(event, attempt, EventStatus.DONE, "")
    return None


def _deliver(event: TriggerEvent, *, earlier_attempt: bool) -> None:
    trigger = event.trigger
    if trigger.action == TriggerAction.EVENT:
        try:
            run_send_event(tenant=event.tenant, workflow_id=event.workflow_id, event_name=trigger.event_name,
                           payload=event.body, request_id=event.event_id)
        except Conflict:
            # The run ended: after an earlier attempt that got as far as the signal (it ended on our event), or
            # before any. Only the first case can follow an attempt that began, and it must not fail the event.
            if not earlier_attempt:
                raise
        return
    principal = Principal(event.tenant, f"trigger:{trigger.trigger_id}"[:64], trigger.created_by or "trigger")
    try:
        run_start(principal=principal, data={**(event.start_body or {}), "workflowId": event.workflow_id,
                                             "mode": RunMode.ASYNC})
    except Conflict:
        # An earlier attempt started the run and it has ended since: started once, done.
        started = Run.objects.filter(workflow_id=event.workflow_id, tenant=event.tenant,
                                     created_at__gte=event.received_at, status__in=FINAL_STATUSES).exists()
        if not started:
            raise


def _log(event: TriggerEvent, attempt: int, error: str) -> list[dict[str, Any]]:
    entry = {"attempt": attempt, "at": timezone.now().isoformat(), "error": error[:500]}
    return [*(event.attempt_log or []), entry][-MAX_ATTEMPT_LOG:]


def _retry(event: TriggerEvent, attempt: int, error: str) -> float:
    delay = min(settings.DRIFT_TRIGGER_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1),
                settings.DRIFT_TRIGGER_BACKOFF_MAX_SECONDS)
    TriggerEvent.objects.filter(pk=event.pk, status=EventStatus.PENDING).update(
        attempts=attempt, error=error[:2000], attempt_log=_log(event, attempt, error),
        next_attempt_at=timezone.now() + timedelta(seconds=delay))
    return delay


def _finish(event: TriggerEvent, attempt: int, status: str, error: str) -> None:
    TriggerEvent.objects.filter(pk=event.pk, status=EventStatus.PENDING).update(
        status=status, attempts=attempt, error=error[:2000], attempt_log=_log(event, attempt, error or "ok"),
        done_at=timezone.now())


def events_stale_ids(*, limit: int = 1000) -> list[str]:
    """PENDING events whose task is overdue by the grace (lost on the way to the broker, or a worker died)."""
    cutoff = timezone.now() - timedelta(seconds=settings.DRIFT_TRIGGER_STALE_SECONDS)
    due = TriggerEvent.objects.filter(status=EventStatus.PENDING, next_attempt_at__lt=cutoff)
    return list(due.order_by("id").values_list("event_id", flat=True)[:limit])


def dedupe_purge_expired(*, batch: int = 10_000) -> int:
    cutoff = timezone.now() - timedelta(hours=settings.DRIFT_TRIGGER_DEDUPE_HOURS)
    ids = list(TriggerDedupe.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch])
    return TriggerDedupe.objects.filter(pk__in=ids).delete()[0]
