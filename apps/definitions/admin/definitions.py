"""Admin for definitions (SNAPSHOT JSON editor with inline validation, publish / activate / rollback,
version history, diff, graph picture), routes, the enum store and the audit trail (spec §6).

Every write goes through apps.definitions.services with the admin username as the actor."""

from __future__ import annotations

import copy
import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join, json_script
from django.utils.safestring import mark_safe

from apps.definitions import dsl, selectors, services
from apps.definitions.drift_import import import_text, sort_for_import
from apps.definitions.forms import (
    ActivateForm,
    DefinitionForm,
    DriftImportForm,
    EnumEntryForm,
    JsonDocumentField,
    RouteForm,
    RouteVariantForm,
    RouteVariantFormSet,
    pretty_json,
)
from apps.definitions.graph_render import GraphRenderError, inline_svg
from apps.definitions.models import SNAPSHOT as SNAPSHOT_NUMBER
from apps.definitions.models import (
    AuditEntry,
    Definition,
    EnumEntry,
    Kind,
    NodeDefinition,
    Route,
    RouteVariant,
    WorkflowDefinition,
)
from apps.definitions.versions import SNAPSHOT, parse_version
from drift.admin import (
    AdminExtension,
    ExtensibleAdminMixin,
    ReadOnlyAdminMixin,
    TenantScopedAdminMixin,
    TenantScopedInlineMixin,
    json_block,
)
from drift.errors import DriftError

ADMIN_MEDIA_CSS = "definitions/json_editor.css"


def actor_of(request: HttpRequest) -> str:
    return request.user.get_username()


def report_error(request: HttpRequest, exc: DriftError) -> None:
    messages.error(request, exc.message)
    for problem in exc.details:
        messages.error(request, f"{problem.path}: {problem.problem}")


def workflow_graph_html(tenant: str, body: dict, *, path: list[str] | None = None, title: str | None = None) -> str:
    """Inline SVG of a workflow document (node definitions inlined as the selectors do), or a note."""
    body = selectors.workflow_inline_nodes(tenant=tenant, body=copy.deepcopy(body), pin=False, strict=False)
    try:
        return mark_safe(f'<div class="drift-graph">{inline_svg(body, path=path, title=title)}</div>')  # noqa: S308
    except GraphRenderError as exc:
        return format_html('<p class="errornote">{}</p>', str(exc))


BUILDER_JS, BUILDER_CSS = "definitions/builder/builder.js", "definitions/builder/builder.css"


def builder_built() -> bool:
    return finders.find(BUILDER_JS) is not None


def builder_html(*, tenant: str, url: str, extra: dict[str, str] | None = None) -> str:
    """The builder's mount point (frontend/builder, built by scripts/bootstrap) for the `document` textarea. A
    new definition has no tenant yet: the builder reads the form's tenant field. `extra`: more data-* attributes
    (the trials app's "Try" and "Run tests" URLs)."""
    if not builder_built():
        return format_html('<p class="errornote">The builder is not built: run scripts/bootstrap.</p>')
    attrs = format_html_join("", ' data-{}="{}"', sorted((extra or {}).items()))
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>'
        '<div id="drift-builder" class="drift-builder" data-document="id_document" data-tenant="{}" '
        'data-tenant-input="id_tenant" data-url="{}"{}></div>', static(BUILDER_CSS), static(BUILDER_JS), tenant, url,
        attrs)


def path_canvas_html(tenant: str, body: dict, *, path: list[str]) -> str:
    """A stored workflow drawn read-only by the builder with a run's path on it (node definitions inlined as the
    graph picture's); "" when the builder is not built (the graph picture stays the fallback)."""
    if not builder_built():
        return ""
    body = selectors.workflow_inline_nodes(tenant=tenant, body=copy.deepcopy(body), pin=False, strict=False)
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>{}'
        '<div id="drift-builder" class="drift-builder drift-path-canvas" data-readonly="true" '
        'data-body="drift-run-body" data-path="{}"></div>', static(BUILDER_CSS), static(BUILDER_JS),
        json_script(body, "drift-run-body"), json.dumps(path))


def version_label(number: int) -> str:
    return SNAPSHOT if number == SNAPSHOT_NUMBER else str(number)


# --- definitions


class DefinitionAdminExtension(AdminExtension):
    """An extension of a definition admin (drift.admin.admin_extend) that may also add to the workflow builder."""

    def builder_extra(self, model_admin: WorkflowDefinitionAdmin, obj: Definition | None) -> dict[str, str]:
        """More data-* attributes of the builder's mount point."""
        return {}


