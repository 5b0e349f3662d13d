"""Human tasks (spec §11): one row per WAITING screen of an INSTRUCTION node that carries an `assignment`.

The workflow owns the task's clock (escalation, timeout) and hands its state to every persist; the worker's
persist activity mirrors it here. Operators claim rows; a resume closes them.
"""

from django.db import models

from apps.runs.models import Run


class TaskStatus(models.TextChoices):
    OPEN = "OPEN"
    RESUMED = "RESUMED"
    TIMED_OUT = "TIMED_OUT"
    TERMINATED = "TERMINATED"


class Task(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tasks")
    tenant = models.CharField(max_length=64, db_index=True)
    workflow_id = models.CharField(max_length=200, db_index=True)
    definition_key = models.CharField(max_length=200, blank=True, help_text="The run's workflow definition id.")
    node = models.CharField(max_length=200, help_text="The INSTRUCTION instance waiting.")
    screen = models.PositiveIntegerField(help_text="The run's state sequence when the screen started waiting.")
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN, db_index=True)
    group = models.CharField(max_length=150, blank=True, db_index=True, help_text="Django group that works it.")
    user = models.CharField(max_length=150, blank=True, db_index=True, help_text="Assigned user, if any.")
    escalation_level = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=150, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    timeout_node = models.CharField(max_length=200, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["due_at", "waiting_since"]
        constraints = [models.UniqueConstraint(fields=["run", "screen"], name="uniq_task_per_screen")]
        indexes = [models.Index(fields=["status", "group"], name="task_inbox")]

    def __str__(self) -> str:
        return f"{self.workflow_id} · {self.node}"
