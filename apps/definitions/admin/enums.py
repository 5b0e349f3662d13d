"""The enum store: a tenant's named JSON values, set and deleted through the enum service."""

from __future__ import annotations

import json

from django.contrib import admin

from apps.definitions import services
from apps.definitions.admin.common import ADMIN_MEDIA_CSS, actor_of
from apps.definitions.forms import EnumEntryForm
from apps.definitions.models import EnumEntry
from drift.admin import TenantScopedAdminMixin


@admin.register(EnumEntry)
class EnumEntryAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = EnumEntryForm
    list_display = ("key", "tenant", "short_value", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("key",)

    class Media:
        css = {"all": (ADMIN_MEDIA_CSS,)}

    @admin.display(description="value")
    def short_value(self, obj: EnumEntry) -> str:
        text = json.dumps(obj.value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:79] + "…"

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", "key", "updated_at") if obj else ()

    def save_model(self, request, obj, form, change) -> None:
        entry = services.enum_entry_set(tenant=obj.tenant, key=obj.key, value=form.cleaned_data["value"],
                                        actor=actor_of(request))
        obj.pk = entry.pk

    def delete_model(self, request, obj) -> None:
        services.enum_entry_delete(tenant=obj.tenant, key=obj.key, actor=actor_of(request))

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

