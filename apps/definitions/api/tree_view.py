"""`GET /workflowDefinition/treeView/{id}?version=&format=png|svg`: the workflow graph as a picture (spec §3.7).

Mounted with `include()` from apps/definitions/api/urls.py ahead of the `workflowDefinition/{id}` routes."""

from django.http import HttpResponse
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from apps.definitions import selectors
from apps.definitions.api.views import VERSION_PARAM, DriftAPIView, model_permissions, query_version
from apps.definitions.graph_render import FORMATS, GraphRenderError, GraphTooLarge, render_workflow
from core.problems import Problem
from drift.errors import DriftError, InvalidInput, ServiceUnavailable
from drift.renderers import SafeJSONRenderer


class TooLargeToDraw(DriftError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "TOO_LARGE"


class _FormatIsThePictureType(DefaultContentNegotiation):
    """`?format=` names the picture type here, not a DRF renderer; errors are rendered as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class WorkflowTreeView(DriftAPIView):
    permission_map = model_permissions("definition", GET="view")
    content_negotiation_class = _FormatIsThePictureType
    renderer_classes = [SafeJSONRenderer]

    @extend_schema(
        summary="The workflow graph as an image (PNG by default, SVG with format=svg)",
        parameters=[VERSION_PARAM, OpenApiParameter("format", str, enum=sorted(FORMATS), default="png")],
        responses={(200, "image/png"): OpenApiTypes.BINARY, (200, "image/svg+xml"): OpenApiTypes.STR,
                   422: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, key: str) -> HttpResponse:
        fmt = (request.query_params.get("format") or "png").strip().lower()
        if fmt not in FORMATS:
            raise InvalidInput("Invalid format.", [Problem("$.query.format", "must be png or svg")])
        version = query_version(request)
        body = selectors.workflow_get(tenant=self.tenant(), key=key, version=version, enrich=True)
        try:
            image = render_workflow(body, fmt, title=f"{key} v{body.get('version')}")
        except GraphTooLarge as exc:
            raise TooLargeToDraw(str(exc)) from exc
        except GraphRenderError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        response = HttpResponse(image, content_type=FORMATS[fmt])
        response["Content-Disposition"] = f'inline; filename="{key}.{fmt}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


urlpatterns = [
    re_path(r"^(?P<key>[^/]+)/?$", WorkflowTreeView.as_view(), name="workflowDefinition-treeView"),
]
