"""Admin side of trying and testing (spec §9): the node page's "Try it" panel, the workflow page's
"Run tests" button with its report, and a finished run turned into a test case.

The definitions admin stays unaware of this app: its node admin is re-registered here with the extra
views (this app is installed after apps.definitions, so its admin module loads later).
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from rest_framework.exceptions import ValidationError

from apps.definitions.admin import NodeDefinitionAdmin, WorkflowDefinitionAdmin, actor_of, report_error
from apps.definitions.models import NodeDefinition, WorkflowDefinition
from apps.definitions.versions import parse_version
from apps.runs.admin import RunAdmin
from apps.runs.models import Run
from apps.trials.api.serializers import DryRunInputSerializer
from apps.trials.dryrun import node_dry_run
from apps.trials.from_run import case_from_run
from apps.trials.models import TestReport
from apps.trials.services import workflow_add_test_case, workflow_test
from core.paths import resolve_parameters
from drift.errors import DriftError, error_response

SAMPLE_CONTEXT = {"params": {}, "issueDetail": {}, "customer": {}, "orderDetails": {}, "config": {}}


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


class NodeDefinitionTryAdmin(NodeDefinitionAdmin):
    """The node admin with a "Try it" panel: a sample context editor and the dry-run report beside it."""

    change_form_template = "admin/trials/node_change_form.html"

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        extra = [path("<int:pk>/try/", self.admin_site.admin_view(self.try_view), name=f"{prefix}_try")]
        return extra + super().get_urls()

    def try_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        # A dry-run calls out with the tenant's secrets: the definitions' change permission, as the API's.
        obj = self._object(request, pk, write=True)
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

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update({
                "try_url": self._url("try", obj.pk),
                "try_versions": ["SNAPSHOT", *(str(n) for n in range(obj.latest_version, 0, -1))],
                "try_sample_context": json.dumps(SAMPLE_CONTEXT, indent=2),
            })
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


class WorkflowDefinitionTestAdmin(WorkflowDefinitionAdmin):
    """The workflow admin with a "Run tests" button and the test reports of the definition."""

    change_form_template = "admin/trials/workflow_change_form.html"

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        extra = [
            path("<int:pk>/tests/run/", self.admin_site.admin_view(self.run_tests_view), name=f"{prefix}_run_tests"),
            path("<int:pk>/tests/<int:report_id>/", self.admin_site.admin_view(self.test_report_view),
                 name=f"{prefix}_test_report"),
        ]
        return extra + super().get_urls()

    def run_tests_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self._object(request, pk, write=True)  # tests run nodes like "Try it" does
        if request.method != "POST":
            return self._back(obj)
        as_json = request.headers.get("Accept") == "application/json"  # the builder's "Run tests"
        try:
            version = parse_version(request.POST.get("version"), path="version", default="SNAPSHOT")
            report = workflow_test(tenant=obj.tenant, key=obj.key, version=version, actor=actor_of(request))
        except DriftError as exc:
            if as_json:
                response = error_response(exc)
                return JsonResponse(response.data, status=response.status_code)
            report_error(request, exc)
            return self._back(obj)
        url = self._url("test_report", obj.pk, report.pk)
        if as_json:
            cases = [{key: case.get(key) for key in ("name", "passed", "failure", "status", "path")}
                     for case in report.cases]
            return JsonResponse({"passed": report.passed, "version": report.version, "url": url, "cases": cases})
        return HttpResponseRedirect(url)

    def builder_extra(self, obj) -> dict[str, str]:
        """The builder's "Run tests" (a saved definition) and "Try" of a selected state's node."""
        extra = {"try-url": reverse("admin:definitions_nodedefinition_try", args=[0]).replace("/0/", "/__pk__/"),
                 "try-sample": json.dumps(SAMPLE_CONTEXT, indent=2)}
        if obj is not None:
            extra["run-tests-url"] = self._url("run_tests", obj.pk)
        return extra

    def test_report_view(self, request: HttpRequest, pk: int, report_id: int) -> HttpResponse:
        obj = self._object(request, pk, write=False)
        report = get_object_or_404(TestReport, pk=report_id, tenant=obj.tenant, workflow_key=obj.key)
        recent = TestReport.objects.filter(tenant=obj.tenant, workflow_key=obj.key)[:20]
        cases = [{**case, "timeline_rows": case.get("timeline") or [],
                  "views": [state["view"] for state in case.get("states") or [] if state.get("view")]}
                 for case in report.cases]
        context = self._context(request, obj, f"Test report {report.pk} of {obj.key}", report=report, cases=cases,
                                recent=[(r, self._url("test_report", obj.pk, r.pk)) for r in recent],
                                failed=sum(1 for case in report.cases if not case["passed"]))
        return TemplateResponse(request, "admin/trials/test_report.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update({
                "run_tests_url": self._url("run_tests", obj.pk),
                "test_versions": ["SNAPSHOT", *(str(n) for n in range(obj.latest_version, 0, -1))],
            })
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


class RunTestCaseAdmin(RunAdmin):
    """The run admin with "As a test case": a finished run's case, added to its workflow's SNAPSHOT tests."""

    change_form_template = "admin/trials/run_change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.as_test_case_view)
        return [path("<int:pk>/as-test-case/", view, name="runs_run_as_test_case"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"as_test_case_url": reverse("admin:runs_run_as_test_case", args=[object_id])} \
            if str(object_id).isdigit() else {}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def as_test_case_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = self.scoped_object(request, pk)
        run_url = reverse("admin:runs_run_change", args=[run.pk])
        try:
            case = case_from_run(run)
            if request.method == "POST":
                self.require(request, "definitions.change_definition", run)
                name = workflow_add_test_case(tenant=run.tenant, key=run.definition_key, case=case,
                                              actor=actor_of(request))
                head = WorkflowDefinition.objects.get(tenant=run.tenant, key=run.definition_key)
                messages.success(request, f"{run.definition_key}: test case '{name}' added to the SNAPSHOT.")
                return HttpResponseRedirect(reverse("admin:definitions_workflowdefinition_change", args=[head.pk]))
        except DriftError as exc:
            report_error(request, exc)
            return HttpResponseRedirect(run_url)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": run, "run_url": run_url,
                   "title": f"{run.workflow_id} as a test case", "case": json.dumps(case, indent=2)}
        return TemplateResponse(request, "admin/trials/run_as_test_case.html", context)


admin.site.unregister(Run)
admin.site.register(Run, RunTestCaseAdmin)
admin.site.unregister(NodeDefinition)
admin.site.register(NodeDefinition, NodeDefinitionTryAdmin)
admin.site.unregister(WorkflowDefinition)
admin.site.register(WorkflowDefinition, WorkflowDefinitionTestAdmin)
