from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import models

from apps.clients.models import ApiClient, ApiKey, TenantMembership


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


class TenantMembershipInline(admin.TabularInline):
    """On the user page: the tenants this staff user may use the API for with a session."""

    model = TenantMembership
    extra = 1
    fields = ("tenant", "created_at")
    readonly_fields = ("created_at",)
    verbose_name = "API tenant"
    verbose_name_plural = "API tenants (session access to the REST API; superusers: every tenant)"


@admin.register(TenantMembership)
class TenantMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("user__username", "tenant")
    autocomplete_fields = ("user",)


User = get_user_model()
if admin.site.is_registered(User):
    _user_admin = type(admin.site._registry[User])
    admin.site.unregister(User)
else:
    _user_admin = UserAdmin


@admin.register(User)
class DriftUserAdmin(_user_admin):
    inlines = [*getattr(_user_admin, "inlines", ()), TenantMembershipInline]
