"""Schedules (spec §10): the Schedule row is the truth; Temporal Schedules carry it out.

`schedule_sync` makes Temporal match one row (create when missing, else update spec, action, policy and pause
state); `schedules_reconcile` does it for every row and deletes Temporal schedules Drift no longer has. Saves
sync at once; a failed sync is recorded on the row (`sync_error`) and the periodic reconcile repairs it.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
)
from temporalio.service import RPCError, RPCStatusCode

from apps.definitions.selectors import route_get, workflow_sensitive_paths
from apps.operations.models import SCHEDULE_PREFIX
from apps.operations.models import Schedule as ScheduleRow
from apps.runs.contract import WORKFLOW_NAME, RunInput
from apps.runs.models import SCHEDULED_ID_PREFIX, RunMode
from apps.runs.runtime import START_FIELDS, temporal_call
from apps.secrets.sealing import SealedRun, mask_sealed, refuse_sealed, seal, unseal
from core.redaction import sensitive_values
from drift.errors import Conflict, DriftError, NotFound, first_or_not_found

logger = logging.getLogger(__name__)
FIELDS = ("workflow_key", "issue_id", "version", "cron", "interval_seconds", "start", "overlap", "paused")


def schedule_sealing(tenant: str, schedule_id: str) -> SealedRun:
    """A schedule's sealed start opens only for that schedule (never as some run's data)."""
    return SealedRun(tenant, f"schedule:{schedule_id}")


def schedule_run_input(row: ScheduleRow) -> RunInput:
    """What each fired run starts with: resolved by the worker at fire time (ACTIVE unless pinned)."""
    start = unseal(row.start or {}, schedule_sealing(row.tenant, row.schedule_id))
    return RunInput(
        tenant=row.tenant, workflow_key=row.workflow_key or None, version=row.version or None,
        issue_id=row.issue_id or None, start={key: start[key] for key in START_FIELDS if start.get(key) is not None},
        mode=RunMode.ASYNC, callback_url=start.get("callbackUrl") or "", client_id=row.client_id,
        username=row.created_by, incident_id=start.get("incidentId") or "", admit=True,
    )


def schedule_run_prefix(row: ScheduleRow) -> str:
    """Fired runs are `<this>-<fire time>`; the tenant's digest keeps two tenants' "nightly" runs apart."""
    return f"{SCHEDULED_ID_PREFIX}{row.schedule_id}-{hashlib.sha256(row.tenant.encode()).hexdigest()[:10]}"


def _temporal_schedule(row: ScheduleRow) -> Schedule:
    if row.cron:
        spec = ScheduleSpec(cron_expressions=[row.cron])
    else:
        spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=row.interval_seconds or 60))])
    action = ScheduleActionStartWorkflow(
        WORKFLOW_NAME, schedule_run_input(row), id=schedule_run_prefix(row), task_queue=settings.TEMPORAL_TASK_QUEUE,
    )
    return Schedule(action=action, spec=spec, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy[row.overlap]),
                    state=ScheduleState(paused=row.paused, note=f"Drift schedule {row.tenant}/{row.schedule_id}"))


def _sync_call(client: Client, row: ScheduleRow):
    async def sync() -> None:
        desired = _temporal_schedule(row)
        try:
            await client.create_schedule(row.temporal_id, desired)
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(row.temporal_id).update(lambda _: ScheduleUpdate(schedule=desired))

    return sync()


def schedule_sync(row: ScheduleRow) -> bool:
    """Make Temporal's schedule match the row; records the outcome on the row. False when Temporal refused."""
    try:
        temporal_call(lambda client: _sync_call(client, row))
    except (DriftError, RPCError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        logger.warning("schedule sync failed: %s", message, extra={"schedule": row.temporal_id})
        ScheduleRow.objects.filter(pk=row.pk).update(sync_error=message[:2000])
        return False
    ScheduleRow.objects.filter(pk=row.pk).update(synced_at=timezone.now(), sync_error="")
    return True


def schedule_list(*, tenant: str) -> list[ScheduleRow]:
    return list(ScheduleRow.objects.filter(tenant=tenant).order_by("schedule_id")[:1000])


def schedule_get(*, tenant: str, schedule_id: str) -> ScheduleRow:
    return first_or_not_found(ScheduleRow.objects.filter(tenant=tenant, schedule_id=schedule_id),
                              f"Unknown schedule '{schedule_id}'.")


def schedule_view(row: ScheduleRow) -> dict[str, Any]:
    """The API's shape of a schedule."""
    return {
        "id": row.schedule_id, "workflowId": row.workflow_key or None, "issueId": row.issue_id or None,
        "version": row.version or None, "cron": row.cron or None, "intervalSeconds": row.interval_seconds,
        "start": mask_sealed(row.start), "overlap": row.overlap, "paused": row.paused, "createdBy": row.created_by,
        "createdAt": row.created_at, "updatedAt": row.updated_at, "syncedAt": row.synced_at,
        "syncError": row.sync_error or None,
    }


def _sensitive_paths(tenant: str, values: dict[str, Any]) -> list[str]:
    """The `sensitivePaths` of the workflow a schedule starts: named, or each one its issue's route may pick."""
    if values["workflow_key"]:
        return workflow_sensitive_paths(tenant=tenant, key=values["workflow_key"], version=values["version"] or None)
    try:
        route = route_get(tenant=tenant, issue_id=values["issue_id"])
    except NotFound:
        return []
    targets = [route, *route["variants"]]
    return [path for target in targets for path in workflow_sensitive_paths(
        tenant=tenant, key=target["workflowId"], version=target["version"] or None)]


def schedule_save(*, tenant: str, schedule_id: str, fields: dict[str, Any], client_id: str, actor: str,
                  create: bool) -> ScheduleRow:
    """Create (409 if the id is taken) or replace a schedule, then sync it to Temporal. The start body's
    sensitive values are sealed at rest (Temporal's copy is encrypted by the payload codec)."""
    values = {name: fields.get(name, ScheduleRow._meta.get_field(name).get_default()) for name in FIELDS}
    sealing = schedule_sealing(tenant, schedule_id)
    start = unseal(values["start"] or {}, sealing)  # its own envelopes (an edited form) open; others are refused
    refuse_sealed(start, "$.start")
    values["start"] = seal(start, sensitive_values(start, _sensitive_paths(tenant, values)), sealing)
    with transaction.atomic():
        row = ScheduleRow.objects.select_for_update().filter(tenant=tenant, schedule_id=schedule_id).first()
        if create and row is not None:
            raise Conflict(f"Schedule '{schedule_id}' already exists.")
        if not create and row is None:
            raise NotFound(f"Unknown schedule '{schedule_id}'.")
        if row is None:
            row = ScheduleRow(tenant=tenant, schedule_id=schedule_id, client_id=client_id, created_by=actor)
        for name, value in values.items():
            setattr(row, name, value)
        row.save()
    schedule_sync(row)
    row.refresh_from_db()
    return row


def schedule_set_paused(row: ScheduleRow, paused: bool) -> ScheduleRow:
    ScheduleRow.objects.filter(pk=row.pk).update(paused=paused, updated_at=timezone.now())
    row.refresh_from_db()
    schedule_sync(row)
    row.refresh_from_db()
    return row


def schedule_delete(row: ScheduleRow) -> None:
    """Delete the row, then Temporal's schedule (a failure there is left to the reconciler)."""
    row.delete()
    _delete_temporal(row.temporal_id)


def _delete_temporal(temporal_id: str) -> None:
    async def delete(client: Client) -> None:
        try:
            await client.get_schedule_handle(temporal_id).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise

    try:
        temporal_call(delete)
    except (DriftError, RPCError):
        logger.warning("schedule delete failed; the reconciler retries", extra={"schedule": temporal_id})


def schedule_trigger(row: ScheduleRow) -> None:
    """Fire one run now (the overlap policy applies)."""
    _ensure_synced(row)
    temporal_call(lambda client: client.get_schedule_handle(row.temporal_id).trigger())


def schedule_backfill(row: ScheduleRow, *, start_at: datetime, end_at: datetime) -> None:
    """Fire the runs the schedule would have fired between the two times (all of them: ALLOW_ALL)."""
    _ensure_synced(row)
    backfill = ScheduleBackfill(start_at=start_at, end_at=end_at, overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    temporal_call(lambda client: client.get_schedule_handle(row.temporal_id).backfill(backfill))


def _ensure_synced(row: ScheduleRow) -> None:
    """Sync first (one cheap call): a schedule lost in Temporal is recreated before it is used."""
    if not schedule_sync(row):
        row.refresh_from_db()
        raise Conflict(f"Schedule '{row.schedule_id}' could not be synced to Temporal: {row.sync_error}")


def schedules_reconcile() -> dict[str, int]:
    """Every row synced (missing ones recreated), every Temporal schedule without a row deleted."""
    rows = list(ScheduleRow.objects.all())
    synced = sum(schedule_sync(row) for row in rows)
    wanted = {row.temporal_id for row in rows}

    async def listed(client: Client) -> list[str]:
        return [entry.id async for entry in await client.list_schedules() if entry.id.startswith(SCHEDULE_PREFIX)]

    orphans = [temporal_id for temporal_id in temporal_call(listed) if temporal_id not in wanted]
    for temporal_id in orphans:
        _delete_temporal(temporal_id)
    return {"synced": synced, "failed": len(rows) - synced, "deleted": len(orphans)}
