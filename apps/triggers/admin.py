"""Admin of triggers (spec §13): list, form validated like the API, recent events with their outcome, and
"send a test event" (shows the start body the mapping builds, then stores and delivers the event)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.runs.admin.runs import START_RUN
from apps.runs.models import Run
from apps.triggers import selectors, services
from apps.triggers.models import Trigger, TriggerEvent
from drift.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin, json_block

# A problem's path (API spelling) -> the form field it is shown on.
_FIELD_OF = {"$.workflow": "workflow_key", "$.mapping": "mapping", "$.correlation": "correlation",
             "$.eventName": "event_name", "$.dedupeKey": "dedupe_key", "$.auth": "auth"}


class TriggerForm(forms.ModelForm):
    """Checked by the same service as the API, so the admin accepts exactly what /v3/triggers/ accepts."""

    class Meta:
        model = Trigger
        fields = ("tenant", "trigger_id", "action", "enabled", "workflow_key", "issue_id", "version", "mapping",
                  "correlation", "event_name", "dedupe_key", "auth")

    def clean(self) -> dict:
        data = super().clean()
        tenant = data.get("tenant") or (self.instance.tenant if self.instance.pk else "")
        if self.errors or not tenant:
            return data
        fields = {name: data.get(name) for name in services.FIELDS}
        for problem in services.trigger_problems(tenant=tenant, fields=fields):
            root = ".".join(problem.path.split(".")[:2])
            self.add_error(_FIELD_OF.get(root), f"{problem.path}: {problem.problem}")
        return data


@admin.register(Trigger)
class TriggerAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = TriggerForm
    list_display = ("trigger_id", "tenant", "action", "target", "enabled", "hook_path", "updated_at")
    list_filter = ("action", "enabled", "tenant")
    search_fields = ("trigger_id", "workflow_key", "issue_id", "event_name")
    readonly_fields = ("hook_path", "recent_events", "created_by", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "tenant", "trigger_id") if obj else ("created_by",)

    @admin.display(description="runs")
    def target(self, obj: Trigger) -> str:
        return f"workflow {obj.workflow_key}" if obj.workflow_key else (f"issue {obj.issue_id}" if obj.issue_id
                                                                          else "any workflow")

    @admin.display(description="hook")
    def hook_path(self, obj: Trigger) -> str:
        return f"POST /v3/hooks/{obj.tenant}/{obj.trigger_id}" if obj.pk else "—"

    @admin.display(description="recent events")
    def recent_events(self, obj: Trigger) -> str:
        return events_table(list(selectors.trigger_events_recent(obj))) if obj.pk else "—"

    def save_model(self, request, obj: Trigger, form, change) -> None:
        fields = {name: form.cleaned_data.get(name) for name in services.FIELDS}
        saved = services.trigger_save(tenant=obj.tenant, trigger_id=obj.trigger_id, fields=fields, create=not change,
                                      actor=f"admin:{request.user.get_username()}")
        obj.pk = saved.pk

    def has_test_permission(self, request: HttpRequest, obj: Trigger | None = None) -> bool:
        """A test event starts or feeds a run: the trigger's change permission and the run's start permission."""
        return self.has_change_permission(request, obj) and self.may(request, START_RUN, obj)

    def get_urls(self):
        view = self.admin_site.admin_view(self.test_event_view)
        return [path("<int:pk>/test-event/", view, name="triggers_trigger_test_event"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        trigger = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        extra = {"may_test": trigger is not None and self.has_test_permission(request, trigger)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def test_event_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: a form with a sample event. POST `preview`: the start body the mapping builds (nothing stored);
        POST `send`: the event stored and delivered as the hook would (the trigger's auth aside)."""
        trigger = self.scoped_object(request, pk, self.permission_name("view"))
        form = TestEventForm(request.POST or None)
        context: dict[str, Any] = {}
        if request.method == "POST" and form.is_valid():
            event = {"body": form.cleaned_data["body"], "headers": form.cleaned_data["headers"] or {},
                     "query": form.cleaned_data["query"] or {}}
            if "send" in request.POST:
                self.require(request, self.permission_name("change"), trigger)
                self.require(request, START_RUN, trigger)
                context["reply"] = services.event_receive(trigger, **event)
                context["reply_json"] = json_block(context["reply"])
                context["run_link"] = run_link(trigger.tenant, context["reply"].get("workflowId"))
            prepared = services.event_preview(trigger, **event)
            context["preview"] = json_block(prepared.start_body or {"status": prepared.status,
                                                                    "workflowId": prepared.workflow_id or None,
                                                                    "error": prepared.error or None})
        return TemplateResponse(request, "admin/triggers/test_event.html", {
            **self.admin_site.each_context(request), **context, "opts": self.model._meta, "original": trigger,
            "form": form, "title": f"Send a test event to {trigger.trigger_id}",
            "may_send": self.has_test_permission(request, trigger),
            "change_url": reverse("admin:triggers_trigger_change", args=[trigger.pk]),
            "events": events_table(list(selectors.trigger_events_recent(trigger, limit=10))),
        })


