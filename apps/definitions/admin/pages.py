"""A definition's own pages beside its change form: version history, one version, the diff of two versions, and
the import of the original Drift's files (spec §6)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.definitions import selectors
from apps.definitions.admin.common import actor_of
from apps.definitions.admin.pictures import workflow_graph_html
from apps.definitions.drift_import import import_text, sort_for_import
from apps.definitions.forms import DriftImportForm, pretty_json
from apps.definitions.models import SNAPSHOT as SNAPSHOT_NUMBER
from apps.definitions.models import Definition, Kind
from apps.definitions.versions import SNAPSHOT, parse_version
from drift.errors import DriftError


def version_label(number: int) -> str:
    return SNAPSHOT if number == SNAPSHOT_NUMBER else str(number)


def _json_cell(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


class DefinitionPagesMixin:
    """The pages' views of a definition admin (DefinitionAdmin routes them and provides `url_for` and
    `object_for`). `page_context` is public: the trials app renders its report pages with it."""

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
