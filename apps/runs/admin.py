"""Admin for runs (filters, view, context, node timeline, graph with the path taken, Temporal UI link,
terminate / rerun) and webhook deliveries (spec §6). Runs are read-only mirrors: nothing here edits them."""

from __future__ import annotations

import zlib
from urllib.parse import quote, urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.clients.access import is_platform_operator, may_act_for
from apps.definitions import map_state
from apps.definitions.admin import path_canvas_html, workflow_graph_html
from apps.definitions.models import Definition, Kind
from apps.definitions.selectors import definition_find
from apps.runs.api.operation_serializers import RedriveSerializer, ScheduleSerializer
from apps.runs.bulk import bulk_job_create
from apps.runs.context_store import get_context_store
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import (
    BulkItem,
    BulkItemState,
    BulkJob,
    BulkOp,
    NodeExecution,
    Run,
    Schedule,
    WebhookAttempt,
    WebhookDelivery,
)
from apps.runs.redrive import REDRIVABLE, failed_node, run_redrive
from apps.runs.rerun import run_rerun
from apps.runs.runtime import run_terminate
from apps.runs.schedules import (
    schedule_delete,
    schedule_save,
    schedule_set_paused,
    schedule_trigger,
    schedules_reconcile,
)
from apps.runs.search import search_filter_parse, search_terms_split
from apps.runs.selectors import (
    MapItems,
    bulk_job_progress,
    run_children_by_status,
    run_map_items,
    run_sealing,
    run_steps,
    runs_matching,
)
from apps.secrets.sealing import mask_sealed
from apps.secrets.services import sealed_for_reader
from drift.admin import ReadOnlyAdminMixin, ReadOnlyInline, TenantScopedAdminMixin, TenantScopedInlineMixin, json_block
from drift.errors import DriftError, InvalidInput, Problem

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


def redrive_form_body(form) -> dict:
    """The admin redrive form as the API's redrive body, validated by the same serializer."""
    import json

    body: dict = {}
    for field, name in (("from_node", "fromNode"), ("version", "version")):
        if form.get(field, "").strip():
            body[name] = form[field].strip()
    if form.get("context_patch", "").strip():
        try:
            body["contextPatch"] = json.loads(form["context_patch"])
        except ValueError as exc:
            raise InvalidInput(f"Context patch is not JSON: {exc}", [Problem("contextPatch", "is not JSON")]) from exc
    serializer = RedriveSerializer(data=body)
    if not serializer.is_valid():
        problems = "; ".join(f"{name}: {' '.join(map(str, errors))}" for name, errors in serializer.errors.items())
        raise InvalidInput(f"Redrive refused: {problems}", [])
    return serializer.validated_data


def run_path(run: Run) -> list[str]:
    """The executed instances in order (the timeline)."""
    return list(run_steps(run).values_list("instance_name", flat=True))


MAP_ITEMS_SHOWN = 50  # item rows per MAP execution on the run page: the first ones, and as many failed ones
# Lane badge colours: one per PARALLEL branch, stable across page loads (picked by the lane's hash).
LANE_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#4e342e", "#283593")


def lane_badge(lane: str) -> str:
    """A timeline row's lane: `main` or the PARALLEL branch (nested: outer › inner), coloured per branch."""
    if not lane:
        return mark_safe('<span class="drift-lane drift-lane-main">main</span>')  # noqa: S308 - a constant
    colour = LANE_COLOURS[zlib.crc32(lane.encode()) % len(LANE_COLOURS)]
    label = " › ".join(part.replace("/", " / ") for part in lane.split(" > "))
    return format_html('<span class="drift-lane" style="border-color: {0}; color: {0}" title="PARALLEL state / '
                       'branch">{1}</span>', colour, label)


def _duration(run: Run) -> str:
    if run.finished_at is None:
        return "running"
    seconds = (run.finished_at - run.created_at).total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _item_row(index: int, run: Run) -> str:
    url = reverse("admin:runs_run_change", args=[run.pk])
    return format_html(
        '<tr class="drift-map-item drift-status-{}" data-index="{}"><td>{}</td><td class="drift-map-run">'
        '<a href="{}">{}</a></td><td><span class="drift-badge drift-status-{}">{}</span></td>'
        '<td class="drift-map-error">{}</td><td>{}</td></tr>', run.status, index, index, url, run.workflow_id,
        run.status, run.status, run.error_message or "", _duration(run))


