"""Per-tenant secrets (encrypted at rest, never read back) and the audit of sensitive-data reveals."""

from django.db import models

from core.secret_references import NAME_PATTERN

__all__ = ["NAME_PATTERN", "RevealAudit", "Secret"]


class Secret(models.Model):
    tenant = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=100, help_text="Referenced as {{secret:name}} in HTTP nodes.")
    ciphertext = models.BinaryField(help_text="Fernet token of the value (DRIFT_SECRET_KEYS).")
    updated_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uniq_secret_per_tenant")]
        ordering = ["tenant", "name"]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.name}"


class RevealAudit(models.Model):
    """Who saw a run's sensitive values in clear, where and when."""

    actor = models.CharField(max_length=200)
    tenant = models.CharField(max_length=64, db_index=True)
    workflow_id = models.CharField(max_length=200, db_index=True)
    channel = models.CharField(max_length=40, help_text="api, admin or codec")
    revealed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-revealed_at"]
        permissions = [("reveal_sensitive", "Can see sensitive run data (sensitivePaths, Temporal payloads) in clear")]

    def __str__(self) -> str:
        return f"{self.actor} revealed {self.workflow_id} ({self.channel})"
