"""Secrets API (spec §12): write-only values, listed by name. Thin views over services/selectors."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.definitions.api.views import DriftAPIView
from apps.secrets import selectors, services
from apps.secrets.api.serializers import SecretSerializer, SecretValueSerializer
from drift.api import object_body, validated


class SecretCollectionView(DriftAPIView):
    permission_map = {"GET": ("secrets.view_secret",)}

    @extend_schema(summary="The tenant's secrets (names only; values are never returned)",
                   responses=SecretSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(SecretSerializer(selectors.secret_list(tenant=self.tenant()), many=True).data)


class SecretDetailView(DriftAPIView):
    # PUT creates or replaces (one call, either outcome): it needs both.
    permission_map = {"PUT": ("secrets.add_secret", "secrets.change_secret"), "DELETE": ("secrets.delete_secret",)}

    @extend_schema(summary="Create or replace a secret (write-only)", request=SecretValueSerializer,
                   responses=SecretSerializer)
    def put(self, request: Request, name: str) -> Response:
        services.check_secret_name(name)
        data = validated(SecretValueSerializer, object_body(request))
        secret = services.secret_put(tenant=self.tenant(), name=name, value=data["value"], actor=self.actor())
        return Response(SecretSerializer(secret).data)

    @extend_schema(summary="Delete a secret", responses={204: None})
    def delete(self, request: Request, name: str) -> Response:
        services.secret_delete(tenant=self.tenant(), name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)
