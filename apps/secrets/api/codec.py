"""The codec endpoint: the Temporal UI (and `temporal workflow show --codec-endpoint`) decode Drift's encrypted
payloads here, in the protocol of temporalio's codec-server samples: POST `/codec/decode` and `/codec/encode`
with `{"payloads": [...]}` (Payloads protobuf as JSON), answered in kind.

Only callers allowed to reveal sensitive data get through: an admin session user with
`secrets.reveal_sensitive`, or `Authorization: Api-Key <key>` with the `reveal` scope (the CLI's `--codec-auth`).
Every decode is recorded in the reveal audit. Browsers are let in from DRIFT_CODEC_CORS_ORIGINS only.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from google.protobuf import json_format
from rest_framework import exceptions
from temporalio.api.common.v1 import Payloads

from apps.clients.authentication import ApiKeyAuthentication
from apps.secrets.services import reveal_record
from drift.codec import payload_codec

ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


def _reader(request: HttpRequest) -> tuple[str, str] | None:
    """(actor, tenant) of a caller allowed to decode, or None."""
    if request.headers.get("Authorization", "").startswith(ApiKeyAuthentication.keyword):
        try:
            principal, _ = ApiKeyAuthentication().authenticate(request) or (None, None)
        except exceptions.APIException:
            return None
        if principal is not None and "reveal" in principal.scopes:
            return f"{principal.client_id}/{principal.username}", principal.tenant
        return None
    user = request.user
    if user.is_authenticated and user.is_active and user.has_perm("secrets.reveal_sensitive"):
        return user.get_username(), "*"
    return None


def _with_cors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    origin = request.headers.get("Origin")
    if origin and origin.rstrip("/") in {allowed.rstrip("/") for allowed in settings.DRIFT_CODEC_CORS_ORIGINS}:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Vary"] = "Origin"
    return response


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, "details": []}, status=status)


def _codec_view(direction: str):
    @csrf_exempt  # cross-origin by design (the Temporal UI); authorised per request above, never by cookie alone
    def view(request: HttpRequest) -> HttpResponse:
        if request.method == "OPTIONS":
            return _with_cors(request, HttpResponse(status=200))
        if request.method != "POST":
            return _with_cors(request, _error(405, "METHOD_NOT_ALLOWED", "POST a Payloads JSON document."))
        reader = _reader(request)
        if reader is None:
            return _with_cors(request, _error(403, "FORBIDDEN", "Decoding needs the reveal permission."))
        try:
            payloads = json_format.Parse(request.body, Payloads()).payloads
            codec = payload_codec()
            result = codec.decode_now(payloads) if direction == "decode" else codec.encode_now(payloads)
        except (json_format.ParseError, ValueError, UnicodeDecodeError) as exc:
            return _with_cors(request, _error(400, "BAD_REQUEST", f"Cannot {direction}: {exc}"))
        if direction == "decode":
            namespace = request.headers.get("X-Namespace") or settings.TEMPORAL_NAMESPACE
            reveal_record(actor=reader[0], tenant=reader[1], workflow_id=f"namespace:{namespace}", channel="codec")
        body = json_format.MessageToJson(Payloads(payloads=result))
        return _with_cors(request, HttpResponse(body, content_type="application/json"))

    return view


encode = _codec_view("encode")
decode = _codec_view("decode")
