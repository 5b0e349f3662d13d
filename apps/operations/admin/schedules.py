"""Admin of schedules (spec §10): editable, the row is the truth and Temporal follows on save."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from apps.clients.access import is_platform_operator
from apps.operations.api.serializers import ScheduleSerializer
from apps.operations.models import Schedule
from apps.operations.schedules import (
    schedule_delete,
    schedule_save,
    schedule_set_paused,
    schedule_trigger,
    schedules_reconcile,
)
from apps.runs.admin.runs import START_RUN
from drift.admin import TenantScopedAdminMixin
from drift.errors import DriftError


class ScheduleForm(forms.ModelForm):
    """Checked by the API's serializer, so the admin accepts exactly what /v3/schedules/ accepts."""

    _API_NAMES = {"schedule_id": "id", "workflow_key": "workflowId", "issue_id": "issueId", "version": "version",
                  "cron": "cron", "interval_seconds": "intervalSeconds", "start": "start", "overlap": "overlap",
                  "paused": "paused"}

    class Meta:
        model = Schedule
        fields = ("tenant", "schedule_id", "workflow_key", "issue_id", "version", "cron", "interval_seconds",
                  "start", "overlap", "paused")

    def clean(self) -> dict:
        data = super().clean()
        body = {api: data[field] for field, api in self._API_NAMES.items() if data.get(field) not in (None, "")}
        body["paused"] = bool(data.get("paused"))
        serializer = ScheduleSerializer(data=body)
        if not serializer.is_valid():
            fields = {api: field for field, api in self._API_NAMES.items()}
            for name, errors in serializer.errors.items():
                self.add_error(fields.get(name), " ".join(map(str, errors)))
        else:
            self.api_fields = ScheduleSerializer.model_fields(serializer.validated_data)
        return data


@admin.register(Schedule)
class ScheduleAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = ScheduleForm
    list_display = ("schedule_id", "tenant", "target", "when", "overlap", "paused", "synced_at", "sync_state")
    list_filter = ("paused", "overlap", "tenant")
    search_fields = ("schedule_id", "workflow_key", "issue_id")
    actions = ["pause_schedules", "resume_schedules", "trigger_schedules", "reconcile_all"]
    readonly_fields = ("created_by", "created_at", "updated_at", "synced_at", "sync_error")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "tenant", "schedule_id") if obj else self.readonly_fields

    @admin.display(description="runs")
    def target(self, obj: Schedule) -> str:
        return f"workflow {obj.workflow_key}" if obj.workflow_key else f"issue {obj.issue_id}"

    @admin.display(description="when")
    def when(self, obj: Schedule) -> str:
        return f"cron {obj.cron}" if obj.cron else f"every {obj.interval_seconds} s"

    @admin.display(description="Temporal", boolean=True)
    def sync_state(self, obj: Schedule) -> bool:
        return obj.synced_at is not None and not obj.sync_error

    def save_model(self, request, obj: Schedule, form, change) -> None:
        saved = schedule_save(tenant=obj.tenant, schedule_id=obj.schedule_id, fields=form.api_fields,
                              client_id=obj.client_id or "admin", actor=f"admin:{request.user.get_username()}",
                              create=not change)
        obj.pk = saved.pk
        if saved.sync_error:
            messages.warning(request, f"Saved; Temporal not updated yet ({saved.sync_error}). The reconciler retries.")

    def delete_model(self, request, obj: Schedule) -> None:
        schedule_delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            schedule_delete(row)

    def has_trigger_permission(self, request: HttpRequest, obj: Schedule | None = None) -> bool:
        """Trigger now starts a run: the schedule's change permission and the run's start permission."""
        return self.has_change_permission(request, obj) and self.may(request, START_RUN, obj)

    def has_reconcile_permission(self, request: HttpRequest) -> bool:
        # Reconciling walks every tenant's schedules and Temporal's: a platform operation.
        return is_platform_operator(request.user)

    @admin.action(description="Pause the selected schedules", permissions=["change"])
    def pause_schedules(self, request, queryset) -> None:
        for row in queryset:
            schedule_set_paused(row, True)

    @admin.action(description="Resume the selected schedules", permissions=["change"])
    def resume_schedules(self, request, queryset) -> None:
        for row in queryset:
            schedule_set_paused(row, False)

    @admin.action(description="Trigger one run of the selected schedules now", permissions=["trigger"])
    def trigger_schedules(self, request, queryset) -> None:
        for row in queryset:
            try:
                schedule_trigger(row)
                messages.success(request, f"{row.schedule_id} triggered.")
            except DriftError as exc:
                messages.error(request, f"{row.schedule_id}: {exc.message}")

    @admin.action(description="Reconcile every schedule with Temporal now (platform operators)",
                  permissions=["reconcile"])
    def reconcile_all(self, request, queryset) -> None:
        report = schedules_reconcile()
        messages.info(request, f"Synced {report['synced']}, failed {report['failed']}, deleted {report['deleted']} "
                               "orphaned Temporal schedules.")
