"""Admin side of trying and testing (spec §9): the node page's "Try it" panel, the workflow page's
"Run tests" button with its report, and a finished run turned into a test case.

The definitions and runs admins stay unaware of this app: it adds its views, context and template fragments
to their pages through drift.admin's extension points (`admin_extend`, at the end of this module).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from rest_framework.exceptions import ValidationError

from apps.definitions.admin.common import actor_of, report_error
from apps.definitions.admin.definitions import DefinitionAdminExtension, NodeDefinitionAdmin, WorkflowDefinitionAdmin
from apps.definitions.models import WorkflowDefinition
from apps.definitions.versions import parse_version
from apps.runs.admin.runs import RunAdmin
from apps.trials.api.serializers import DryRunInputSerializer
from apps.trials.dryrun import node_dry_run
from apps.trials.from_run import case_from_run
from apps.trials.models import TestReport
from apps.trials.services import workflow_add_test_case, workflow_test
from core.paths import resolve_parameters
from drift.admin import AdminExtension, admin_extend
from drift.errors import DriftError, error_response

SAMPLE_CONTEXT = {"params": {}, "issueDetail": {}, "customer": {}, "orderDetails": {}, "config": {}}


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _admin_view(model_admin, view):
    """`view(model_admin, request, ...)` as an admin view of `model_admin`'s site (its login, CSRF, no cache)."""
    return model_admin.admin_site.admin_view(
        lambda request, *args, **kwargs: view(model_admin, request, *args, **kwargs))


def _versions(obj) -> list[str]:
    return ["SNAPSHOT", *(str(n) for n in range(obj.latest_version, 0, -1))]


class NodeTryExtension(DefinitionAdminExtension):
    """The node admin's "Try it" panel: a sample context editor and the dry-run report beside it."""

    panels = ("admin/trials/node_try_panel.html",)

    def get_urls(self, model_admin: NodeDefinitionAdmin) -> list:
        prefix = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
        return [path("<int:pk>/try/", _admin_view(model_admin, try_view), name=f"{prefix}_try")]

    def change_context(self, model_admin: NodeDefinitionAdmin, request: HttpRequest, obj) -> dict:
        if obj is None:
            return {}
        return {"try_url": model_admin.url_for("try", obj.pk), "try_versions": _versions(obj),
                "try_sample_context": json.dumps(SAMPLE_CONTEXT, indent=2)}


