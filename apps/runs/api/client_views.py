"""The calling client's webhook settings (/v3/client/webhook): default callback URL and signing secret.

API keys only (no staff session): a client manages its own webhooks without database or admin access.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.clients.authentication import ApiKeyAuthentication
from apps.clients.models import ApiClient
from apps.clients.selectors import api_client_get
from apps.clients.services import api_client_rotate_webhook_secret, api_client_set_callback_url
from apps.runs.api.views import ERRORS, HEADERS, START_RUN, VIEW_RUN, RuntimeView
from drift.api import StrictSerializer, validated_object


class WebhookSettingsSerializer(serializers.Serializer):
    callbackUrl = serializers.CharField(help_text="Default webhook URL of ASYNC runs; empty: none.")  # noqa: N815
    webhookSecretSet = serializers.BooleanField(help_text="Whether deliveries are signed.")  # noqa: N815


class WebhookSettingsUpdateSerializer(StrictSerializer):
    # The SSRF check is the service's (one place for the API and the admin).
    callbackUrl = serializers.URLField(max_length=500, allow_blank=True)  # noqa: N815


class WebhookSecretSerializer(serializers.Serializer):
    webhookSecret = serializers.CharField(help_text="HMAC-SHA256 key of X-Drift-Signature; shown only here.")  # noqa: N815


def _settings(client: ApiClient) -> dict:
    return {"callbackUrl": client.callback_url, "webhookSecretSet": bool(client.webhook_secret)}


class ClientView(RuntimeView):
    authentication_classes = [ApiKeyAuthentication]

    def client(self) -> ApiClient:
        return api_client_get(tenant=self.principal.tenant, client_id=self.principal.client_id)


class WebhookSettingsView(ClientView):
    # Where the client's runs report: read with the runs, changed with the right to start them.
    permission_map = {"GET": VIEW_RUN, "PATCH": START_RUN}

    @extend_schema(summary="The calling client's webhook settings", parameters=HEADERS,
                   responses={200: WebhookSettingsSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(_settings(self.client()))

    @extend_schema(summary="Set the calling client's default callback URL (ASYNC runs without callbackUrl)",
                   parameters=HEADERS, request=WebhookSettingsUpdateSerializer,
                   responses={200: WebhookSettingsSerializer, **ERRORS})
    def patch(self, request: Request) -> Response:
        body = validated_object(WebhookSettingsUpdateSerializer, request.data)
        return Response(_settings(api_client_set_callback_url(client=self.client(), url=body["callbackUrl"])))


class WebhookSecretRotateView(ClientView):
    permission_map = {"POST": START_RUN}

    @extend_schema(summary="Rotate the calling client's webhook signing secret; the answer is the only time the "
                           "new secret is shown", parameters=HEADERS, request=None,
                   responses={200: WebhookSecretSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        return Response({"webhookSecret": api_client_rotate_webhook_secret(client=self.client())})