class DefinitionAdmin(ExtensibleAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
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

    def page_context(self, request: HttpRequest, obj: Definition, title: str, **extra: Any) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
                "has_change_permission": self.has_change_permission(request, obj),
                "change_url": self.url_for("change", obj.pk), "versions_url": self.url_for("versions", obj.pk),
                "diff_url": self.url_for("diff", obj.pk), "activate_url": self.url_for("activate", obj.pk), **extra}

    def import_drift_view(self, request: HttpRequest) -> HttpResponse:
        """Upload the original Drift's definition files: Groovy translated where mechanical, each file saved
        whole or not at all, a report per file and JSON path (as `manage.py import_drift`)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DriftImportForm(request.POST or None, request.FILES or None)
        form.fields["tenant"] = self.tenant_form_field(request, form.fields["tenant"])
        reports = []
        if request.method == "POST" and form.is_valid():
            self.require_tenant(request, form.cleaned_data["tenant"], self.permission_name("add"))
            uploads = [(upload.name, upload.read().decode("utf-8", errors="replace"))
                       for upload in form.cleaned_data["files"]]
            reports = [import_text(tenant=form.cleaned_data["tenant"], text=text, name=name,
                                   actor=actor_of(request), publish=form.cleaned_data["publish"])
                       for name, text in sort_for_import(uploads)]
            imported = sum(1 for report in reports if report.imported)
            level = messages.SUCCESS if imported == len(reports) else messages.WARNING
            messages.add_message(request, level, f"{imported} of {len(reports)} file(s) imported.")
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form, "reports": reports,
                   "title": "Import definitions from the original Drift"}
        return TemplateResponse(request, "admin/definitions/import_drift.html", context)

    def versions_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.object_for(request, pk, write=False)
        head, versions = selectors.definition_versions(tenant=obj.tenant, kind=obj.kind, key=obj.key)
        rows = []
        for row in versions:
            label = version_label(row.version)
            previous = row.version - 1 if row.version > 1 else None
            rows.append({
                "label": label, "number": row.version, "created_by": row.created_by, "created_at": row.created_at,
                "is_active": row.version == head.active_version, "is_latest": row.version == head.latest_version,
                "view_url": self.url_for("version", obj.pk, label),
                "diff_url": f"{self.url_for('diff', obj.pk)}?from={previous}&to={label}" if previous else "",
            })
        audit = selectors.audit_list(tenant=obj.tenant, kind=obj.kind, key=obj.key)[:100]
        context = self.page_context(request, obj, f"Versions of {obj.key}", head=head, rows=rows, audit=audit)
        return TemplateResponse(request, "admin/definitions/versions.html", context)

    def version_view(self, request: HttpRequest, pk: int, version: str) -> HttpResponse:
        obj = self.object_for(request, pk, write=False)
        try:
            spec = parse_version(version, path="version")
            body = selectors.definition_get(tenant=obj.tenant, kind=obj.kind, key=obj.key, version=spec)
        except DriftError as exc:
            raise Http404(str(exc)) from exc
        number = body.get("version")
        graph = ""
        if obj.kind == Kind.WORKFLOW:
            graph = workflow_graph_html(obj.tenant, body, title=f"{obj.key} v{number}")
        context = self.page_context(request, obj, f"{obj.key} version {number}", body=pretty_json(body)[0],
                                number=number, graph=graph,
                                is_published=isinstance(number, int), is_active=number == obj.active_version)
        return TemplateResponse(request, "admin/definitions/version.html", context)

    def diff_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.object_for(request, pk, write=False)
        default_from = obj.active_version or obj.latest_version or SNAPSHOT
        raw_from = request.GET.get("from") or str(default_from)
        raw_to = request.GET.get("to") or SNAPSHOT
        changes, error = [], ""
        try:
            old = parse_version(raw_from, path="$.query.from")
            new = parse_version(raw_to, path="$.query.to")
            changes = selectors.definition_diff(tenant=obj.tenant, kind=obj.kind, key=obj.key, from_version=old,
                                                to_version=new)
        except DriftError as exc:
            error = exc.message + "".join(f" {p.path}: {p.problem}" for p in exc.details)
        choices = [SNAPSHOT, *(str(n) for n in range(obj.latest_version, 0, -1))]
        rows = [{**change, "old": _json_cell(change["old"]), "new": _json_cell(change["new"])} for change in changes]
        context = self.page_context(request, obj, f"Diff of {obj.key}: {raw_from} → {raw_to}", rows=rows, error=error,
                                choices=choices, chosen_from=str(raw_from).upper(), chosen_to=str(raw_to).upper())
        return TemplateResponse(request, "admin/definitions/diff.html", context)

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


def _json_cell(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


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


# --- routes


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


# --- enum store


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


# --- audit trail (read-only)


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
