"""The definitions' audit trail, read-only."""

from __future__ import annotations

from django.contrib import admin

from apps.definitions.admin.common import ADMIN_MEDIA_CSS
from apps.definitions.models import AuditEntry
from drift.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin, json_block


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("at", "tenant", "actor", "action", "kind", "key", "version")
    list_filter = ("action", "kind", "tenant")
    search_fields = ("key", "actor")
    date_hierarchy = "at"
    fields = ("at", "tenant", "actor", "action", "kind", "key", "version", "pretty_details")
    readonly_fields = fields

    class Media:
        css = {"all": (ADMIN_MEDIA_CSS,)}

    @admin.display(description="details")
    def pretty_details(self, obj: AuditEntry) -> str:
        return json_block(obj.details)

