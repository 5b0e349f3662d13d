"""The node and workflow definition pages (spec §6): the SNAPSHOT JSON editor with inline validation, publish /
activate / rollback (one by one or as change-list actions), the graph picture, and the workflow page's visual
builder (issue 22). Their version, diff and import pages are in `pages`.

Every write goes through apps.definitions.services with the admin username as the actor."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse

from apps.definitions import dsl, selectors, services
from apps.definitions.admin.common import ADMIN_MEDIA_CSS, actor_of, report_error
from apps.definitions.admin.pages import DefinitionPagesMixin
from apps.definitions.admin.pictures import builder_html, workflow_graph_html
from apps.definitions.forms import ActivateForm, DefinitionForm, JsonDocumentField
from apps.definitions.models import Definition, Kind, NodeDefinition, WorkflowDefinition
from apps.definitions.versions import SNAPSHOT
from drift.admin import AdminExtension, ExtensibleAdminMixin, TenantScopedAdminMixin
from drift.errors import DriftError


class DefinitionAdminExtension(AdminExtension):
    """An extension of a definition admin (drift.admin.admin_extend) that may also add to the workflow builder."""

    def builder_extra(self, model_admin: WorkflowDefinitionAdmin, obj: Definition | None) -> dict[str, str]:
        """More data-* attributes of the builder's mount point."""
        return {}


