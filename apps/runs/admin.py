"""Admin for runs (filters, view, context, node timeline, graph with the path taken, Temporal UI link,
terminate / rerun) and webhook deliveries (spec §6). Runs are read-only mirrors: nothing here edits them."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.definitions.admin import workflow_graph_html
from apps.definitions.models import Definition, Kind
from apps.definitions.selectors import definition_find
from apps.runs.context_store import get_context_store
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import NodeExecution, Run, WebhookAttempt, WebhookDelivery
from apps.runs.rerun import run_rerun
from apps.runs.runtime import run_terminate
from apps.runs.selectors import run_children_by_status, run_steps
from apps.secrets.sealing import mask_sealed
from apps.secrets.services import sealed_for_reader
from drift.admin import ReadOnlyAdminMixin, ReadOnlyInline, json_block
from drift.errors import DriftError

CSS = "definitions/json_editor.css"




def temporal_ui_url(workflow_id: str) -> str:
    base = settings.TEMPORAL_UI_URL.rstrip("/")
    return f"{base}/namespaces/{quote(settings.TEMPORAL_NAMESPACE, safe='')}/workflows/{quote(workflow_id, safe='')}"


def run_path(run: Run) -> list[str]:
    """The executed instances in order (the timeline)."""
    return list(run_steps(run).values_list("instance_name", flat=True))


class NodeExecutionInline(ReadOnlyInline):
    model = NodeExecution
    verbose_name = "executed node"
    verbose_name_plural = "Timeline (executed nodes)"
    fields = ("seq", "lane", "instance_name", "node_type", "outcome", "actor", "duration", "error", "started_at")
    readonly_fields = fields
    ordering = ("seq",)

    @admin.display(description="duration")
    def duration(self, obj: NodeExecution) -> str:
        return f"{obj.duration_ms:.0f} ms"


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("workflow_id", "tenant", "definition_key", "definition_version", "status", "current_node",
                    "client_id", "created_at")
    list_filter = ("status", "definition_key", "tenant", "client_id", "mode")
    search_fields = ("workflow_id", "incident_id", "customer_id")
    date_hierarchy = "created_at"
    list_select_related = False
    inlines = [NodeExecutionInline]
    actions = ["terminate_runs", "rerun_runs"]
    change_form_template = "admin/runs/run_change_form.html"
    fieldsets = [
        (None, {"fields": [("workflow_id", "temporal_link"), ("status", "current_node"), "error_message",
                           ("tenant", "client_id", "username"), ("incident_id", "issue_id", "customer_id"),
                           ("definition", "mode"), ("parent", "children"), "callback_url",
                           ("created_at", "updated_at", "finished_at")]}),
        ("Graph (path taken)", {"fields": ["graph"]}),
        ("View", {"fields": ["disposition", "pretty_view"]}),
        ("Context", {"fields": ["pretty_context"]}),
        ("Start request", {"classes": ["collapse"], "fields": ["pretty_start_request"]}),
    ]
    readonly_fields = ("workflow_id", "temporal_link", "status", "current_node", "error_message", "tenant",
                       "client_id", "username", "incident_id", "issue_id", "customer_id", "definition", "mode",
                       "parent", "children", "callback_url", "created_at", "updated_at", "finished_at", "graph",
                       "disposition", "pretty_view", "pretty_context", "pretty_start_request")

    class Media:
        css = {"all": (CSS,)}


    def _may_operate(self, request: HttpRequest) -> bool:
        return request.user.has_perm("runs.change_run")

    # detail fields

    @admin.display(description="Temporal")
    def temporal_link(self, obj: Run) -> str:
        return format_html('<a href="{}" target="_blank" rel="noopener" id="drift-temporal-link">Open in the Temporal '
                           'UI</a>', temporal_ui_url(obj.workflow_id))

    @admin.display(description="definition")
    def definition(self, obj: Run) -> str:
        label = f"{obj.definition_key} v{obj.definition_version or '?'}"
        head = Definition.objects.filter(tenant=obj.tenant, kind=Kind.WORKFLOW, key=obj.definition_key).first()
        if head is None or not obj.definition_version:
            return label
        url = reverse("admin:definitions_workflowdefinition_version", args=[head.pk, obj.definition_version])
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="parent run")
    def parent(self, obj: Run) -> str:
        if not obj.parent_workflow_id:
            return "—"
        parent = Run.objects.filter(workflow_id=obj.parent_workflow_id).first()
        if parent is None:
            return obj.parent_workflow_id
        return format_html('<a href="{}">{}</a>', reverse("admin:runs_run_change", args=[parent.pk]),
                           obj.parent_workflow_id)

    @admin.display(description="child runs")
    def children(self, obj: Run) -> str:
        """CHILD nodes' and MAP items' runs: counts by status, linked to the list of them."""
        counts = run_children_by_status(obj)
        if not counts:
            return "—"
        summary = ", ".join(f"{status} {count}" for status, count in counts.items())
        url = f"{reverse('admin:runs_run_changelist')}?{urlencode({'parent_workflow_id': obj.workflow_id})}"
        return format_html('<a href="{}" id="drift-child-runs">{} child runs</a>: {}', url, sum(counts.values()),
                           summary)

    @admin.display(description="graph")
    def graph(self, obj: Run) -> str:
        if not obj.definition_key or not obj.definition_version:
            return "— (the run has not resolved its definition)"
        body = definition_find(tenant=obj.tenant, kind=Kind.WORKFLOW, key=obj.definition_key,
                               version=obj.definition_version)
        if body is None:
            return f"— (definition {obj.definition_key} v{obj.definition_version} not found)"
        return workflow_graph_html(obj.tenant, body, path=run_path(obj),
                                   title=f"{obj.definition_key} v{obj.definition_version} · {obj.status}")

    @admin.display(description="view")
    def pretty_view(self, obj: Run) -> str:
        return json_block(obj.view)

    @admin.display(description="context")
    def pretty_context(self, obj: Run) -> str:
        try:
            stored = get_context_store().load(obj.workflow_id)
        except Exception as exc:  # noqa: BLE001 - a store outage must not break the page
            return format_html('<p class="errornote">Context store unavailable: {}</p>', str(exc))
        if stored is None:
            return "— (no context stored)"
        return format_html("{}<p class=\"help\">seq {} · node {} · status {} · updated {}</p>",
                           json_block(mask_sealed(stored.context)), stored.seq, stored.current_node or "—",
                           stored.status or "—", stored.updated_at)

    @admin.display(description="start request")
    def pretty_start_request(self, obj: Run) -> str:
        return json_block(mask_sealed(obj.start_request))

    # terminate / rerun

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("<int:pk>/terminate/", wrap(self.terminate_view), name="runs_run_terminate"),
            path("<int:pk>/rerun/", wrap(self.rerun_view), name="runs_run_rerun"),
            path("<int:pk>/reveal/", wrap(self.reveal_view), name="runs_run_reveal"),
            *super().get_urls(),
        ]

    def _terminate(self, request: HttpRequest, run: Run) -> bool:
        if run.status in FINAL_STATUSES:
            messages.warning(request, f"{run.workflow_id} already ended {run.status}.")
            return False
        try:
            run_terminate(tenant=run.tenant, workflow_id=run.workflow_id,
                          reason=f"terminated in admin by {request.user.get_username()}")
        except DriftError as exc:
            messages.error(request, f"{run.workflow_id}: {exc.message}")
            return False
        messages.success(request, f"{run.workflow_id} terminated.")
        return True

    def _rerun(self, request: HttpRequest, run: Run) -> Run | None:
        try:
            new_run = run_rerun(run=run)
        except DriftError as exc:
            messages.error(request, f"{run.workflow_id}: {exc.message}")
            return None
        url = reverse("admin:runs_run_change", args=[new_run.pk])
        messages.success(request, format_html('{} rerun as <a href="{}">{}</a>.', run.workflow_id, url,
                                              new_run.workflow_id))
        return new_run

    def _post_only(self, request: HttpRequest, pk: int) -> Run:
        if request.method != "POST" or not self._may_operate(request):
            raise PermissionDenied
        return get_object_or_404(Run, pk=pk)

    def terminate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = self._post_only(request, pk)
        self._terminate(request, run)
        return HttpResponseRedirect(reverse("admin:runs_run_change", args=[run.pk]))

    def rerun_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = self._post_only(request, pk)
        new_run = self._rerun(request, run)
        return HttpResponseRedirect(reverse("admin:runs_run_change", args=[(new_run or run).pk]))

    def reveal_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The run's sensitive values in clear (POST only, `secrets.reveal_sensitive`, recorded in the audit)."""
        if request.method != "POST" or not request.user.has_perm("secrets.reveal_sensitive"):
            raise PermissionDenied
        run = get_object_or_404(Run, pk=pk)
        stored = get_context_store().load(run.workflow_id)
        document = {"_global": stored.context if stored else {}, "startRequest": run.start_request}
        revealed = sealed_for_reader(document, reveal=True, actor=request.user.get_username(), tenant=run.tenant,
                                     workflow_id=run.workflow_id, channel="admin")
        return TemplateResponse(request, "admin/runs/run_reveal.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": run,
            "title": f"Sensitive values of {run.workflow_id}", "revealed": json_block(revealed),
            "change_url": reverse("admin:runs_run_change", args=[run.pk]),
        })

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"may_operate": self._may_operate(request)}
        run = Run.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if run is not None:
            extra.update(run_is_final=run.status in FINAL_STATUSES,
                         terminate_url=reverse("admin:runs_run_terminate", args=[run.pk]),
                         rerun_url=reverse("admin:runs_run_rerun", args=[run.pk]),
                         temporal_url=temporal_ui_url(run.workflow_id),
                         reveal_url=reverse("admin:runs_run_reveal", args=[run.pk]),
                         may_reveal=request.user.has_perm("secrets.reveal_sensitive"))
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @admin.action(description="Terminate the selected runs")
    def terminate_runs(self, request, queryset) -> None:
        if not self._may_operate(request):
            raise PermissionDenied
        for run in queryset:
            self._terminate(request, run)

    @admin.action(description="Rerun the selected runs with their original input")
    def rerun_runs(self, request, queryset) -> None:
        if not self._may_operate(request):
            raise PermissionDenied
        for run in queryset:
            self._rerun(request, run)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self._may_operate(request):
            actions.pop("terminate_runs", None)
            actions.pop("rerun_runs", None)
        return actions


# --- webhook deliveries (read-only)


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "status_code", "error", "duration_ms", "attempted_at")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("delivery_id", "run_link", "event", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status", "event")
    search_fields = ("delivery_id", "run__workflow_id", "url")
    date_hierarchy = "created_at"
    list_select_related = ("run",)
    inlines = [WebhookAttemptInline]
    fields = ("delivery_id", "run_link", "event", "url", "status", "attempts", "created_at", "next_attempt_at",
              "delivered_at", "pretty_payload")
    readonly_fields = fields

    class Media:
        css = {"all": (CSS,)}

    @admin.display(description="run", ordering="run__workflow_id")
    def run_link(self, obj: WebhookDelivery) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:runs_run_change", args=[obj.run_id]),
                           obj.run.workflow_id)

    @admin.display(description="payload")
    def pretty_payload(self, obj: WebhookDelivery) -> str:
        return json_block(obj.payload)
