from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.template.response import TemplateResponse

from apps.clients.models import ApiClient, ApiKey, TenantMembership
from apps.clients.services import api_client_rotate_webhook_secret, new_webhook_secret
from apps.clients.webhook_urls import webhook_url_problem


class ApiKeyInline(admin.TabularInline):
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
class ApiClientAdmin(admin.ModelAdmin):
    """The webhook secret is never displayed here except once, by the rotate action that creates it."""

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


class TenantMembershipInline(admin.TabularInline):
    """On the user page: the tenants this staff user may use the API for with a session."""

    model = TenantMembership
    extra = 1
    fields = ("tenant", "groups", "created_at")
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