def map_items_html(execution: MapItems) -> str:
    """One MAP execution: counts by status, links to its item runs, and the bounded table of items."""
    changelist = reverse("admin:runs_run_changelist")
    every = f"{changelist}?{urlencode({'workflow_id__startswith': f'{execution.prefix}.'})}"
    failed = f"{every}&{urlencode({'status__exact': 'FAILED'})}"
    counts = format_html_join(" ", '<span class="drift-badge drift-status-{}">{} {}</span>',
                              ((status, status, count) for status, count in execution.counts.items()))
    rows, previous = [], -1
    for index, run in execution.rows:
        if index > previous + 1:
            rows.append(format_html('<tr class="drift-map-gap"><td colspan="5">… {} items not listed</td></tr>',
                                    index - previous - 1))
        rows.append(_item_row(index, run))
        previous = index
    if execution.total > previous + 1:
        rows.append(format_html('<tr class="drift-map-gap"><td colspan="5">… {} more items</td></tr>',
                                execution.total - previous - 1))
    return format_html(
        '<div class="drift-map" id="drift-map-{}" data-prefix="{}"><p><strong>{}</strong> · {} item runs: {} · '
        '<a href="{}" class="drift-map-all">all item runs</a> · <a href="{}" class="drift-map-failed">failed only'
        '</a></p><table class="drift-table drift-map-items"><thead><tr><th>item</th><th>item run</th><th>status'
        '</th><th>error</th><th>duration</th></tr></thead><tbody>{}</tbody></table><p class="help">The first {} '
        'items and up to {} failed or terminated ones; the links list them all.</p></div>',
        execution.state, execution.prefix, execution.state, execution.total, counts, every, failed,
        format_html_join("", "{}", ((row,) for row in rows)), MAP_ITEMS_SHOWN, MAP_ITEMS_SHOWN)


