"""Admin for human tasks: a read-only list of the tasks of the user's tenants (with the view permission);
operators work theirs in the inbox (/admin/inbox/)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.tasks.models import Task
from drift.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin


@admin.register(Task)
class TaskAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("workflow_id", "node", "tenant", "definition_key", "status", "group", "user", "claimed_by",
                    "escalation_level", "due_at", "closed_by", "inbox_link")
    list_filter = ("status", "group", "tenant", "definition_key")
    search_fields = ("workflow_id", "group", "user", "claimed_by", "closed_by")
    date_hierarchy = "waiting_since"

    @admin.display(description="inbox")
    def inbox_link(self, task: Task) -> str:
        return format_html('<a href="{}">open</a>', reverse("tasks:task", args=[task.pk]))