class JSONText(forms.JSONField):
    widget = forms.Textarea(attrs={"rows": 6, "cols": 80})


class TestEventForm(forms.Form):
    body = JSONText(initial={"id": "evt_1", "data": {"order": "A-1"}}, help_text="The event's JSON body.")
    headers = JSONText(required=False, initial={"x-event-id": "evt_1"}, help_text="Header name -> value.")
    query = JSONText(required=False, initial={}, help_text="Query parameter -> value.")

    def clean(self) -> dict:
        data = super().clean()
        for name in ("headers", "query"):
            value = data.get(name) or {}
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                self.add_error(name, "A JSON object of strings.")
            else:
                data[name] = {key.lower(): v for key, v in value.items()} if name == "headers" else value
        return data


def run_link(tenant: str, workflow_id: str | None) -> str:
    run = Run.objects.filter(tenant=tenant, workflow_id=workflow_id).only("pk").first() if workflow_id else None
    if run is None:
        return workflow_id or "—"
    return format_html('<a href="{}">{}</a>', reverse("admin:runs_run_change", args=[run.pk]), workflow_id)


def events_table(events: list[TriggerEvent]) -> str:
    if not events:
        return "no events yet"
    rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
        (event.received_at.strftime("%Y-%m-%d %H:%M:%S"), event.event_id, event.status,
         run_link(event.tenant, event.workflow_id), event.attempts, event.error or "") for event in events))
    return format_html('<table class="drift-events"><tr><th>received</th><th>event</th><th>outcome</th><th>run</th>'
                       "<th>attempts</th><th>error</th></tr>{}</table>", rows)


@admin.register(TriggerEvent)
class TriggerEventAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("event_id", "trigger", "status", "workflow_id", "attempts", "received_at", "done_at")
    list_filter = ("status", "tenant")
    search_fields = ("event_id", "workflow_id", "trigger__trigger_id")
    date_hierarchy = "received_at"
    list_select_related = ("trigger",)
    fields = ("event_id", "trigger", "status", "workflow_link", "duplicate_of", "error", "attempts", "attempt_log_view",
              "received_at", "done_at", "body_view", "headers_view", "query_view", "start_body_view")
    readonly_fields = fields

    @admin.display(description="run")
    def workflow_link(self, obj: TriggerEvent) -> str:
        return run_link(obj.tenant, obj.workflow_id)

    @admin.display(description="attempts log")
    def attempt_log_view(self, obj: TriggerEvent) -> str:
        return json_block(obj.attempt_log)

    @admin.display(description="body")
    def body_view(self, obj: TriggerEvent) -> str:
        return json_block(obj.body)

    @admin.display(description="headers")
    def headers_view(self, obj: TriggerEvent) -> str:
        return json_block(obj.headers)

    @admin.display(description="query")
    def query_view(self, obj: TriggerEvent) -> str:
        return json_block(obj.query)

    @admin.display(description="start body built")
    def start_body_view(self, obj: TriggerEvent) -> str:
        return json_block(obj.start_body)