class NodeExecutionInline(TenantScopedInlineMixin, ReadOnlyInline):
    model = NodeExecution
    verbose_name = "executed node"
    verbose_name_plural = "Timeline (executed nodes)"
    fields = ("seq", "branch_lane", "instance_name", "node_type", "outcome", "actor", "duration", "error",
              "started_at")
    readonly_fields = fields
    ordering = ("seq",)

    @admin.display(description="lane")
    def branch_lane(self, obj: NodeExecution) -> str:
        return lane_badge(obj.lane)

    @admin.display(description="duration")
    def duration(self, obj: NodeExecution) -> str:
        if obj.host_limit_wait_ms:  # the part spent waiting for the called host's limit (DRIFT_HOST_LIMITS)
            return f"{obj.duration_ms:.0f} ms ({obj.host_limit_wait_ms:.0f} ms waiting for the host limit)"
        return f"{obj.duration_ms:.0f} ms"


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("workflow_id", "tenant", "definition_key", "definition_version", "status", "current_node",
                    "client_id", "created_at")
    list_filter = ("status", "definition_key", "tenant", "client_id", "mode")
    search_fields = ("workflow_id", "incident_id", "customer_id")
    search_help_text = ("Ids, or search keys as key=value: status, workflowDefinitionId, customerId, incidentId, "
                        "traceId, param.<name>, createdFrom, createdTo.")
    date_hierarchy = "created_at"
    list_select_related = False
    inlines = [NodeExecutionInline]
    actions = ["terminate_runs", "rerun_runs", "redrive_runs", "bulk_terminate", "bulk_rerun", "bulk_redrive"]
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

    # terminate / rerun

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("<int:pk>/terminate/", wrap(self.terminate_view), name="runs_run_terminate"),
            path("<int:pk>/rerun/", wrap(self.rerun_view), name="runs_run_rerun"),
            path("<int:pk>/reveal/", wrap(self.reveal_view), name="runs_run_reveal"),
            path("<int:pk>/redrive/", wrap(self.redrive_view), name="runs_run_redrive"),
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
        return self._start_new(request, run, "rerun", lambda: run_rerun(run=run))

    def _redrive(self, request: HttpRequest, run: Run, **options) -> Run | None:
        actor = f"admin:{request.user.get_username()}"
        return self._start_new(request, run, "redriven", lambda: run_redrive(run=run, actor=actor, **options))

    def _start_new(self, request: HttpRequest, run: Run, verb: str, start) -> Run | None:
        """Start a new run from `run` (rerun, redrive) and say where it is; errors become messages."""
        try:
            new_run = start()
        except DriftError as exc:
            messages.error(request, f"{run.workflow_id}: {exc.message}")
            return None
        url = reverse("admin:runs_run_change", args=[new_run.pk])
        messages.success(request, format_html('{} {} as <a href="{}">{}</a>.', run.workflow_id, verb, url,
                                              new_run.workflow_id))
        return new_run

    def _post_only(self, request: HttpRequest, pk: int, permission: str) -> Run:
        """The run `pk` of the user's tenants, for a POST by a holder of `permission` for its tenant."""
        if request.method != "POST":
            raise PermissionDenied
        return self.scoped_object(request, pk, permission)

    def terminate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = self._post_only(request, pk, TERMINATE_RUN)
        self._terminate(request, run)
        return HttpResponseRedirect(reverse("admin:runs_run_change", args=[run.pk]))

    def rerun_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = self._post_only(request, pk, START_RUN)
        new_run = self._rerun(request, run)
        return HttpResponseRedirect(reverse("admin:runs_run_change", args=[(new_run or run).pk]))

    def reveal_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The run's sensitive values in clear (POST only, `secrets.reveal_sensitive`, recorded in the audit)."""
        run = self._post_only(request, pk, REVEAL)
        stored = get_context_store().load(run.workflow_id)
        document = {"_global": stored.context if stored else {}, "startRequest": run.start_request}
        revealed = sealed_for_reader(document, reveal=True, actor=request.user.get_username(), run=run_sealing(run),
                                     channel="admin")
        return TemplateResponse(request, "admin/runs/run_reveal.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": run,
            "title": f"Sensitive values of {run.workflow_id}", "revealed": json_block(revealed),
            "change_url": reverse("admin:runs_run_change", args=[run.pk]),
        })

    def redrive_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The change form's redrive form: optional node, version ("SAME", "ACTIVE", a number), JSON patch."""
        run = self._post_only(request, pk, START_RUN)
        try:
            body = redrive_form_body(request.POST)
        except DriftError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:runs_run_change", args=[run.pk]))
        new_run = self._redrive(request, run, from_node=body.get("fromNode"), version=body.get("version"),
                                context_patch=body.get("contextPatch"))
        return HttpResponseRedirect(reverse("admin:runs_run_change", args=[(new_run or run).pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra: dict = {}
        run = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if run is not None:
            extra.update(may_start=self.has_start_permission(request, run),
                         may_terminate=self.has_terminate_permission(request, run),
                         run_is_final=run.status in FINAL_STATUSES,
                         terminate_url=reverse("admin:runs_run_terminate", args=[run.pk]),
                         rerun_url=reverse("admin:runs_run_rerun", args=[run.pk]),
                         temporal_url=temporal_ui_url(run.workflow_id),
                         reveal_url=reverse("admin:runs_run_reveal", args=[run.pk]),
                         may_reveal=self.may(request, REVEAL, run),
                         redrive_url=reverse("admin:runs_run_redrive", args=[run.pk]),
                         may_redrive=run.status in REDRIVABLE, default_from_node=failed_node(run))
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @admin.action(description="Terminate the selected runs", permissions=["terminate"])
    def terminate_runs(self, request, queryset) -> None:
        for run in queryset:  # the changelist's queryset: the user's tenants only
            self._terminate(request, run)

    @admin.action(description="Rerun the selected runs with their original input", permissions=["start"])
    def rerun_runs(self, request, queryset) -> None:
        for run in queryset:
            self._rerun(request, run)

    @admin.action(description="Redrive the selected runs (from the failed node, same version)",
                  permissions=["start"])
    def redrive_runs(self, request, queryset) -> None:
        for run in queryset:
            self._redrive(request, run)

    def _bulk(self, request: HttpRequest, queryset, op: str, permission: str) -> None:
        """One background job per tenant of the selection (the user's tenants: the changelist's queryset);
        the jobs' pages show their progress."""
        by_tenant: dict[str, list[str]] = {}
        for tenant, workflow_id in queryset.values_list("tenant", "workflow_id")[: settings.DRIFT_BULK_MAX_RUNS]:
            by_tenant.setdefault(tenant, []).append(workflow_id)
        for tenant, workflow_ids in by_tenant.items():
            if not may_act_for(request.user, tenant, permission):
                raise PermissionDenied
            job = bulk_job_create(tenant=tenant, op=op, selection={"ids": workflow_ids}, options={},
                                  actor=f"admin:{request.user.get_username()}")
            url = reverse("admin:runs_bulkjob_change", args=[job.pk])
            messages.success(request, format_html('Bulk {} of {} runs of {}: <a href="{}">job {}</a>.', op,
                                                  len(workflow_ids), tenant, url, job.job_id))

    @admin.action(description="Bulk job: terminate the selected runs (background, with progress)",
                  permissions=["terminate"])
    def bulk_terminate(self, request, queryset) -> None:
        self._bulk(request, queryset, BulkOp.TERMINATE, TERMINATE_RUN)

    @admin.action(description="Bulk job: rerun the selected runs (background, with progress)", permissions=["start"])
    def bulk_rerun(self, request, queryset) -> None:
        self._bulk(request, queryset, BulkOp.RERUN, START_RUN)

    @admin.action(description="Bulk job: redrive the selected runs (background, with progress)",
                  permissions=["start"])
    def bulk_redrive(self, request, queryset) -> None:
        self._bulk(request, queryset, BulkOp.REDRIVE, START_RUN)


# --- bulk jobs (read-only: Celery works them)


def progress_bar(job: BulkJob) -> str:
    progress = bulk_job_progress(job)
    return format_html(
        '<progress class="drift-progress" max="{}" value="{}"></progress> '
        '<span class="drift-progress-text">{} / {} handled · {} failed · {}</span>',
        progress["total"] or 1, progress["handled"] if progress["total"] else 1, progress["handled"],
        progress["total"], progress["failed"], progress["state"],
    )


class FailedItemInline(TenantScopedInlineMixin, ReadOnlyInline):
    model = BulkItem
    verbose_name = "failed run"
    verbose_name_plural = "Failed runs"
    fields = ("workflow_id", "error", "handled_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=BulkItemState.FAILED)


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("job_id", "tenant", "op", "state", "progress", "created_by", "created_at", "finished_at")
    list_filter = ("state", "op", "tenant")
    search_fields = ("job_id", "items__workflow_id")
    inlines = [FailedItemInline]
    fields = ("job_id", "tenant", "op", "state", "progress", "pretty_selection", "pretty_options", "created_by",
              "created_at", "finished_at")
    readonly_fields = fields
    change_form_template = "admin/runs/bulkjob_change_form.html"

    class Media:
        css = {"all": (CSS,)}

    @admin.display(description="progress")
    def progress(self, obj: BulkJob) -> str:
        return progress_bar(obj)

    @admin.display(description="selection")
    def pretty_selection(self, obj: BulkJob) -> str:
        return json_block(obj.selection)

    @admin.display(description="options")
    def pretty_options(self, obj: BulkJob) -> str:
        return json_block(obj.options)


# --- schedules (editable: the row is the truth, Temporal follows on save)


class ScheduleForm(forms.ModelForm):
    """Checked by the API's serializer, so the admin accepts exactly what /v3/schedules/ accepts."""

    _API_NAMES = {"schedule_id": "id", "workflow_key": "workflowId", "issue_id": "issueId", "version": "version",
                  "cron": "cron", "interval_seconds": "intervalSeconds", "start": "start", "overlap": "overlap",
                  "paused": "paused"}

    class Meta:
        model = Schedule
        fields = ("tenant", "schedule_id", "workflow_key", "issue_id", "version", "cron", "interval_seconds",
                  "start", "overlap", "paused")

    def clean(self) -> dict:
        data = super().clean()
        body = {api: data[field] for field, api in self._API_NAMES.items() if data.get(field) not in (None, "")}
        body["paused"] = bool(data.get("paused"))
        serializer = ScheduleSerializer(data=body)
        if not serializer.is_valid():
            fields = {api: field for field, api in self._API_NAMES.items()}
            for name, errors in serializer.errors.items():
                self.add_error(fields.get(name), " ".join(map(str, errors)))
        else:
            self.api_fields = ScheduleSerializer.model_fields(serializer.validated_data)
        return data


@admin.register(Schedule)
class ScheduleAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = ScheduleForm
    list_display = ("schedule_id", "tenant", "target", "when", "overlap", "paused", "synced_at", "sync_state")
    list_filter = ("paused", "overlap", "tenant")
    search_fields = ("schedule_id", "workflow_key", "issue_id")
    actions = ["pause_schedules", "resume_schedules", "trigger_schedules", "reconcile_all"]
    readonly_fields = ("created_by", "created_at", "updated_at", "synced_at", "sync_error")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "tenant", "schedule_id") if obj else self.readonly_fields

    @admin.display(description="runs")
    def target(self, obj: Schedule) -> str:
        return f"workflow {obj.workflow_key}" if obj.workflow_key else f"issue {obj.issue_id}"

    @admin.display(description="when")
    def when(self, obj: Schedule) -> str:
        return f"cron {obj.cron}" if obj.cron else f"every {obj.interval_seconds} s"

    @admin.display(description="Temporal", boolean=True)
    def sync_state(self, obj: Schedule) -> bool:
        return obj.synced_at is not None and not obj.sync_error

    def save_model(self, request, obj: Schedule, form, change) -> None:
        saved = schedule_save(tenant=obj.tenant, schedule_id=obj.schedule_id, fields=form.api_fields,
                              client_id=obj.client_id or "admin", actor=f"admin:{request.user.get_username()}",
                              create=not change)
        obj.pk = saved.pk
        if saved.sync_error:
            messages.warning(request, f"Saved; Temporal not updated yet ({saved.sync_error}). The reconciler retries.")

    def delete_model(self, request, obj: Schedule) -> None:
        schedule_delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            schedule_delete(row)

    def has_trigger_permission(self, request: HttpRequest, obj: Schedule | None = None) -> bool:
        """Trigger now starts a run: the schedule's change permission and the run's start permission."""
        return self.has_change_permission(request, obj) and self.may(request, START_RUN, obj)

    def has_reconcile_permission(self, request: HttpRequest) -> bool:
        # Reconciling walks every tenant's schedules and Temporal's: a platform operation.
        return is_platform_operator(request.user)

    @admin.action(description="Pause the selected schedules", permissions=["change"])
    def pause_schedules(self, request, queryset) -> None:
        for row in queryset:
            schedule_set_paused(row, True)

    @admin.action(description="Resume the selected schedules", permissions=["change"])
    def resume_schedules(self, request, queryset) -> None:
        for row in queryset:
            schedule_set_paused(row, False)

    @admin.action(description="Trigger one run of the selected schedules now", permissions=["trigger"])
    def trigger_schedules(self, request, queryset) -> None:
        for row in queryset:
            try:
                schedule_trigger(row)
                messages.success(request, f"{row.schedule_id} triggered.")
            except DriftError as exc:
                messages.error(request, f"{row.schedule_id}: {exc.message}")

    @admin.action(description="Reconcile every schedule with Temporal now (platform operators)",
                  permissions=["reconcile"])
    def reconcile_all(self, request, queryset) -> None:
        report = schedules_reconcile()
        messages.info(request, f"Synced {report['synced']}, failed {report['failed']}, deleted {report['deleted']} "
                               "orphaned Temporal schedules.")


# --- webhook deliveries (read-only)


class WebhookAttemptInline(TenantScopedInlineMixin, ReadOnlyInline):
    parent_tenant_field = "run.tenant"
    model = WebhookAttempt
    fields = ("number", "status_code", "error", "duration_ms", "attempted_at")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_field = "run__tenant"
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
