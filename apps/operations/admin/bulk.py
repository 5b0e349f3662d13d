"""Admin of bulk jobs (spec §10): read-only, Celery works them; the page shows progress and failed runs."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from apps.operations.models import BulkItem, BulkItemState, BulkJob
from apps.operations.selectors import bulk_job_progress
from apps.runs.admin.runs import CSS
from drift.admin import ReadOnlyAdminMixin, ReadOnlyInline, TenantScopedAdminMixin, TenantScopedInlineMixin, json_block


def progress_bar(job: BulkJob) -> str:
    progress = bulk_job_progress(job)
    return format_html(
        '<progress class="drift-progress" max="{}" value="{}"></progress> '
        '<span class="drift-progress-text">{} / {} handled · {} failed · {}</span>',
        progress["total"] or 1, progress["handled"] if progress["total"] else 1, progress["handled"],
        progress["total"], progress["failed"], progress["state"],
    )


class FailedItemInline(TenantScopedInlineMixin, ReadOnlyInline):
    model = BulkItem
    verbose_name = "failed run"
    verbose_name_plural = "Failed runs"
    fields = ("workflow_id", "error", "handled_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=BulkItemState.FAILED)


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("job_id", "tenant", "op", "state", "progress", "created_by", "created_at", "finished_at")
    list_filter = ("state", "op", "tenant")
    search_fields = ("job_id", "items__workflow_id")
    inlines = [FailedItemInline]
    fields = ("job_id", "tenant", "op", "state", "progress", "pretty_selection", "pretty_options", "created_by",
              "created_at", "finished_at")
    readonly_fields = fields
    change_form_template = "admin/operations/bulkjob_change_form.html"

    class Media:
        css = {"all": (CSS,)}

    @admin.display(description="progress")
    def progress(self, obj: BulkJob) -> str:
        return progress_bar(obj)

    @admin.display(description="selection")
    def pretty_selection(self, obj: BulkJob) -> str:
        return json_block(obj.selection)

    @admin.display(description="options")
    def pretty_options(self, obj: BulkJob) -> str:
        return json_block(obj.options)