def try_view(model_admin: NodeDefinitionAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    # A dry-run calls out with the tenant's secrets: the definitions' change permission, as the API's.
    obj = model_admin.object_for(request, pk, write=True)
    if request.method != "POST":
        return JsonResponse({"error": "METHOD", "message": "POST a dry-run request."}, status=405)
    try:
        body = json.loads(request.body or b"{}", parse_constant=_refuse_constant)
        fields = body if isinstance(body, dict) else {}  # not an object: the serializer refuses it
        version = parse_version(fields.pop("version", None), path="$.version", default="SNAPSHOT")
        # The builder tries a state: its parameter mapping, resolved against the context as the engine does.
        mapping = fields.pop("stateParameters", None)
        serializer = DryRunInputSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parameters = data["parameters"]
        if parameters is None and isinstance(mapping, dict):
            parameters = resolve_parameters(mapping, data["context"])
        report = node_dry_run(tenant=obj.tenant, key=obj.key, version=version, context=data["context"],
                              parameters=parameters, mock=data["mock"])
    except ValueError:
        return JsonResponse({"error": "INVALID", "message": "The request is not JSON."}, status=400)
    except (DriftError, ValidationError) as exc:
        response = error_response(exc)
        return JsonResponse(response.data, status=response.status_code)
    return JsonResponse(report)


class WorkflowTestExtension(DefinitionAdminExtension):
    """The workflow admin's "Run tests" button, the builder's "Run tests" and "Try", and the test reports."""

    tools = ("admin/trials/workflow_tools.html",)

    def get_urls(self, model_admin: WorkflowDefinitionAdmin) -> list:
        prefix = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
        return [
            path("<int:pk>/tests/run/", _admin_view(model_admin, run_tests_view), name=f"{prefix}_run_tests"),
            path("<int:pk>/tests/<int:report_id>/", _admin_view(model_admin, test_report_view),
                 name=f"{prefix}_test_report"),
        ]

    def change_context(self, model_admin: WorkflowDefinitionAdmin, request: HttpRequest, obj) -> dict:
        if obj is None:
            return {}
        return {"run_tests_url": model_admin.url_for("run_tests", obj.pk), "test_versions": _versions(obj)}

    def builder_extra(self, model_admin: WorkflowDefinitionAdmin, obj) -> dict[str, str]:
        """The builder's "Run tests" (a saved definition) and "Try" of a selected state's node."""
        extra = {"try-url": reverse("admin:definitions_nodedefinition_try", args=[0]).replace("/0/", "/__pk__/"),
                 "try-sample": json.dumps(SAMPLE_CONTEXT, indent=2)}
        if obj is not None:
            extra["run-tests-url"] = model_admin.url_for("run_tests", obj.pk)
        return extra


def run_tests_view(model_admin: WorkflowDefinitionAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    obj = model_admin.object_for(request, pk, write=True)  # tests run nodes like "Try it" does
    if request.method != "POST":
        return model_admin.back_to(obj)
    as_json = request.headers.get("Accept") == "application/json"  # the builder's "Run tests"
    try:
        version = parse_version(request.POST.get("version"), path="version", default="SNAPSHOT")
        report = workflow_test(tenant=obj.tenant, key=obj.key, version=version, actor=actor_of(request))
    except DriftError as exc:
        if as_json:
            response = error_response(exc)
            return JsonResponse(response.data, status=response.status_code)
        report_error(request, exc)
        return model_admin.back_to(obj)
    url = model_admin.url_for("test_report", obj.pk, report.pk)
    if as_json:
        cases = [{key: case.get(key) for key in ("name", "passed", "failure", "status", "path")}
                 for case in report.cases]
        return JsonResponse({"passed": report.passed, "version": report.version, "url": url, "cases": cases})
    return HttpResponseRedirect(url)


def test_report_view(model_admin: WorkflowDefinitionAdmin, request: HttpRequest, pk: int,
                     report_id: int) -> HttpResponse:
    obj = model_admin.object_for(request, pk, write=False)
    report = get_object_or_404(TestReport, pk=report_id, tenant=obj.tenant, workflow_key=obj.key)
    recent = TestReport.objects.filter(tenant=obj.tenant, workflow_key=obj.key)[:20]
    cases = [{**case, "timeline_rows": case.get("timeline") or [],
              "views": [state["view"] for state in case.get("states") or [] if state.get("view")]}
             for case in report.cases]
    context = model_admin.page_context(
        request, obj, f"Test report {report.pk} of {obj.key}", report=report, cases=cases,
        recent=[(r, model_admin.url_for("test_report", obj.pk, r.pk)) for r in recent],
        failed=sum(1 for case in report.cases if not case["passed"]))
    return TemplateResponse(request, "admin/trials/test_report.html", context)


class RunTestCaseExtension(AdminExtension):
    """The run admin's "As a test case": a finished run's case, added to its workflow's SNAPSHOT tests."""

    tools = ("admin/trials/run_tools.html",)

    def get_urls(self, model_admin: RunAdmin) -> list:
        return [path("<int:pk>/as-test-case/", _admin_view(model_admin, as_test_case_view),
                     name="runs_run_as_test_case")]

    def change_context(self, model_admin: RunAdmin, request: HttpRequest, obj) -> dict:
        return {} if obj is None else {"as_test_case_url": reverse("admin:runs_run_as_test_case", args=[obj.pk])}


def as_test_case_view(model_admin: RunAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    run = model_admin.scoped_object(request, pk)
    run_url = reverse("admin:runs_run_change", args=[run.pk])
    try:
        case = case_from_run(run)
        if request.method == "POST":
            model_admin.require(request, "definitions.change_definition", run)
            name = workflow_add_test_case(tenant=run.tenant, key=run.definition_key, case=case,
                                          actor=actor_of(request))
            head = WorkflowDefinition.objects.get(tenant=run.tenant, key=run.definition_key)
            messages.success(request, f"{run.definition_key}: test case '{name}' added to the SNAPSHOT.")
            return HttpResponseRedirect(reverse("admin:definitions_workflowdefinition_change", args=[head.pk]))
    except DriftError as exc:
        report_error(request, exc)
        return HttpResponseRedirect(run_url)
    context = {**model_admin.admin_site.each_context(request), "opts": model_admin.opts, "original": run,
               "run_url": run_url, "title": f"{run.workflow_id} as a test case", "case": json.dumps(case, indent=2)}
    return TemplateResponse(request, "admin/trials/run_as_test_case.html", context)


admin_extend(NodeDefinitionAdmin, NodeTryExtension())
admin_extend(WorkflowDefinitionAdmin, WorkflowTestExtension())
admin_extend(RunAdmin, RunTestCaseExtension())
