"""The codec endpoint: the Temporal UI (and `temporal workflow show --codec-endpoint`) decode Drift's encrypted
payloads here, in the protocol of temporalio's codec-server samples: POST `/codec/decode` and `/codec/encode`
with `{"payloads": [...]}` (Payloads protobuf as JSON), answered in kind.

Only platform operators (superusers, `access.is_platform_operator`) get through: the payloads of a namespace are
every tenant's, and the protocol says nothing of whose a payload is, so no tenant-bound principal (an API key, a
staff user bound to tenants) may decode them. Every decode is recorded in the reveal audit, one row per tenant
and workflow id found in the decoded payloads (the protocol carries only `X-Namespace`; see docs/secrets.md).
Browsers are let in from DRIFT_CODEC_CORS_ORIGINS only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from google.protobuf import json_format
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from temporalio.api.common.v1 import Payload, Payloads

from apps.clients.authentication import ApiKeyAuthentication, PlatformOperatorOnly
from apps.secrets.services import reveal_record
from core.problems import Problem
from drift.codec import payload_codec
from drift.errors import InvalidInput

ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"
MAX_AUDIT_ROWS = 50  # a history page decodes many payloads of a few runs


def whose(payloads: Iterable[Payload]) -> set[tuple[str, str]]:
    """(tenant, workflow id or "") of each decoded payload that names them: the run contract's inputs carry the
    tenant (RunInput) and most carry the workflow id too (NodeRequest, PersistRequest); other payloads (a node's
    result, an update's answer) name nobody."""
    found = set()
    for payload in payloads:
        if payload.metadata.get("encoding") != b"json/plain":
            continue
        try:
            data = json.loads(payload.data)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("tenant"), str) and data["tenant"]:
            found.add((data["tenant"][:64], str(data.get("workflow_id") or "")[:200]))
    return found


class BrowserSessionAuthentication(SessionAuthentication):
    """The admin session, without DRF's CSRF check: the Temporal UI calls from another origin by design. A forged
    request gains nothing: CORS keeps the answer from any origin not listed, and decoding changes no state
    (beyond the audit row that records it)."""

    def enforce_csrf(self, request: Request) -> None:
        return


class PlatformOperator(PlatformOperatorOnly):
    message = "Decoding Temporal payloads is for platform operators (superusers): they hold every tenant's data."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method == "OPTIONS" or super().has_permission(request, view)


class PayloadsSerializer(serializers.Serializer):
    payloads = serializers.ListField(child=serializers.DictField(), help_text="Payloads protobuf as JSON.")


class CodecView(APIView):
    authentication_classes = [ApiKeyAuthentication, BrowserSessionAuthentication]
    permission_classes = [PlatformOperator]
    direction = "decode"

    @extend_schema(summary="Encode or decode Temporal payloads (codec server protocol; platform operators only)",
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
            self._audit(request, result)
        return Response(json_format.MessageToDict(Payloads(payloads=result)) or {"payloads": []})

    def _audit(self, request: Request, decoded: list[Payload]) -> None:
        namespace = request.headers.get("X-Namespace") or settings.TEMPORAL_NAMESPACE
        unknown = f"namespace:{namespace}"
        for tenant, workflow_id in sorted(whose(decoded))[:MAX_AUDIT_ROWS] or [("*", unknown)]:
            reveal_record(actor=request.user.get_username(), tenant=tenant, workflow_id=workflow_id or unknown,
                          channel="codec")

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
