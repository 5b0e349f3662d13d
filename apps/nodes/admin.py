"""The HostLimit admin (spec §13): platform operators (superusers) only. Host limits are shared by every tenant,
so a tenant's staff user, whatever model permissions they hold, neither sees nor changes them."""

from __future__ import annotations

from django.contrib import admin

from apps.clients.access import is_platform_operator
from apps.nodes import services
from apps.nodes.models import HostLimit


@admin.register(HostLimit)
class HostLimitAdmin(admin.ModelAdmin):
    list_display = ("host", "requests_per_second", "burst", "max_in_flight", "updated_at", "updated_by")
    search_fields = ("host",)
    fields = ("host", "requests_per_second", "burst", "max_in_flight", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_module_permission(self, request) -> bool:
        return is_platform_operator(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_platform_operator(request.user)

    def has_add_permission(self, request) -> bool:
        return is_platform_operator(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_platform_operator(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_platform_operator(request.user)

    def save_model(self, request, obj: HostLimit, form, change: bool) -> None:
        services.host_limit_save(obj, actor=request.user.get_username())

    def delete_model(self, request, obj: HostLimit) -> None:
        services.host_limit_delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            services.host_limit_delete(row)
