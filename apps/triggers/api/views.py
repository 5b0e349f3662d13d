"""Triggers API (`/v3/triggers/`, scope `definitions`) and the inbound hook `POST /v3/hooks/{tenant}/{id}`, which
needs no API key: the trigger's own auth (HMAC or token) is checked over the raw body before it is parsed."""

from __future__ import annotations

import io
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.definitions.api.views import DriftAPIView
from apps.runs.api.views import ERRORS
from apps.triggers import selectors, services
from apps.triggers.api import serializers as s
from apps.triggers.hook_auth import authentic
from core.problems import Problem
from drift.api import object_body, validated
from drift.errors import DriftError, InvalidInput
from drift.parsers import StrictJSONParser

PERMISSIONS = {"GET": ("triggers.view_trigger",), "POST": ("triggers.add_trigger",),
               "PUT": ("triggers.change_trigger",), "DELETE": ("triggers.delete_trigger",)}


class Unauthorized(DriftError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "UNAUTHORIZED"


class TriggerListView(DriftAPIView):
    permission_map = PERMISSIONS

    @extend_schema(summary="The tenant's triggers (§13)", responses={200: s.TriggerViewSerializer(many=True),
                                                                      **ERRORS})
    def get(self, request: Request) -> Response:
        return Response([selectors.trigger_view(row) for row in selectors.trigger_list(tenant=self.tenant())])

    @extend_schema(summary="Create a trigger (§13)", request=s.TriggerSerializer,
                   responses={201: s.TriggerViewSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        body = validated(s.TriggerSerializer, object_body(request))
        if "id" not in body:
            raise InvalidInput("A trigger needs an id.", [Problem("$.id", "is required")])
        row = services.trigger_save(tenant=self.tenant(), trigger_id=body["id"], create=True, actor=self.actor(),
                                    fields=s.TriggerSerializer.model_fields(body))
        return Response(selectors.trigger_view(row), status=status.HTTP_201_CREATED)


class TriggerDetailView(DriftAPIView):
    permission_map = PERMISSIONS

    @extend_schema(summary="One trigger (§13)", responses={200: s.TriggerViewSerializer, **ERRORS})
    def get(self, request: Request, trigger_id: str) -> Response:
        return Response(selectors.trigger_view(selectors.trigger_get(tenant=self.tenant(), trigger_id=trigger_id)))

    @extend_schema(summary="Replace a trigger (§13)", request=s.TriggerSerializer,
                   responses={200: s.TriggerViewSerializer, **ERRORS})
    def put(self, request: Request, trigger_id: str) -> Response:
        body = validated(s.TriggerSerializer, object_body(request))
        if body.get("id", trigger_id) != trigger_id:
            raise InvalidInput("The body's id differs from the URL's.", [Problem("$.id", "must match the URL")])
        row = services.trigger_save(tenant=self.tenant(), trigger_id=trigger_id, create=False, actor=self.actor(),
                                    fields=s.TriggerSerializer.model_fields(body))
        return Response(selectors.trigger_view(row))

    @extend_schema(summary="Delete a trigger and its events (§13)", responses={204: None, **ERRORS})
    def delete(self, request: Request, trigger_id: str) -> Response:
        services.trigger_delete(selectors.trigger_get(tenant=self.tenant(), trigger_id=trigger_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TriggerEventsView(DriftAPIView):
    permission_map = PERMISSIONS

    @extend_schema(summary="A trigger's events and their outcome (§13), newest first",
                   parameters=[OpenApiParameter("limit", int, description="1-500, default 50."),
                               OpenApiParameter("before", str, description="The next page: the `eventId` of the "
                                                "last event of the previous page.")],
                   responses={200: s.EventViewSerializer(many=True), **ERRORS})
    def get(self, request: Request, trigger_id: str) -> Response:
        trigger = selectors.trigger_get(tenant=self.tenant(), trigger_id=trigger_id)
        raw = request.query_params.get("limit", "50")
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 500):
            raise InvalidInput("Invalid 'limit'.", [Problem("$.query.limit", "must be an integer from 1 to 500")])
        events = selectors.trigger_events_recent(trigger, limit=int(raw), before=request.query_params.get("before"))
        return Response([selectors.event_view(event) for event in events])


class HookView(DriftAPIView):
    """The inbound endpoint: 404 (unknown hook), 413, 401 (checked on the raw bytes), 400 (not JSON), 202."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Receive an event for a trigger (§13); authenticated by the trigger's HMAC or token",
                   request={"application/json": OpenApiTypes.ANY}, auth=[],
                   responses={202: s.HookReplySerializer, 401: OpenApiResponse(description="Wrong signature"),
                              413: OpenApiResponse(description="Body over 1 MiB"), **ERRORS})
    def post(self, request: Request, tenant: str, trigger_id: str) -> Response:
        trigger = selectors.hook_trigger(tenant=tenant, trigger_id=trigger_id)
        raw = request.body  # bounded by DATA_UPLOAD_MAX_MEMORY_SIZE (413)
        query = {key: request.query_params.get(key) for key in request.query_params}
        if not authentic(trigger.auth, tenant=trigger.tenant, raw=raw, headers=request.headers, query=query):
            raise Unauthorized("Missing or wrong signature.")
        body = StrictJSONParser().parse(io.BytesIO(raw)) if raw else None
        if body is None:
            raise InvalidInput("The body must be JSON.", [Problem("$", "is empty")])
        reply = services.event_receive(trigger, body=body, headers=_lowered(request.headers),
                                       query={k: v for k, v in query.items() if k != "token"})
        return Response(reply, status=status.HTTP_202_ACCEPTED)


def _lowered(headers: Any) -> dict[str, str]:
    """Request headers, names lower-cased, without the ones that authenticate (never stored)."""
    return {name.lower(): value for name, value in headers.items() if name.lower() not in ("authorization", "cookie")}
