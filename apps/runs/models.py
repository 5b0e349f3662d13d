"""The Run mirror of each Temporal run, its node timeline, its stored context and webhook deliveries.

Temporal is the source of truth for execution; these rows exist for browsing, reporting and
for the runtime API's tenant checks. The worker updates them at every state change.
"""

from django.db import models
from django.utils import timezone

from apps.runs.contract import RUN_MODES, RUN_STATUSES

# The statuses and modes come from the run contract (apps/runs/contract.py), which the worker shares.
RunStatus = models.TextChoices("RunStatus", [(status, status) for status in RUN_STATUSES])
RunMode = models.TextChoices("RunMode", [(mode, mode) for mode in RUN_MODES])


class Run(models.Model):
    workflow_id = models.CharField(max_length=200, unique=True, help_text="Temporal workflow id of the run.")
    incident_id = models.CharField(max_length=200, blank=True, db_index=True)
    tenant = models.CharField(max_length=64, db_index=True)
    client_id = models.CharField(max_length=64, blank=True)
    username = models.CharField(max_length=200, blank=True)
    issue_id = models.CharField(max_length=200, blank=True)
    customer_id = models.CharField(max_length=200, blank=True, db_index=True)
    definition_key = models.CharField(max_length=200, db_index=True, help_text="Workflow definition id.")
    definition_version = models.PositiveIntegerField(null=True, blank=True, help_text="Pinned version.")
    mode = models.CharField(max_length=8, choices=RunMode.choices, default=RunMode.SYNC)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.CREATED, db_index=True)
    current_node = models.CharField(max_length=200, blank=True)
    disposition = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    view = models.JSONField(null=True, blank=True)
    callback_url = models.URLField(max_length=500, blank=True)
    parent_workflow_id = models.CharField(max_length=200, blank=True, db_index=True)
    redrive_of = models.CharField(max_length=200, blank=True, db_index=True,
                                  help_text="The FAILED/TERMINATED run this one redrives.")
    start_request = models.JSONField(default=dict, blank=True, help_text="The start body, kept for rerun.")
    state_seq = models.PositiveIntegerField(default=0, help_text="Workflow state sequence of the last update.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # OpenTelemetry (spec §14): the trace the run's start belongs to, and the span a resume's span links to.
    trace_id = models.CharField(max_length=32, blank=True, help_text="W3C trace id (32 lower-case hex).")
    trace_span_id = models.CharField(max_length=16, blank=True, help_text="The start's span in that trace.")

    class Meta:
        ordering = ["-created_at"]
        # Search (spec §10) pages by descending id within one tenant; each index below ends in the key, and the
        # primary key rides along in both engines' secondary indexes, so the page is read in index order.
        indexes = [
            models.Index(fields=["tenant", "status"]), models.Index(fields=["definition_key", "status"]),
            models.Index(fields=["tenant", "customer_id"], name="run_search_customer"),
            models.Index(fields=["tenant", "incident_id"], name="run_search_incident"),
            models.Index(fields=["tenant", "definition_key"], name="run_search_definition"),
            models.Index(fields=["tenant", "created_at"], name="run_search_created"),
            models.Index(fields=["tenant", "trace_id"], name="run_search_trace"),
        ]
        # Session access to the runtime API (apps/clients/authentication.py); view_run covers GET.
        permissions = [
            ("start_run", "Can start and resume runs, send events and run disconnected nodes (API)"),
            ("terminate_run", "Can terminate runs (API)"),
        ]

    def __str__(self) -> str:
        return self.workflow_id


class RunParam(models.Model):
    """One scalar `params` field of a run's start, extracted so searches by `param.<name>=` use an index."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="param_index")
    tenant = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    value = models.CharField(max_length=200, help_text="Strings as they are; numbers and booleans as JSON.")

    class Meta:
        indexes = [models.Index(fields=["tenant", "name", "value", "run"], name="run_param_search")]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class NodeExecution(models.Model):
    """One executed node of a run: the timeline in admin and the path taken on the graph."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="node_executions")
    seq = models.PositiveIntegerField(help_text="Order of execution within the run.")
    instance_name = models.CharField(max_length=200)
    node_type = models.CharField(max_length=20)
    outcome = models.CharField(max_length=20, help_text="SUCCESS, FAILURE, WAITING ...")
    error = models.TextField(blank=True)
    actor = models.CharField(max_length=200, blank=True, help_text="Who answered a screen (resume), if anyone.")
    lane = models.CharField(max_length=500, blank=True,
                            help_text="The PARALLEL branch the node ran in, as state/branch (nested: joined by ' > ').")
    started_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0)
    host_limit_wait_ms = models.FloatField(
        default=0, help_text="Of duration_ms, the time the HTTP call waited for its host's limit (DRIFT_HOST_LIMITS).")

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="uniq_node_execution_seq")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.instance_name}"


class RunContext(models.Model):
    """The `sql` context store backend: one row per run."""

    workflow_id = models.CharField(max_length=200, unique=True)
    context = models.JSONField(default=dict)
    current_node = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, blank=True)
    seq = models.BigIntegerField(default=0, help_text="Writes with a lower seq are ignored (idempotent retries).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.workflow_id


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


class WebhookDelivery(models.Model):
    delivery_id = models.CharField(max_length=64, unique=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event = models.CharField(max_length=40)
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    state_seq = models.PositiveIntegerField(null=True, blank=True, help_text="The run state it reports.")
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(
        default=timezone.now, db_index=True,
        help_text="When its queued task is due (retry backoff or a deferral); the stale sweep re-enqueues "
                  "deliveries long past it.")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        # One delivery per reported state: a retried persist cannot send the same state twice.
        constraints = [models.UniqueConstraint(fields=["run", "state_seq"], name="uniq_delivery_per_state")]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0)
    attempted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} attempt {self.number}"


# Run ids the server makes: reruns, redrives, bulk items, a schedule's fired runs (`<prefix><schedule>-<tenant
# digest>-<fire time>`, predictable). A client's workflowId may not start with one, so no tenant can take another
# tenant's run id before the server does (issue 19).
RERUN_ID_PREFIX, REDRIVE_ID_PREFIX, BULK_ID_PREFIX, SCHEDULED_ID_PREFIX = "run-", "redrive-", "bulk-", "sched-"
SERVER_ID_PREFIXES = (RERUN_ID_PREFIX, REDRIVE_ID_PREFIX, BULK_ID_PREFIX, SCHEDULED_ID_PREFIX)


class AdmissionGate(models.Model):
    """One row per (tenant, workflow) with `limits`: admission locks it (select_for_update) so that counting
    the active runs and registering a new one are one step for concurrent starts (apps/runs/admission.py)."""

    tenant = models.CharField(max_length=64)
    workflow_key = models.CharField(max_length=200)
    # `startsPerMinute`: when the starts of the last 60 s were admitted (epoch seconds, at most that many kept).
    recent_starts = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "workflow_key"], name="uniq_admission_gate")]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.workflow_key}"


class QueuedStart(models.Model):
    """A start held back by `limits` (overflow QUEUE): its Run row is QUEUED and keeps the start request; this
    row keeps the arrival order (id) until the start is released (apps/runs/admission.py)."""

    tenant = models.CharField(max_length=64)
    workflow_key = models.CharField(max_length=200)
    workflow_id = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when released (the Run row is RUNNING/CREATED); the row goes once Temporal has the start, so a start
    # lost to an outage between the two is made again by the next release pass.
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "workflow_key", "id"], name="queued_start_order")]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.workflow_key}#{self.pk}"
