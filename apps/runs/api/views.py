"""Runtime API (spec §3.1-3.6). Thin views: validate -> apps.runs.runtime / selectors -> respond."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clients.access import acting_name
from apps.clients.authentication import (
    CLIENT_HEADERS,
    TENANT_HEADERS,
    PermissionMap,
    Principal,
    actor_of,
    header,
    may_reveal,
    principal_of,
)
from apps.definitions.api import schema  # noqa: F401 - registers the Api-Key scheme with drf-spectacular
from apps.runs import idempotency, runtime, selectors
from apps.runs.api import serializers as s
from core.problems import Problem
from drift.errors import InvalidInput

HEADERS = [
    OpenApiParameter("X-Tenant-Id", str, OpenApiParameter.HEADER, required=True, description="The key's tenant."),
    OpenApiParameter("X-Client-Id", str, OpenApiParameter.HEADER, required=True, description="The key's client."),
    OpenApiParameter("X-Username-Id", str, OpenApiParameter.HEADER, description="Acting user (default: client)."),
]
ERRORS = {code: OpenApiResponse(s.ErrorSerializer, description=text) for code, text in {
    400: "Malformed or invalid body, missing header", 401: "Missing or unknown API key",
    403: "Wrong scope or tenant", 404: "Unknown run or definition", 409: "State conflict",
    503: "Temporal or the database unreachable (Retry-After)",
}.items()}
ACCEPTED = OpenApiResponse(s.WorkflowResponseSerializer, description="Not stable within the sync timeout (or "
                                                                      "ASYNC): the current state; the run goes on.")
_REQUIRED_HEADERS = (("X-Tenant-Id", TENANT_HEADERS), ("X-Client-Id", CLIENT_HEADERS))


def _validated(serializer_class: type, data: Any, **context: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.", [Problem("$", "must be a JSON object")])
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _reply(reply: runtime.Reply) -> Response:
    return Response(reply.body, status=status.HTTP_202_ACCEPTED if reply.accepted else status.HTTP_200_OK)


def _query_bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").strip().lower()
    if raw not in {"true", "false", "1", "0", ""}:
        raise InvalidInput(f"Invalid '{name}'.", [Problem(f"$.query.{name}", "must be true or false")])
    return raw in {"true", "1"}


VIEW_RUN, START_RUN, TERMINATE_RUN = ("runs.view_run",), ("runs.start_run",), ("runs.terminate_run",)


class RuntimeView(APIView):
    permission_classes = [PermissionMap]
    # Each view names its own (PermissionMap refuses a method with no entry).
    permission_map: dict[str, tuple[str, ...]] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        missing = [name for name, meta_names in _REQUIRED_HEADERS if not header(request, meta_names)]
        if missing:
            noun = "headers are" if len(missing) > 1 else "header is"
            raise InvalidInput(f"The {' and '.join(missing)} {noun} required on runtime calls.",
                               [Problem(name, "header is required") for name in missing])

    @property
    def principal(self) -> Principal:
        return principal_of(self.request)


IDEMPOTENCY_HEADER = OpenApiParameter(
    idempotency.HEADER, str, OpenApiParameter.HEADER, pattern=r"^[\x21-\x7e]{1,200}$",
    description="Same key (tenant, client) within 24 h: the first run's current state; another body: 409.",
)


class StartView(RuntimeView):
    permission_map = {"POST": START_RUN}

    @extend_schema(summary="Start a run (3.1)", request=s.StartSerializer, parameters=[*HEADERS, IDEMPOTENCY_HEADER],
                   responses={200: s.WorkflowResponseSerializer, 202: ACCEPTED, **ERRORS})
    def post(self, request: Request) -> Response:
        key = idempotency.idempotency_key_parse(request.META)
        data = _validated(s.StartSerializer, request.data)
        if key is not None:
            return _reply(idempotency.run_start_idempotent(principal=self.principal, data=data, key=key,
                                                           raw_body=request.data))
        return _reply(runtime.run_start(principal=self.principal, data=data))


class ResumeView(RuntimeView):
    permission_map = {"PUT": START_RUN}

    @extend_schema(summary="Resume a WAITING run with the view response (3.2)", request=s.ResumeSerializer,
                   parameters=HEADERS, responses={200: s.WorkflowResponseSerializer, 202: ACCEPTED, **ERRORS})
    def put(self, request: Request, workflow_id: str) -> Response:
        payload = _validated(s.ResumeSerializer, request.data)
        return _reply(runtime.run_resume(tenant=self.principal.tenant, workflow_id=workflow_id, payload=payload,
                                         actor=acting_name(self.principal)))


class TerminateView(RuntimeView):
    permission_map = {"DELETE": TERMINATE_RUN}

    @extend_schema(summary="Terminate a run (3.3)", request=s.TerminateSerializer, responses={
        200: s.WorkflowResponseSerializer, **ERRORS,
    }, parameters=[*HEADERS, OpenApiParameter("reason", str, description="Instead of a body.")])
    def delete(self, request: Request, workflow_id: str) -> Response:
        body = _validated(s.TerminateSerializer, request.data or {})
        reason = body.get("reason") or request.query_params.get("reason", "")[:1000]
        return _reply(runtime.run_terminate(tenant=self.principal.tenant, workflow_id=workflow_id, reason=reason))


class RunDetailView(RuntimeView):
    permission_map = {"GET": VIEW_RUN}

    @extend_schema(summary="Current state of a run (3.4)", responses={200: s.RunDetailSerializer, **ERRORS},
                   parameters=[*HEADERS, OpenApiParameter("includeContext", bool, description="Add `_global`.")])
    def get(self, request: Request, workflow_id: str) -> Response:
        include_context = _query_bool(request, "includeContext")
        run = selectors.run_get(tenant=self.principal.tenant, workflow_id=workflow_id)
        return Response(selectors.run_detail(run, include_context=include_context, reveal=may_reveal(request),
                                             actor=actor_of(request), include_redrives=True))


class DisconnectedNodeView(RuntimeView):
    permission_map = {"POST": START_RUN}

    @extend_schema(summary="Execute a disconnected node against the run's context (3.5)",
                   request=s.DisconnectedSerializer, parameters=HEADERS,
                   responses={200: s.DisconnectedResultSerializer, **ERRORS})
    def post(self, request: Request, workflow_id: str) -> Response:
        body = _validated(s.DisconnectedSerializer, request.data)
        return Response(runtime.run_execute_disconnected(
            tenant=self.principal.tenant, workflow_id=workflow_id, node=body["node"], parameters=body.get("parameters"),
        ))


class EventView(RuntimeView):
    permission_map = {"POST": START_RUN}

    @extend_schema(summary="Deliver an event to an ON_EVENT wait (3.6)", parameters=HEADERS,
                   request={"application/json": OpenApiTypes.ANY},
                   responses={202: s.EventResultSerializer, **ERRORS})
    def post(self, request: Request, workflow_id: str, event_name: str) -> Response:
        result = runtime.run_send_event(tenant=self.principal.tenant, workflow_id=workflow_id,
                                        event_name=event_name, payload=_plain(request.data))
        return Response(result, status=status.HTTP_202_ACCEPTED)


def _plain(data: Any) -> Any:
    """A JSON body as plain data (DRF hands an empty body over as an empty dict or QueryDict)."""
    return data.dict() if hasattr(data, "dict") else data
