"""The codec endpoint: the Temporal UI (and `temporal workflow show --codec-endpoint`) decode Drift's encrypted
payloads here, in the protocol of temporalio's codec-server samples: POST `/codec/decode` and `/codec/encode`
with `{"payloads": [...]}` (Payloads protobuf as JSON), answered in kind.

Only callers allowed to reveal sensitive data get through: an admin session user with
`secrets.reveal_sensitive`, or `Authorization: Api-Key <key>` with the `reveal` scope (the CLI's `--codec-auth`).
Every decode is recorded in the reveal audit. Browsers are let in from DRIFT_CODEC_CORS_ORIGINS only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from google.protobuf import json_format
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from temporalio.api.common.v1 import Payloads

from apps.clients.authentication import ApiKeyAuthentication, Principal, may_reveal
from apps.secrets.services import reveal_record
from core.problems import Problem
from drift.codec import payload_codec
from drift.errors import InvalidInput

ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


class BrowserSessionAuthentication(SessionAuthentication):
    """The admin session, without DRF's CSRF check: the Temporal UI calls from another origin by design. A forged
    request gains nothing: CORS keeps the answer from any origin not listed, and decoding changes no state
    (beyond the audit row that records it)."""

    def enforce_csrf(self, request: Request) -> None:
        return


class MayReveal(permissions.BasePermission):
    message = "Decoding Temporal payloads needs the reveal permission (scope `reveal` or secrets.reveal_sensitive)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method == "OPTIONS" or may_reveal(request)


class PayloadsSerializer(serializers.Serializer):
    payloads = serializers.ListField(child=serializers.DictField(), help_text="Payloads protobuf as JSON.")


class CodecView(APIView):
    authentication_classes = [ApiKeyAuthentication, BrowserSessionAuthentication]
    permission_classes = [MayReveal]
    direction = "decode"

    @extend_schema(summary="Encode or decode Temporal payloads (codec server protocol; reveal permission)",
                   request=PayloadsSerializer, responses=PayloadsSerializer)
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.", [Problem("$", "must be a JSON object")])
        try:
            payloads = json_format.ParseDict(request.data, Payloads()).payloads
            codec = payload_codec()
            result = codec.decode_now(payloads) if self.direction == "decode" else codec.encode_now(payloads)
        except (json_format.ParseError, ValueError, TypeError) as exc:
            raise InvalidInput(f"Cannot {self.direction}: {exc}", [Problem("$.payloads", str(exc)[:200])]) from None
        if self.direction == "decode":
            self._audit(request)
        return Response(json_format.MessageToDict(Payloads(payloads=result)) or {"payloads": []})

    def _audit(self, request: Request) -> None:
        user = request.user
        actor, tenant = (f"{user.client_id}/{user.username}", user.tenant) if isinstance(user, Principal) else (
            user.get_username(), "*")
        namespace = request.headers.get("X-Namespace") or settings.TEMPORAL_NAMESPACE
        reveal_record(actor=actor, tenant=tenant, workflow_id=f"namespace:{namespace}", channel="codec")

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        if origin and origin.rstrip("/") in {allowed.rstrip("/") for allowed in settings.DRIFT_CODEC_CORS_ORIGINS}:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Credentials"] = "true"
            response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response["Vary"] = "Origin"
        return response
