"""Triggers (spec §13): inbound HTTP events that start runs or feed waiting ones, and the events received."""

from __future__ import annotations

from django.db import models


class TriggerAction(models.TextChoices):
    START = "START"
    EVENT = "EVENT"


class EventStatus(models.TextChoices):
    PENDING = "PENDING", "pending (delivery under way)"
    DONE = "DONE", "done (run started / event delivered)"
    FAILED = "FAILED", "failed (no run)"
    NO_MATCH = "NO_MATCH", "no open run matched"
    DUPLICATE = "DUPLICATE", "duplicate (of an earlier event)"


class Trigger(models.Model):
    """One inbound hook `POST /v3/hooks/{tenant}/{trigger_id}` and what it does with each event."""

    tenant = models.CharField(max_length=64)
    trigger_id = models.CharField(max_length=100, help_text="The id in the hook's URL (unique per tenant).")
    action = models.CharField(max_length=5, choices=TriggerAction.choices)
    workflow_key = models.CharField(max_length=200, blank=True, help_text="Workflow definition id, or ...")
    issue_id = models.CharField(max_length=200, blank=True, help_text="... an issue routed to a workflow.")
    version = models.CharField(max_length=20, blank=True, help_text="Empty: the active version.")
    mapping = models.JSONField(default=dict, blank=True, help_text="Start-body field -> `$.`-path or literal.")
    correlation = models.JSONField(default=dict, blank=True, help_text="EVENT: search key -> `$.`-path or literal.")
    event_name = models.CharField(max_length=200, blank=True, help_text="EVENT: the ON_EVENT name delivered.")
    dedupe_key = models.CharField(max_length=500, blank=True, help_text="`$.`-path of the event's unique id.")
    auth = models.JSONField(default=dict, help_text='{"kind": "HMAC_SHA256" | "TOKEN", "secret": name, ...}')
    enabled = models.BooleanField(default=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "trigger_id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "trigger_id"], name="uniq_trigger_id")]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.trigger_id}"


class TriggerEvent(models.Model):
    """One inbound event, stored before the hook answers 202; delivery works from this row (at least once,
    made exactly once by the run's workflow id / the signal's request id)."""

    event_id = models.CharField(max_length=32, unique=True)
    tenant = models.CharField(max_length=64)
    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=10, choices=EventStatus.choices, default=EventStatus.PENDING)
    body = models.JSONField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    query = models.JSONField(default=dict, blank=True)
    start_body = models.JSONField(null=True, blank=True, help_text="START: the start body the mapping built.")
    workflow_id = models.CharField(max_length=200, blank=True, help_text="The run started or fed.")
    duplicate_of = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    attempt_log = models.JSONField(default=list, blank=True, help_text="The last attempts: when, and the error.")
    received_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["trigger", "-id"], name="trigger_event_recent"),
                   models.Index(fields=["status", "next_attempt_at"], name="trigger_event_due")]

    def __str__(self) -> str:
        return self.event_id


class TriggerDedupe(models.Model):
    """A claimed `dedupeKey` value (its SHA-256): the database's unique index decides the first event, so
    concurrent identical posts start one run. Kept DRIFT_TRIGGER_DEDUPE_HOURS (24)."""

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="+")
    value_hash = models.CharField(max_length=64)
    event_id = models.CharField(max_length=32)
    workflow_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trigger", "value_hash"], name="uniq_trigger_dedupe")]
        indexes = [models.Index(fields=["created_at"], name="trigger_dedupe_created")]

    def __str__(self) -> str:
        return f"{self.trigger_id}/{self.value_hash[:12]}"
