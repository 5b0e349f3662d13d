"""Try and test definitions (spec §9). Thin views over apps.trials services."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.definitions.api.views import DriftAPIView, model_permissions, query_version
from apps.trials.api import serializers as s
from apps.trials.dryrun import node_dry_run
from apps.trials.services import workflow_test
from drift.api import object_body, validated

VERSION_PARAM = OpenApiParameter("version", str, description="SNAPSHOT, LATEST (default), ACTIVE or a number.")


class NodeDryRunView(DriftAPIView):
    # Trying a definition is editing it (the trials app has no model permission of its own).
    permission_map = model_permissions("definition", POST="change")

    @extend_schema(summary="Run one node once, outside any run", request=s.DryRunInputSerializer,
                   responses=s.DryRunReportSerializer, parameters=[VERSION_PARAM])
    def post(self, request: Request, key: str) -> Response:
        version = query_version(request)
        data = validated(s.DryRunInputSerializer, object_body(request))
        report = node_dry_run(tenant=self.tenant(), key=key, version=version, context=data["context"],
                              parameters=data["parameters"], mock=data["mock"])
        return Response(report)


class WorkflowTestView(DriftAPIView):
    # Trying a definition is editing it (the trials app has no model permission of its own).
    permission_map = model_permissions("definition", POST="change")

    @extend_schema(summary="Run a version's test cases on the real engine (waits skipped, no real calls)",
                   request=None, responses=s.TestReportSerializer, parameters=[VERSION_PARAM])
    def post(self, request: Request, key: str) -> Response:
        version = query_version(request)
        report = workflow_test(tenant=self.tenant(), key=key, version=version, actor=self.actor())
        return Response(report.as_dict())
