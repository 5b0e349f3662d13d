"""Reads of the triggers app."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.triggers.models import Trigger, TriggerEvent
from core.problems import Problem
from drift.errors import InvalidInput, first_or_not_found


def trigger_list(*, tenant: str) -> QuerySet[Trigger]:
    return Trigger.objects.filter(tenant=tenant)


def trigger_get(*, tenant: str, trigger_id: str) -> Trigger:
    return first_or_not_found(Trigger.objects.filter(tenant=tenant, trigger_id=trigger_id),
                              f"Unknown trigger '{trigger_id[:100]}'.")


def hook_trigger(*, tenant: str, trigger_id: str) -> Trigger:
    """The enabled trigger of the hook URL; unknown, disabled and other tenants' alike are 404."""
    return first_or_not_found(Trigger.objects.filter(tenant=tenant, trigger_id=trigger_id, enabled=True),
                              "Unknown hook.")


def trigger_events_recent(trigger: Trigger, *, limit: int = 20, before: str | None = None) -> QuerySet[TriggerEvent]:
    """The trigger's events, newest first; `before` (an eventId of this trigger, the last of the previous page):
    only the events received before it."""
    events = trigger.events.order_by("-id")
    if before is not None:
        last = trigger.events.filter(event_id=before).values_list("id", flat=True).first()
        if last is None:
            raise InvalidInput("Invalid 'before'.", [Problem("$.query.before", "is not an eventId of this trigger")])
        events = events.filter(id__lt=last)
    return events[:limit]


def trigger_event_get(*, tenant: str, event_id: str) -> TriggerEvent:
    return first_or_not_found(TriggerEvent.objects.filter(tenant=tenant, event_id=event_id).select_related("trigger"),
                              f"Unknown event '{event_id[:40]}'.")


def trigger_view(trigger: Trigger) -> dict:
    """A trigger as the API shows it (the auth names its secret, never a value)."""
    workflow = {"workflowDefinitionId": trigger.workflow_key} if trigger.workflow_key else (
        {"issueId": trigger.issue_id} if trigger.issue_id else {})
    if workflow and trigger.version:
        workflow["version"] = trigger.version
    return {
        "id": trigger.trigger_id, "action": trigger.action, "workflow": workflow or None, "mapping": trigger.mapping,
        "correlation": trigger.correlation or None, "eventName": trigger.event_name or None,
        "dedupeKey": trigger.dedupe_key or None, "auth": trigger.auth, "enabled": trigger.enabled,
        "hookPath": f"/v3/hooks/{trigger.tenant}/{trigger.trigger_id}",
        "createdBy": trigger.created_by, "createdAt": trigger.created_at, "updatedAt": trigger.updated_at,
    }


def event_view(event: TriggerEvent) -> dict:
    return {
        "eventId": event.event_id, "trigger": event.trigger.trigger_id, "status": event.status,
        "workflowId": event.workflow_id or None, "duplicateOf": event.duplicate_of or None,
        "error": event.error or None, "attempts": event.attempts, "receivedAt": event.received_at,
        "doneAt": event.done_at,
    }
