from django.contrib import admin
from django.db import models

from apps.clients.models import ApiClient, ApiKey


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "scopes", "is_active", "created_at", "last_used_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are minted by `manage.py create_api_key`, which shows the secret once


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("tenant", "client_id", "name", "callback_url", "created_at")
    list_filter = ("tenant",)
    search_fields = ("tenant", "client_id", "name")
    inlines = [ApiKeyInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
