"""What run operations add to the run admin (apps/runs/admin/runs.py, through drift.admin's extension points):
the Rerun and Redrive buttons of a run's page, and the change list's rerun, redrive and bulk-job actions."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from apps.clients.access import may_act_for
from apps.operations.api.serializers import RedriveSerializer
from apps.operations.bulk import bulk_job_create
from apps.operations.models import BulkOp
from apps.operations.redrive import REDRIVABLE, failed_node, run_redrive
from apps.operations.rerun import run_rerun
from apps.runs.admin.runs import START_RUN, TERMINATE_RUN, RunAdmin
from apps.runs.models import Run
from drift.admin import AdminExtension, admin_extend
from drift.errors import DriftError, InvalidInput, Problem


def redrive_form_body(form) -> dict:
    """The admin redrive form as the API's redrive body, validated by the same serializer."""
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


def _start_new(request: HttpRequest, run: Run, verb: str, start) -> Run | None:
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


def _rerun(request: HttpRequest, run: Run) -> Run | None:
    return _start_new(request, run, "rerun", lambda: run_rerun(run=run))


def _redrive(request: HttpRequest, run: Run, **options) -> Run | None:
    actor = f"admin:{request.user.get_username()}"
    return _start_new(request, run, "redriven", lambda: run_redrive(run=run, actor=actor, **options))


def _bulk(request: HttpRequest, queryset, op: str, permission: str) -> None:
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
        url = reverse("admin:operations_bulkjob_change", args=[job.pk])
        messages.success(request, format_html('Bulk {} of {} runs of {}: <a href="{}">job {}</a>.', op,
                                              len(workflow_ids), tenant, url, job.job_id))


@admin.action(description="Rerun the selected runs with their original input", permissions=["start"])
def rerun_runs(model_admin, request, queryset) -> None:
    for run in queryset:
        _rerun(request, run)


@admin.action(description="Redrive the selected runs (from the failed node, same version)", permissions=["start"])
def redrive_runs(model_admin, request, queryset) -> None:
    for run in queryset:
        _redrive(request, run)


@admin.action(description="Bulk job: terminate the selected runs (background, with progress)",
              permissions=["terminate"])
def bulk_terminate(model_admin, request, queryset) -> None:
    _bulk(request, queryset, BulkOp.TERMINATE, TERMINATE_RUN)


@admin.action(description="Bulk job: rerun the selected runs (background, with progress)", permissions=["start"])
def bulk_rerun(model_admin, request, queryset) -> None:
    _bulk(request, queryset, BulkOp.RERUN, START_RUN)


@admin.action(description="Bulk job: redrive the selected runs (background, with progress)", permissions=["start"])
def bulk_redrive(model_admin, request, queryset) -> None:
    _bulk(request, queryset, BulkOp.REDRIVE, START_RUN)


class RunOperationsExtension(AdminExtension):
    tools = ("admin/operations/run_tools.html",)
    actions = (rerun_runs, redrive_runs, bulk_terminate, bulk_rerun, bulk_redrive)

    def get_urls(self, model_admin: RunAdmin) -> list:
        def wrap(view):
            return model_admin.admin_site.admin_view(lambda request, pk: view(model_admin, request, pk))

        return [path("<int:pk>/rerun/", wrap(self.rerun_view), name="runs_run_rerun"),
                path("<int:pk>/redrive/", wrap(self.redrive_view), name="runs_run_redrive")]

    def change_context(self, model_admin: RunAdmin, request: HttpRequest, obj: Run | None) -> dict:
        if obj is None:
            return {}
        return {"rerun_url": reverse("admin:runs_run_rerun", args=[obj.pk]),
                "redrive_url": reverse("admin:runs_run_redrive", args=[obj.pk]),
                "may_redrive": obj.status in REDRIVABLE, "default_from_node": failed_node(obj)}

    @staticmethod
    def rerun_view(model_admin: RunAdmin, request: HttpRequest, pk: int) -> HttpResponse:
        run = model_admin.post_only(request, pk, START_RUN)
        new_run = _rerun(request, run)
        return HttpResponseRedirect(reverse("admin:runs_run_change", args=[(new_run or run).pk]))

    @staticmethod
    def redrive_view(model_admin: RunAdmin, request: HttpRequest, pk: int) -> HttpResponse:
        """The change form's redrive form: optional node, version ("SAME", "ACTIVE", a number), JSON patch."""
        run = model_admin.post_only(request, pk, START_RUN)
        try:
            body = redrive_form_body(request.POST)
        except DriftError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:runs_run_change", args=[run.pk]))
        new_run = _redrive(request, run, from_node=body.get("fromNode"), version=body.get("version"),
                           context_patch=body.get("contextPatch"))
        return HttpResponseRedirect(reverse("admin:runs_run_change", args=[(new_run or run).pk]))


admin_extend(RunAdmin, RunOperationsExtension())
