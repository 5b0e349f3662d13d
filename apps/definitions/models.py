"""Node and workflow definitions with their versions, routes, the enum store and the audit trail."""

from django.db import models

SNAPSHOT = 0  # DefinitionVersion.version of the mutable draft


class Kind(models.TextChoices):
    NODE = "NODE", "Node definition"
    WORKFLOW = "WORKFLOW", "Workflow definition"


DefinitionKind = Kind  # the name other apps import


class Definition(models.Model):
    """Head row of one definition id: which numbers exist and which one serves traffic."""

    tenant = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=200, help_text="The DSL `id`.")
    latest_version = models.PositiveIntegerField(default=0, help_text="Highest published number; 0 = none.")
    active_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "key"], name="uniq_definition_key")]
        ordering = ["tenant", "kind", "key"]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.kind}/{self.key}"


class DefinitionVersion(models.Model):
    """One version's DSL document; version 0 is the SNAPSHOT, numbered rows are immutable."""

    definition = models.ForeignKey(Definition, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    body = models.JSONField()
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["definition", "version"], name="uniq_definition_version")]
        ordering = ["definition", "version"]

    def __str__(self) -> str:
        return f"{self.definition} v{self.label}"

    @property
    def label(self) -> str | int:
        return "SNAPSHOT" if self.version == SNAPSHOT else self.version


class _KindManager(models.Manager):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(kind=self.kind)


class NodeDefinition(Definition):
    objects = _KindManager(Kind.NODE)

    class Meta:
        proxy = True
        verbose_name = "node definition"

    def save(self, *args, **kwargs) -> None:  # rows made through the proxy belong to its kind
        self.kind = Kind.NODE
        super().save(*args, **kwargs)


class WorkflowDefinition(Definition):
    objects = _KindManager(Kind.WORKFLOW)

    class Meta:
        proxy = True
        verbose_name = "workflow definition"

    def save(self, *args, **kwargs) -> None:
        self.kind = Kind.WORKFLOW
        super().save(*args, **kwargs)


class Route(models.Model):
    """(tenant, issueId) -> workflow id + version; variants, when present, split traffic by weight."""

    tenant = models.CharField(max_length=64)
    issue_id = models.CharField(max_length=200)
    workflow_key = models.CharField(max_length=200)
    version = models.CharField(max_length=16, default="ACTIVE", help_text="ACTIVE, LATEST or a number.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "issue_id"], name="uniq_route_issue")]
        ordering = ["tenant", "issue_id"]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.issue_id} -> {self.workflow_key}@{self.version}"


class RouteVariant(models.Model):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="variants")
    workflow_key = models.CharField(max_length=200)
    version = models.CharField(max_length=16, default="ACTIVE")
    weight = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["route", "id"]

    def __str__(self) -> str:
        return f"{self.workflow_key}@{self.version} x{self.weight}"


class EnumEntry(models.Model):
    tenant = models.CharField(max_length=64)
    key = models.CharField(max_length=200)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="uniq_enum_key")]
        ordering = ["tenant", "key"]
        verbose_name_plural = "enum entries"

    def __str__(self) -> str:
        return f"{self.tenant}/{self.key}"


class AuditAction(models.TextChoices):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    PUBLISH = "PUBLISH"
    ACTIVATE = "ACTIVATE"
    DELETE = "DELETE"
    REDRIVE = "REDRIVE"  # kind RUN: a run redriven (spec §10)


class AuditEntry(models.Model):
    """Who changed what and when; `kind` is NODE, WORKFLOW, ROUTE, ENUM or TASK (claim, release, resume)."""

    tenant = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    key = models.CharField(max_length=200)
    version = models.PositiveIntegerField(null=True, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    actor = models.CharField(max_length=200)
    at = models.DateTimeField(auto_now_add=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "kind", "key"], name="audit_lookup")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.kind} {self.key}"
