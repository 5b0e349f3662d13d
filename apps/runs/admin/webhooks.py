"""Admin of webhook deliveries (spec §6): read-only, with each attempt."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.runs.admin.runs import CSS
from apps.runs.models import WebhookAttempt, WebhookDelivery
from drift.admin import ReadOnlyAdminMixin, ReadOnlyInline, TenantScopedAdminMixin, TenantScopedInlineMixin, json_block


class WebhookAttemptInline(TenantScopedInlineMixin, ReadOnlyInline):
    parent_tenant_field = "run.tenant"
    model = WebhookAttempt
    fields = ("number", "status_code", "error", "duration_ms", "attempted_at")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_field = "run__tenant"
    list_display = ("delivery_id", "run_link", "event", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status", "event")
    search_fields = ("delivery_id", "run__workflow_id", "url")
    date_hierarchy = "created_at"
    list_select_related = ("run",)
    inlines = [WebhookAttemptInline]
    fields = ("delivery_id", "run_link", "event", "url", "status", "attempts", "created_at", "next_attempt_at",
              "delivered_at", "pretty_payload")
    readonly_fields = fields

    class Media:
        css = {"all": (CSS,)}

    @admin.display(description="run", ordering="run__workflow_id")
    def run_link(self, obj: WebhookDelivery) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:runs_run_change", args=[obj.run_id]),
                           obj.run.workflow_id)

    @admin.display(description="payload")
    def pretty_payload(self, obj: WebhookDelivery) -> str:
        return json_block(obj.payload)
