"""Routes of an issue to a workflow, with weighted variants (A/B), saved whole through the route service."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from apps.definitions import services
from apps.definitions.admin.common import actor_of, report_error
from apps.definitions.forms import RouteForm, RouteVariantForm, RouteVariantFormSet
from apps.definitions.models import Route, RouteVariant
from drift.admin import TenantScopedAdminMixin, TenantScopedInlineMixin
from drift.errors import DriftError


class RouteVariantInline(TenantScopedInlineMixin, admin.TabularInline):
    model = RouteVariant
    form = RouteVariantForm
    formset = RouteVariantFormSet
    extra = 0
    fields = ("workflow_key", "version", "weight")


@admin.register(Route)
class RouteAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = RouteForm
    inlines = [RouteVariantInline]
    list_display = ("issue_id", "tenant", "workflow_key", "version", "variant_count", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("issue_id", "workflow_key")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("variants")

    @admin.display(description="variants")
    def variant_count(self, obj: Route) -> int:
        return len(obj.variants.all())

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", "issue_id") if obj else ()

    def save_model(self, request, obj, form, change) -> None:
        pass  # saved with its variants in save_related, through the route service

    def save_related(self, request, form, formsets, change) -> None:
        variants = []
        for formset in formsets:
            for sub in formset.forms:
                data = getattr(sub, "cleaned_data", None) or {}
                if data and not data.get("DELETE") and data.get("workflow_key"):
                    variants.append({"workflowId": data["workflow_key"], "version": data.get("version") or "ACTIVE",
                                     "weight": data.get("weight", 1)})
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        obj = form.instance
        try:
            route = services.route_save(tenant=obj.tenant, issue_id=obj.issue_id, workflow_key=obj.workflow_key,
                                        version=obj.version or "ACTIVE", variants=variants, actor=actor_of(request))
        except DriftError as exc:
            report_error(request, exc)
            raise PermissionDenied(exc.message) from exc
        obj.pk = route.pk

    def delete_model(self, request, obj) -> None:
        services.route_delete(tenant=obj.tenant, issue_id=obj.issue_id, actor=actor_of(request))

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

