"""Test reports: each run of a workflow version's test cases (spec §9), kept for the audit trail."""

from django.db import models


class TestReport(models.Model):
    """One run of a version's test cases; an activation's audit entry names the report that let it through."""

    tenant = models.CharField(max_length=64)
    workflow_key = models.CharField(max_length=200)
    version = models.PositiveIntegerField(help_text="The tested number; 0 = the SNAPSHOT.")
    passed = models.BooleanField()
    cases = models.JSONField(default=list, help_text="Per case: name, passed, failure, status, path, timeline.")
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "workflow_key", "version"], name="test_report_lookup")]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.workflow_key} v{self.version}: {'passed' if self.passed else 'FAILED'}"

    def as_dict(self) -> dict:
        return {"id": self.pk, "workflowId": self.workflow_key, "version": self.version or "SNAPSHOT",
                "passed": self.passed, "cases": self.cases, "actor": self.actor,
                "createdAt": self.created_at.isoformat()}
