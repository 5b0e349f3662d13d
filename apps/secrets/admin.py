"""Admin: secrets are set and replaced through a write-only form (the value is never shown again);
the reveal audit is read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from apps.secrets.models import RevealAudit, Secret
from apps.secrets.services import MAX_VALUE_CHARS, check_secret_name, secret_put
from drift.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin
from drift.errors import DriftError


class SecretForm(forms.ModelForm):
    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False), max_length=MAX_VALUE_CHARS, strip=False,
        help_text="Write-only: stored encrypted, never displayed. Leave empty to keep the current value.",
        required=False,
    )

    class Meta:
        model = Secret
        fields = ("tenant", "name")

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.instance.pk is None and not cleaned.get("value"):
            self.add_error("value", "A new secret needs a value.")
        name = cleaned.get("name")
        if name:
            try:
                check_secret_name(name)
            except DriftError as exc:
                self.add_error("name", exc.details[0].problem if exc.details else exc.message)
        return cleaned


@admin.register(Secret)
class SecretAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = SecretForm
    list_display = ("name", "tenant", "updated_at", "updated_by")
    list_filter = ("tenant",)
    search_fields = ("name", "tenant")
    readonly_fields = ("updated_at", "updated_by")

    def get_readonly_fields(self, request, obj=None):
        # Renaming or moving a secret would silently break the nodes that reference it.
        return (*self.readonly_fields, "tenant", "name") if obj is not None else self.readonly_fields

    def save_model(self, request, obj: Secret, form: SecretForm, change: bool) -> None:
        value = form.cleaned_data.get("value")
        if value:
            saved = secret_put(tenant=obj.tenant, name=obj.name, value=value, actor=request.user.get_username())
            obj.pk, obj.ciphertext = saved.pk, saved.ciphertext


@admin.register(RevealAudit)
class RevealAuditAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("revealed_at", "actor", "tenant", "workflow_id", "channel")
    list_filter = ("channel", "tenant")
    search_fields = ("actor", "workflow_id")
    date_hierarchy = "revealed_at"
