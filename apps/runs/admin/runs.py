"""Admin of runs (filters, view, context, node timeline, graph with the path taken, Temporal UI link, terminate,
reveal; spec §6). Runs are read-only mirrors: nothing here edits them. Apps above add to this page through
drift.admin's extension points (rerun, redrive and bulk jobs: apps/operations/admin; "As a test case":
apps/trials/admin.py)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.definitions import map_state
from apps.definitions.admin.pictures import path_canvas_html, workflow_graph_html
from apps.definitions.models import Definition, Kind
from apps.definitions.selectors import definition_find
from apps.runs.admin.timeline import MAP_ITEMS_SHOWN, NodeExecutionInline, map_items_html, run_path
from apps.runs.context_store import get_context_store
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import Run
from apps.runs.runtime import run_terminate
from apps.runs.search import search_filter_parse, search_terms_split
from apps.runs.selectors import run_children_by_status, run_map_items, run_sealing, runs_matching
from apps.secrets.sealing import mask_sealed
from apps.secrets.services import sealed_for_reader
from drift.admin import ExtensibleAdminMixin, ReadOnlyAdminMixin, TenantScopedAdminMixin, json_block
from drift.errors import DriftError

CSS = "definitions/json_editor.css"
# The agreed permissions of run operations (docs/security.md): rerun and redrive start a run.
START_RUN, TERMINATE_RUN, REVEAL = "runs.start_run", "runs.terminate_run", "secrets.reveal_sensitive"


def temporal_ui_url(workflow_id: str) -> str:
    base = settings.TEMPORAL_UI_URL.rstrip("/")
    return f"{base}/namespaces/{quote(settings.TEMPORAL_NAMESPACE, safe='')}/workflows/{quote(workflow_id, safe='')}"


def _run_link(workflow_id: str, tenant: str) -> str:
    run = Run.objects.filter(workflow_id=workflow_id, tenant=tenant).only("pk").first()
    if run is None:
        return workflow_id
    return format_html('<a href="{}">{}</a>', reverse("admin:runs_run_change", args=[run.pk]), workflow_id)


@admin.register(Run)
class RunAdmin(ExtensibleAdminMixin, ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("workflow_id", "tenant", "definition_key", "definition_version", "status", "current_node",
                    "client_id", "created_at")
    list_filter = ("status", "definition_key", "tenant", "client_id", "mode")
    search_fields = ("workflow_id", "incident_id", "customer_id")
    search_help_text = ("Ids, or search keys as key=value: status, workflowDefinitionId, customerId, incidentId, "
                        "traceId, param.<name>, createdFrom, createdTo.")
    date_hierarchy = "created_at"
    list_select_related = False
    inlines = [NodeExecutionInline]
    actions = ["terminate_runs"]  # apps/operations/admin adds rerun, redrive and the bulk jobs
    change_form_template = "admin/runs/run_change_form.html"
    fieldsets = [
        (None, {"fields": [("workflow_id", "temporal_link", "trace_link"), ("status", "current_node"), "error_message",
                           ("tenant", "client_id", "username"), ("incident_id", "issue_id", "customer_id"),
                           ("definition", "mode"), ("parent", "children"), "redrive_link", "callback_url",
                           ("created_at", "updated_at", "finished_at")]}),
        ("Graph (path taken)", {"fields": ["graph"], "classes": ["drift-builder-set"]}),
        ("View", {"fields": ["disposition", "pretty_view"]}),
        ("Context", {"fields": ["pretty_context"]}),
        ("Start request", {"classes": ["collapse"], "fields": ["pretty_start_request"]}),
    ]
    readonly_fields = ("workflow_id", "temporal_link", "trace_link", "status", "current_node", "error_message",
                       "tenant",
                       "client_id", "username", "incident_id", "issue_id", "customer_id", "definition", "mode",
                       "parent", "children", "redrive_link", "callback_url", "created_at", "updated_at", "finished_at",
                       "graph", "disposition", "pretty_view", "pretty_context", "pretty_start_request", "map_items")

    class Media:
        css = {"all": (CSS,)}


    def get_fieldsets(self, request: HttpRequest, obj: Run | None = None):
        """The MAP items section only on the page of a run whose definition has MAP states."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not self._map_states(obj):
            return fieldsets
        return [*fieldsets[:2], ("MAP items", {"fields": ["map_items"]}), *fieldsets[2:]]

    def _map_states(self, obj: Run) -> list[str]:
        body = self._definition_body(obj)
        return [name for name, state in ((body or {}).get("states") or {}).items() if map_state.is_map(state)]

    @staticmethod
    def _definition_body(obj: Run) -> dict | None:
        if not obj.definition_key or not obj.definition_version:
            return None
        return definition_find(tenant=obj.tenant, kind=Kind.WORKFLOW, key=obj.definition_key,
                               version=obj.definition_version)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        """The search box takes the API's search keys as `key=value` words (`customerId=c-1 param.orderId=7
        status=FAILED`), indexed like the API's; other words search ids as before."""
        keys, words = search_terms_split(search_term)
        if keys:
            try:
                queryset = queryset & runs_matching(search_filter_parse(keys, base="search"), tenant=None)
            except DriftError as exc:
                messages.error(request, exc.message)
                return queryset.none(), False
        return super().get_search_results(request, queryset, " ".join(words))

    def has_start_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return self.may(request, START_RUN, obj)

    def has_terminate_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return self.may(request, TERMINATE_RUN, obj)

    # detail fields

    @admin.display(description="Temporal")
    def temporal_link(self, obj: Run) -> str:
        return format_html('<a href="{}" target="_blank" rel="noopener" id="drift-temporal-link">Open in the Temporal '
                           'UI</a>', temporal_ui_url(obj.workflow_id))

    @admin.display(description="trace")
    def trace_link(self, obj: Run) -> str:
        """The run's trace in the tracing UI (DRIFT_TRACE_URL_TEMPLATE, `{traceId}` filled in), else its id."""
        if not obj.trace_id or not settings.DRIFT_TRACE_URL_TEMPLATE:
            return obj.trace_id or "-"
        url = settings.DRIFT_TRACE_URL_TEMPLATE.replace("{traceId}", obj.trace_id)
        return format_html('<a href="{}" target="_blank" rel="noopener" id="drift-trace-link">{}</a>', url,
                           obj.trace_id)

    @admin.display(description="definition")
    def definition(self, obj: Run) -> str:
        label = f"{obj.definition_key} v{obj.definition_version or '?'}"
        head = Definition.objects.filter(tenant=obj.tenant, kind=Kind.WORKFLOW, key=obj.definition_key).first()
        if head is None or not obj.definition_version:
            return label
        url = reverse("admin:definitions_workflowdefinition_version", args=[head.pk, obj.definition_version])
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="redrive of")
    def redrive_link(self, obj: Run) -> str:
        links = [_run_link(workflow_id, obj.tenant) for workflow_id in [obj.redrive_of] if workflow_id]
        redrives = Run.objects.filter(redrive_of=obj.workflow_id, tenant=obj.tenant).order_by("id").values_list(
            "workflow_id", flat=True)
        text = format_html("{} (began at node <code>{}</code>)", links[0], (obj.start_request or {}).get(
            "start_node") or "?") if links else "—"
        if redrives:
            text = format_html("{} · redriven by {}", text, format_html_join(", ", "{}", (
                (_run_link(workflow_id, obj.tenant),) for workflow_id in redrives)))
        return text

    @admin.display(description="parent run")
    def parent(self, obj: Run) -> str:
        if not obj.parent_workflow_id:
            return "—"
        parent = Run.objects.filter(workflow_id=obj.parent_workflow_id, tenant=obj.tenant).first()
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

    @admin.display(description="items")
    def map_items(self, obj: Run) -> str:
        """Each MAP execution's item runs like lanes: index, run, status, error, duration (bounded)."""
        executions = run_map_items(obj, self._map_states(obj), first=MAP_ITEMS_SHOWN, unsuccessful=MAP_ITEMS_SHOWN)
        if not executions:
            return "— (no item runs yet)"
        return format_html_join("", "{}", ((map_items_html(execution),) for execution in executions))

    @admin.display(description="graph")
    def graph(self, obj: Run) -> str:
        if not obj.definition_key or not obj.definition_version:
            return "— (the run has not resolved its definition)"
        body = self._definition_body(obj)
        if body is None:
            return f"— (definition {obj.definition_key} v{obj.definition_version} not found)"
        steps = run_path(obj)  # drawn on the builder's canvas; the graph picture below stays as the fallback
        return format_html("{}{}", path_canvas_html(obj.tenant, body, path=steps), workflow_graph_html(
            obj.tenant, body, path=steps, title=f"{obj.definition_key} v{obj.definition_version} · {obj.status}"))

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

    # terminate / reveal

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("<int:pk>/terminate/", wrap(self.terminate_view), name="runs_run_terminate"),
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

    def post_only(self, request: HttpRequest, pk: int, permission: str) -> Run:
        """The run `pk` of the user's tenants, for a POST by a holder of `permission` for its tenant."""
        if request.method != "POST":
            raise PermissionDenied
        return self.scoped_object(request, pk, permission)

    def terminate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = self.post_only(request, pk, TERMINATE_RUN)
        self._terminate(request, run)
        return HttpResponseRedirect(reverse("admin:runs_run_change", args=[run.pk]))

    def reveal_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The run's sensitive values in clear (POST only, `secrets.reveal_sensitive`, recorded in the audit)."""
        run = self.post_only(request, pk, REVEAL)
        stored = get_context_store().load(run.workflow_id)
        document = {"_global": stored.context if stored else {}, "startRequest": run.start_request}
        revealed = sealed_for_reader(document, reveal=True, actor=request.user.get_username(), run=run_sealing(run),
                                     channel="admin")
        return TemplateResponse(request, "admin/runs/run_reveal.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": run,
            "title": f"Sensitive values of {run.workflow_id}", "revealed": json_block(revealed),
            "change_url": reverse("admin:runs_run_change", args=[run.pk]),
        })

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra: dict = {}
        run = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if run is not None:
            extra.update(may_start=self.has_start_permission(request, run),
                         may_terminate=self.has_terminate_permission(request, run),
                         run_is_final=run.status in FINAL_STATUSES,
                         terminate_url=reverse("admin:runs_run_terminate", args=[run.pk]),
                         temporal_url=temporal_ui_url(run.workflow_id),
                         reveal_url=reverse("admin:runs_run_reveal", args=[run.pk]),
                         may_reveal=self.may(request, REVEAL, run))
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @admin.action(description="Terminate the selected runs", permissions=["terminate"])
    def terminate_runs(self, request, queryset) -> None:
        for run in queryset:  # the changelist's queryset: the user's tenants only
            self._terminate(request, run)
