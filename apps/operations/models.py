"""Run operations (spec §10): idempotent starts, bulk jobs and schedules.

The models moved here from apps.runs with state-only migrations: each keeps its table (`db_table`), so no row
moved. Runs are apps.runs' mirror rows; these rows only name them by workflow id.
"""

from django.db import models


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` of a start (spec §10): the unique constraint makes the first start win across
    API processes; later starts with the key answer that run's state (or 409 for another body)."""

    tenant = models.CharField(max_length=64)
    client_id = models.CharField(max_length=64)
    key = models.CharField(max_length=200)
    body_hash = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON start body.")
    workflow_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "runs_idempotencykey"
        constraints = [models.UniqueConstraint(fields=["tenant", "client_id", "key"], name="uniq_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.client_id}/{self.key}"


class BulkOp(models.TextChoices):
    TERMINATE = "terminate"
    RERUN = "rerun"
    REDRIVE = "redrive"


class BulkJobState(models.TextChoices):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"


class BulkJob(models.Model):
    """A bulk terminate / rerun / redrive (spec §10), worked by a Celery task item by item.

    Whoever holds the lease (`lease_until` in the future) works the job; a worker that died lets it lapse, and
    the periodic sweep hands the job to another worker, which carries on with the items still PENDING."""

    job_id = models.CharField(max_length=32, unique=True)
    tenant = models.CharField(max_length=64, db_index=True)
    op = models.CharField(max_length=12, choices=BulkOp.choices)
    selection = models.JSONField(help_text='{"filter": {search keys}} or {"ids": [...]}, as requested.')
    options = models.JSONField(default=dict, blank=True, help_text="Terminate reason or redrive options.")
    state = models.CharField(max_length=10, choices=BulkJobState.choices, default=BulkJobState.PENDING)
    total = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "runs_bulkjob"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.op} {self.job_id}"


class BulkItemState(models.TextChoices):
    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"


class BulkItem(models.Model):
    """One run of a bulk job; handled once: PENDING until its operation is done (or failed for good)."""

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    workflow_id = models.CharField(max_length=200)
    state = models.CharField(max_length=8, choices=BulkItemState.choices, default=BulkItemState.PENDING)
    result_workflow_id = models.CharField(max_length=200, blank=True, help_text="The run a rerun/redrive started.")
    error = models.TextField(blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "runs_bulkitem"
        ordering = ["job", "id"]
        constraints = [models.UniqueConstraint(fields=["job", "workflow_id"], name="uniq_bulk_item")]
        indexes = [models.Index(fields=["job", "state"], name="bulk_item_state")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.workflow_id}"


SCHEDULE_PREFIX = "drift-schedule:"  # every Temporal schedule Drift owns; the reconciler deletes orphans


class OverlapPolicy(models.TextChoices):
    SKIP = "SKIP"
    BUFFER_ONE = "BUFFER_ONE"
    ALLOW_ALL = "ALLOW_ALL"


class Schedule(models.Model):
    """A schedule of runs (spec §10). This row is the source of truth; a Temporal Schedule carries it out and is
    reconciled to it on every save and periodically (created when missing, updated, deleted with the row)."""

    tenant = models.CharField(max_length=64)
    schedule_id = models.CharField(max_length=100, help_text="The id in the API (unique per tenant).")
    workflow_key = models.CharField(max_length=200, blank=True, help_text="Workflow definition id, or ...")
    issue_id = models.CharField(max_length=200, blank=True, help_text="... an issue routed to a workflow.")
    version = models.CharField(max_length=20, blank=True, help_text="Empty: resolved (ACTIVE) at each run.")
    cron = models.CharField(max_length=200, blank=True)
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    start = models.JSONField(default=dict, blank=True, help_text="The start body each run gets.")
    overlap = models.CharField(max_length=12, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP)
    paused = models.BooleanField(default=False)
    client_id = models.CharField(max_length=64, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    synced_at = models.DateTimeField(null=True, blank=True, help_text="Last time Temporal matched this row.")
    sync_error = models.TextField(blank=True)

    class Meta:
        db_table = "runs_schedule"
        ordering = ["tenant", "schedule_id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "schedule_id"], name="uniq_schedule_id")]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.schedule_id}"

    @property
    def temporal_id(self) -> str:
        # The tenant's length keeps (tenant "a-b", id "c") and (tenant "a", id "b-c") apart.
        return f"{SCHEDULE_PREFIX}{len(self.tenant)}:{self.tenant}:{self.schedule_id}"
