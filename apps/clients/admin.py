import json

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.forms.fields import InvalidJSONInput
from django.template.response import TemplateResponse

from apps.clients.access import is_platform_operator
from apps.clients.models import ApiClient, ApiKey, TenantDefaults, TenantMembership
from apps.clients.services import api_client_rotate_webhook_secret, new_webhook_secret, tenant_defaults_forget
from apps.clients.webhook_urls import webhook_url_problem
from apps.definitions.dsl import limits_problems
from core.json_safety import printable
from drift.admin import TenantScopedAdminMixin, TenantScopedInlineMixin
from drift.json_input import unsafe_json_problem


class ApiKeyInline(TenantScopedInlineMixin, admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "scopes", "is_active", "created_at", "last_used_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are minted by `manage.py create_api_key`, which shows the secret once


class ApiClientForm(forms.ModelForm):
    callback_url = forms.URLField(max_length=500, required=False, assume_scheme="https",
                                  help_text=ApiClient._meta.get_field("callback_url").help_text)

    class Meta:
        model = ApiClient
        fields = ("tenant", "client_id", "name", "callback_url")

    def clean_callback_url(self) -> str:
        url = self.cleaned_data["callback_url"]
        problem = webhook_url_problem(url) if url else None
        if problem:
            raise forms.ValidationError(problem)
        return url


@admin.register(ApiClient)
class ApiClientAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """The webhook secret is never displayed here except once, by the rotate action that creates it. A staff user
    sees and creates the clients of their tenants only (TenantScopedAdminMixin)."""

    form = ApiClientForm
    list_display = ("tenant", "client_id", "name", "callback_url", "signed", "created_at")
    list_filter = ("tenant",)
    search_fields = ("tenant", "client_id", "name")
    readonly_fields = ("signed",)
    inlines = [ApiKeyInline]
    actions = ["rotate_webhook_secrets"]

    @admin.display(description="webhooks signed", boolean=True)
    def signed(self, obj: ApiClient) -> bool:
        return bool(obj.webhook_secret)

    def save_model(self, request, obj: ApiClient, form, change: bool) -> None:
        if not obj.webhook_secret:
            obj.webhook_secret = new_webhook_secret()  # rotate to see it
        super().save_model(request, obj, form, change)

    @admin.action(description="Rotate the webhook secret of the selected clients (shows it once)",
                  permissions=["change"])
    def rotate_webhook_secrets(self, request, queryset):
        with transaction.atomic():
            rotated = [(client, api_client_rotate_webhook_secret(client=client)) for client in queryset]
        for client, _ in rotated:
            self.log_change(request, client, "Rotated the webhook secret.")
        response = TemplateResponse(request, "admin/clients/webhook_secrets.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "rotated": rotated,
            "title": "New webhook secrets",
        })
        response["Cache-Control"] = "no-store"  # shown once: never from a cache or the back button
        return response


class LimitsField(forms.JSONField):
    """A definition's `limits` object, checked as the DSL checks it: each problem names its `$.limits` path."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def to_python(self, value):
        try:
            limits = super().to_python(value)
        except RecursionError:  # json's decoder on absurd nesting
            raise forms.ValidationError("$.limits: is nested too deeply") from None
        problems = [problem] if (problem := unsafe_json_problem(limits, "$.limits")) else limits_problems(limits)
        if problems:  # a path may hold a posted key with a lone surrogate: shown escaped
            raise forms.ValidationError([f"{printable(p.path)}: {p.problem}" for p in problems])
        return limits

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)

    def prepare_value(self, value):
        # ASCII: a posted lone surrogate is shown as its escape, never written into the page (unencodable).
        return value if isinstance(value, InvalidJSONInput) else json.dumps(value, cls=self.encoder)


class TenantDefaultsForm(forms.ModelForm):
    limits = LimitsField(required=False, help_text=TenantDefaults._meta.get_field("limits").help_text)

    class Meta:
        model = TenantDefaults
        fields = ("tenant", "limits")


@admin.register(TenantDefaults)
class TenantDefaultsAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """A tenant's default run limits (spec §13): its staff see and edit their tenants' rows only."""

    form = TenantDefaultsForm
    list_display = ("tenant", "limits", "updated_at")
    search_fields = ("tenant",)

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", "updated_at") if obj else ("updated_at",)

    # Admission caches each tenant's defaults (apps.clients.selectors.tenant_default_limits).
    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        tenant_defaults_forget(tenant=obj.tenant)

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        tenant_defaults_forget(tenant=obj.tenant)

    def delete_queryset(self, request, queryset) -> None:
        tenants = list(queryset.values_list("tenant", flat=True))
        super().delete_queryset(request, queryset)
        for tenant in tenants:
            tenant_defaults_forget(tenant=tenant)


class PlatformOperatorWritesMixin:
    """Who acts for which tenant, and with which permissions, is the platform operators' decision: only superusers
    add, change or delete users, groups and tenant memberships. Otherwise a staff user of tenant B holding the
    auth permissions would grant themselves tenant A, a permission or superuser status."""

    def has_add_permission(self, request, *args) -> bool:
        return is_platform_operator(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_platform_operator(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_platform_operator(request.user)


class TenantMembershipInline(PlatformOperatorWritesMixin, admin.TabularInline):
    """On the user page: the tenants this staff user acts for (admin, inbox, API with a session)."""

    model = TenantMembership
    extra = 1
    fields = ("tenant", "groups", "created_at")
    readonly_fields = ("created_at",)
    verbose_name = "API tenant"
    verbose_name_plural = "API tenants (session access to the REST API; superusers: every tenant)"


@admin.register(TenantMembership)
class TenantMembershipAdmin(PlatformOperatorWritesMixin, admin.ModelAdmin):
    def has_view_permission(self, request, obj=None) -> bool:
        return is_platform_operator(request.user)  # the list says who works for which tenant: every tenant's staff

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
class DriftUserAdmin(PlatformOperatorWritesMixin, _user_admin):
    """Users span tenants: a non-superuser sees their own account only, and edits nothing here (their password
    through the admin's own "Change password" page)."""

    inlines = [*getattr(_user_admin, "inlines", ()), TenantMembershipInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if is_platform_operator(request.user) else queryset.filter(pk=request.user.pk)


if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(Group)
class DriftGroupAdmin(PlatformOperatorWritesMixin, GroupAdmin):
    """Groups carry permissions: only superusers edit them (see PlatformOperatorWritesMixin)."""
