"""Host limits API (spec §13): `/v3/host-limits/` for platform operators (superusers) only. Host limits are shared
by every tenant, so no API key and no tenant's staff user may read or change them."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.clients.authentication import PlatformOperatorOnly
from apps.definitions.api.views import DriftAPIView
from apps.nodes import selectors, services
from apps.nodes.api.serializers import HostLimitBodySerializer, HostLimitSerializer
from drift.api import object_body

ERRORS = {code: OpenApiResponse(description=text) for code, text in {
    400: "Invalid body: `details[].path` names each field", 403: "Not a platform operator (superuser)",
    404: "No limit for that host", 409: "The host has a limit already (POST)", 413: "Body too large",
}.items()}


class HostLimitOperatorView(DriftAPIView):
    permission_classes = [PlatformOperatorOnly]

    def actor(self) -> str:
        return self.request.user.username


class HostLimitListView(HostLimitOperatorView):
    @extend_schema(summary="Every downstream host limit (§13; superusers)",
                   responses={200: HostLimitSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        return Response([selectors.host_limit_view(row) for row in selectors.host_limit_list()])

    @extend_schema(summary="Add a host limit (§13; superusers)", request=HostLimitBodySerializer,
                   responses={201: HostLimitSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        row, _ = services.host_limit_put(body=object_body(request), actor=self.actor(), create_only=True)
        return Response(selectors.host_limit_view(row), status=status.HTTP_201_CREATED)


class HostLimitDetailView(HostLimitOperatorView):
    @extend_schema(summary="One host limit (§13; superusers)", responses={200: HostLimitSerializer, **ERRORS})
    def get(self, request: Request, host: str) -> Response:
        return Response(selectors.host_limit_view(selectors.host_limit_get(host=host)))

    @extend_schema(summary="Create or replace a host limit (§13; superusers)", request=HostLimitBodySerializer,
                   responses={200: HostLimitSerializer, 201: HostLimitSerializer, **ERRORS})
    def put(self, request: Request, host: str) -> Response:
        row, created = services.host_limit_put(body=object_body(request), actor=self.actor(), host=host)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(selectors.host_limit_view(row), status=code)

    @extend_schema(summary="Delete a host limit (§13; superusers)", responses={204: None, **ERRORS})
    def delete(self, request: Request, host: str) -> Response:
        services.host_limit_delete(selectors.host_limit_get(host=host))
        return Response(status=status.HTTP_204_NO_CONTENT)
