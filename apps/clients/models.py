"""API clients (one per tenant and client id), their hashed API keys, and the tenants a staff user may act for."""

from django.conf import settings
from django.db import models


class Scope(models.TextChoices):
    RUNTIME = "runtime", "Runtime API"
    DEFINITIONS = "definitions", "Definition API"
    REVEAL = "reveal", "Sensitive run data in clear (audited)"


class ApiClient(models.Model):
    tenant = models.CharField(max_length=64, db_index=True)
    client_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    callback_url = models.URLField(max_length=500, blank=True, help_text="Default webhook URL for ASYNC runs.")
    webhook_secret = models.CharField(max_length=128, blank=True, help_text="HMAC-SHA256 key for webhooks.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "client_id"], name="uniq_client_per_tenant")]
        ordering = ["tenant", "client_id"]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.client_id}"


class ApiKey(models.Model):
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part of the key, for lookup.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 of the whole key; the key is never stored.")
    scopes = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.client})"


class TenantMembership(models.Model):
    """A staff user may act for this tenant (superusers: every tenant), and holds these groups' human tasks there.
    See docs/security.md."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_memberships")
    tenant = models.CharField(max_length=64, db_index=True)
    # Task groups are per tenant: "support" of tenant A is not "support" of tenant B (docs/human-tasks.md).
    groups = models.ManyToManyField(
        "auth.Group", blank=True, related_name="tenant_memberships",
        help_text="The groups this user holds in this tenant: it works their human tasks there.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="uniq_membership_per_tenant")]
        ordering = ["user", "tenant"]

    def __str__(self) -> str:
        return f"{self.user} -> {self.tenant}"


class TenantDefaults(models.Model):
    """A tenant's defaults, kept by its operators in the admin: the run `limits` of its workflows whose definition
    sets none (spec §13; settings.DRIFT_TENANT_LIMITS stays the deployment-wide fallback)."""

    tenant = models.CharField(max_length=64, unique=True)
    limits = models.JSONField(
        null=True, blank=True,
        help_text='Like a definition\'s `limits`: {"maxConcurrentRuns": 20, "startsPerMinute": 600, '
                  '"overflow": "QUEUE" or "REJECT"} (at least one of the counts). '
                  "Empty: the deployment's default (DRIFT_TENANT_LIMITS), else no limit.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant"]
        verbose_name = verbose_name_plural = "tenant defaults"

    def __str__(self) -> str:
        return f"{self.tenant} defaults"