class DefinitionAdmin(DefinitionPagesMixin, ExtensibleAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    kind: str = Kind.WORKFLOW
    permission_model = "definition"  # both proxies answer to the agreed definitions.<action>_definition
    form = DefinitionForm
    list_display = ("key", "tenant", "latest", "active", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("key",)
    ordering = ("tenant", "key")
    actions = ["validate_snapshots", "publish_snapshots", "activate_latest"]
    change_form_template = "admin/definitions/definition_change_form.html"
    change_list_template = "admin/definitions/definition_change_list.html"
    readonly_on_change = ("tenant", "key", "latest", "active", "created_at", "updated_at")

    class Media:
        css = {"all": (ADMIN_MEDIA_CSS,)}

    # list columns

    @admin.display(description="latest", ordering="latest_version")
    def latest(self, obj: Definition) -> str:
        return str(obj.latest_version) if obj.latest_version else "—"

    @admin.display(description="active", ordering="active_version")
    def active(self, obj: Definition) -> str:
        return str(obj.active_version) if obj.active_version else "—"

    # form

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.kind = self.kind
        return form

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["tenant", "document"]})]
        sets = [(None, {"fields": [("tenant", "key"), ("latest", "active"), ("created_at", "updated_at")]}),
                ("SNAPSHOT", {"fields": ["document"]})]
        if self.kind == Kind.WORKFLOW:
            sets.append(("Graph (SNAPSHOT)", {"fields": ["graph"]}))
        return sets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (*self.readonly_on_change, "graph") if self.kind == Kind.WORKFLOW else self.readonly_on_change

    @admin.display(description="graph")
    def graph(self, obj: Definition) -> str:
        body = selectors.definition_find(tenant=obj.tenant, kind=obj.kind, key=obj.key, version=SNAPSHOT)
        if body is None:
            return "—"
        return workflow_graph_html(obj.tenant, body)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # definitions are versioned history: there is no delete service

    def save_model(self, request, obj, form, change) -> None:
        tenant = obj.tenant if change else form.cleaned_data["tenant"]
        try:
            snapshot, warnings = services.definition_save_snapshot(
                tenant=tenant, kind=self.kind, body=form.body, actor=actor_of(request), create=not change
            )
        except DriftError as exc:  # a concurrent change since the form was validated
            report_error(request, exc)
            raise PermissionDenied(exc.message) from exc
        obj.pk = snapshot.definition_id
        obj.refresh_from_db()
        for warning in warnings:
            messages.warning(request, f"Warning: {warning.path}: {warning.problem}")

    def save_related(self, request, form, formsets, change) -> None:
        pass  # nothing related is edited here

    def construct_change_message(self, request, form, formsets, add=False):
        return [{"added": {}}] if add else [{"changed": {"fields": ["SNAPSHOT"]}}]

    # extra views

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<int:pk>/validate/", wrap(self.validate_view), name=f"{prefix}_validate"),
            path("<int:pk>/publish/", wrap(self.publish_view), name=f"{prefix}_publish"),
            path("<int:pk>/activate/", wrap(self.activate_view), name=f"{prefix}_activate"),
            path("<int:pk>/versions/", wrap(self.versions_view), name=f"{prefix}_versions"),
            path("<int:pk>/versions/<str:version>/", wrap(self.version_view), name=f"{prefix}_version"),
            path("<int:pk>/diff/", wrap(self.diff_view), name=f"{prefix}_diff"),
            path("import-drift/", wrap(self.import_drift_view), name=f"{prefix}_import_drift"),
            *super().get_urls(),
        ]

    def url_for(self, name: str, *args: Any) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def object_for(self, request: HttpRequest, pk: int, *, write: bool) -> Definition:
        return self.scoped_object(request, pk, self.permission_name("change" if write else "view"))

    def back_to(self, obj: Definition) -> HttpResponseRedirect:
        return HttpResponseRedirect(self.url_for("change", obj.pk))

    def _validate_one(self, request: HttpRequest, obj: Definition) -> bool:
        body = selectors.definition_find(tenant=obj.tenant, kind=obj.kind, key=obj.key, version=SNAPSHOT)
        problems = services.definition_validate(tenant=obj.tenant, kind=obj.kind, body=body)
        errors, warnings = dsl.errors_of(problems), dsl.warnings_of(problems)
        for problem in errors:
            messages.error(request, f"{obj.key}: {problem.path}: {problem.problem}")
        for problem in warnings:
            messages.warning(request, f"{obj.key}: warning: {problem.path}: {problem.problem}")
        if not errors:
            messages.success(request, f"{obj.key}: the SNAPSHOT is valid"
                                      + (f" ({len(warnings)} warning(s))." if warnings else "."))
        return not errors

    def validate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.object_for(request, pk, write=False)
        if request.method == "POST":
            self._validate_one(request, obj)
        return self.back_to(obj)

    def _publish_one(self, request: HttpRequest, obj: Definition) -> bool:
        try:
            version = services.definition_publish(tenant=obj.tenant, kind=obj.kind, key=obj.key,
                                                  actor=actor_of(request))
        except DriftError as exc:
            report_error(request, exc)
            return False
        messages.success(request, f"{obj.key}: published the SNAPSHOT as version {version.version}.")
        return True

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.object_for(request, pk, write=True)
        if request.method == "POST":
            self._publish_one(request, obj)
        return self.back_to(obj)

    def activate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.object_for(request, pk, write=True)
        if request.method != "POST":
            return self.back_to(obj)
        form = ActivateForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a published version to activate.")
            return self.back_to(obj)
        number = form.cleaned_data["version"]
        previous = obj.active_version
        try:
            services.definition_activate(tenant=obj.tenant, kind=obj.kind, key=obj.key, version=number,
                                         actor=actor_of(request))
        except DriftError as exc:
            report_error(request, exc)
            return self.back_to(obj)
        rollback = previous is not None and number < previous
        messages.success(request, f"{obj.key}: version {number} is ACTIVE"
                                  + (f" (rolled back from {previous})." if rollback else "."))
        return HttpResponseRedirect(request.POST.get("next") or self.url_for("change", obj.pk))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update({
                "published_versions": list(range(obj.latest_version, 0, -1)),
                "validate_url": self.url_for("validate", obj.pk), "publish_url": self.url_for("publish", obj.pk),
                "activate_url": self.url_for("activate", obj.pk), "versions_url": self.url_for("versions", obj.pk),
                "diff_url": self.url_for("diff", obj.pk),
            })
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    # changelist actions

    @admin.action(description="Validate the SNAPSHOT of the selected definitions", permissions=["view"])
    def validate_snapshots(self, request, queryset) -> None:
        for obj in queryset:
            self._validate_one(request, obj)

    @admin.action(description="Publish the SNAPSHOT of the selected definitions (next number)",
                  permissions=["change"])
    def publish_snapshots(self, request, queryset) -> None:
        for obj in queryset:
            self._publish_one(request, obj)

    @admin.action(description="Activate the latest published version of the selected definitions",
                  permissions=["change"])
    def activate_latest(self, request, queryset) -> None:
        for obj in queryset:
            if not obj.latest_version:
                messages.error(request, f"{obj.key}: nothing is published yet.")
                continue
            try:
                services.definition_activate(tenant=obj.tenant, kind=obj.kind, key=obj.key,
                                             version=obj.latest_version, actor=actor_of(request))
            except DriftError as exc:
                report_error(request, exc)
                continue
            messages.success(request, f"{obj.key}: version {obj.latest_version} is ACTIVE.")


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(DefinitionAdmin):
    """Adds the visual builder (issue 22) beside the JSON editor: both edit the one `document` textarea."""

    kind = Kind.WORKFLOW

    def get_fieldsets(self, request, obj=None):
        sets = super().get_fieldsets(request, obj)
        at = next(index for index, (_, options) in enumerate(sets) if "document" in options["fields"])
        return [*sets[:at], ("Builder", {"fields": ["builder"], "classes": ["drift-builder-set"]}), *sets[at:]]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "builder")

    @admin.display(description="builder")
    def builder(self, obj: Definition | None) -> str:
        return builder_html(tenant=obj.tenant if obj is not None and obj.pk else "",
                            url=self.url_for("builder_palette", "__tenant__").replace("palette/", ""),
                            extra=self.builder_extra(obj if obj is not None and obj.pk else None))

    def builder_extra(self, obj: Definition | None) -> dict[str, str]:
        """More data-* attributes of the builder's mount point, from the admin's extensions (the trials app adds
        "Try" and "Run tests")."""
        extra: dict[str, str] = {}
        for extension in self.admin_extensions():
            if isinstance(extension, DefinitionAdminExtension):
                extra.update(extension.builder_extra(self, obj))
        return extra

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("builder/<str:tenant>/palette/", self.admin_site.admin_view(self.builder_palette_view),
                 name=f"{prefix}_builder_palette"),
            path("builder/<str:tenant>/validate/", self.admin_site.admin_view(self.builder_validate_view),
                 name=f"{prefix}_builder_validate"),
            *super().get_urls(),
        ]

    def builder_palette_view(self, request: HttpRequest, tenant: str) -> HttpResponse:
        """The tenant's published node definitions: what the builder may draw (editing needs change)."""
        self.require_tenant(request, tenant, self.permission_name("change"))
        nodes = [{**node, "url": reverse("admin:definitions_nodedefinition_change", args=[node["pk"]])}
                 for node in selectors.node_palette(tenant=tenant)]
        return JsonResponse({"nodes": nodes, "states": ["PARALLEL", "MAP"]})

    def builder_validate_view(self, request: HttpRequest, tenant: str) -> HttpResponse:
        """The save's own validator on the drawn document (no write): every problem with its JSON path."""
        self.require_tenant(request, tenant, self.permission_name("change"))
        if request.method != "POST":
            return JsonResponse({"error": "method_not_allowed"}, status=405)
        try:
            body = JsonDocumentField().clean(request.body.decode("utf-8", errors="replace"))
        except ValidationError as exc:
            return JsonResponse({"problems": [{"path": "$", "problem": " ".join(exc.messages),
                                               "severity": "error"}]})
        problems = services.definition_validate(tenant=tenant, kind=self.kind, body=body)
        return JsonResponse({"problems": [{**p.as_dict(), "severity": p.severity} for p in problems]})


@admin.register(NodeDefinition)
class NodeDefinitionAdmin(DefinitionAdmin):
    kind = Kind.NODE
