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
from apps.runs import runtime, search, selectors
from apps.runs.api import serializers as s
from apps.runs.api.start_hooks import IDEMPOTENCY_HEADER, idempotent_start
from apps.runs.models import RunStatus
from core.problems import Problem
from drift.api import query_bool, validated_object
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


def _reply(reply: runtime.Reply) -> Response:
    return Response(reply.body, status=status.HTTP_202_ACCEPTED if reply.accepted else status.HTTP_200_OK)


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


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, pattern=r"^[\x21-\x7e]{1,200}$",
    description="Same key (tenant, client) within 24 h: the first run's current state; another body: 409.",
)


class StartView(RuntimeView):
    permission_map = {"POST": START_RUN}

    @extend_schema(summary="Start a run (3.1)", request=s.StartSerializer, parameters=[*HEADERS, IDEMPOTENCY_PARAMETER],
                   responses={200: s.WorkflowResponseSerializer, 202: ACCEPTED, **ERRORS})
    def post(self, request: Request) -> Response:
        idempotent = idempotent_start()  # apps.operations keeps the keys
        key = idempotent.key_parse(request.META)
        data = validated_object(s.StartSerializer, request.data)
        if key is not None:
            return _reply(idempotent.start(principal=self.principal, data=data, key=key, raw_body=request.data))
        return _reply(runtime.run_start(principal=self.principal, data=data))


SEARCH_PARAMETERS = [
    OpenApiParameter("status", str, enum=RunStatus.values),
    OpenApiParameter("workflowDefinitionId", str, description="The workflow definition id."),
    OpenApiParameter("customerId", str),
    OpenApiParameter("incidentId", str),
    OpenApiParameter("traceId", str, description="The run's OpenTelemetry trace id (§14)."),
    OpenApiParameter("createdFrom", str, description="ISO-8601 date-time, inclusive."),
    OpenApiParameter("createdTo", str, description="ISO-8601 date-time, exclusive."),
    OpenApiParameter("param.<name>", str, description="A start `params` field equals this value (any name; "
                                                      "numbers and booleans as JSON text)."),
    OpenApiParameter("cursor", str, description="`nextCursor` of the previous page."),
    OpenApiParameter("limit", int, description=f"Page size, 1-{search.MAX_LIMIT} (default {search.DEFAULT_LIMIT})."),
]


class SearchView(RuntimeView):
    permission_map = {"GET": VIEW_RUN}

    @extend_schema(summary="Search the tenant's runs (§10), newest first, cursor-paginated",
                   parameters=[*HEADERS, *SEARCH_PARAMETERS], responses={200: s.SearchPageSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        query = request.query_params
        run_filter = search.search_filter_parse({name: query.get(name) for name in query})
        page = selectors.run_search(tenant=self.principal.tenant, run_filter=run_filter,
                                    after=search.cursor_decode(query.get("cursor")),
                                    limit=search.page_limit(query.get("limit")))
        return Response(page)


class ResumeView(RuntimeView):
    permission_map = {"PUT": START_RUN}

    @extend_schema(summary="Resume a WAITING run with the view response (3.2)", request=s.ResumeSerializer,
                   parameters=HEADERS, responses={200: s.WorkflowResponseSerializer, 202: ACCEPTED, **ERRORS})
    def put(self, request: Request, workflow_id: str) -> Response:
        payload = validated_object(s.ResumeSerializer, request.data)
        return _reply(runtime.run_resume(tenant=self.principal.tenant, workflow_id=workflow_id, payload=payload,
                                         actor=acting_name(self.principal)))


class TerminateView(RuntimeView):
    permission_map = {"DELETE": TERMINATE_RUN}

    @extend_schema(summary="Terminate a run (3.3)", request=s.TerminateSerializer, responses={
        200: s.WorkflowResponseSerializer, **ERRORS,
    }, parameters=[*HEADERS, OpenApiParameter("reason", str, description="Instead of a body.")])
    def delete(self, request: Request, workflow_id: str) -> Response:
        body = validated_object(s.TerminateSerializer, request.data or {})
        reason = body.get("reason") or request.query_params.get("reason", "")[:1000]
        return _reply(runtime.run_terminate(tenant=self.principal.tenant, workflow_id=workflow_id, reason=reason))


class RunDetailView(RuntimeView):
    permission_map = {"GET": VIEW_RUN}

    @extend_schema(summary="Current state of a run (3.4)", responses={200: s.RunDetailSerializer, **ERRORS},
                   parameters=[*HEADERS, OpenApiParameter("includeContext", bool, description="Add `_global`.")])
    def get(self, request: Request, workflow_id: str) -> Response:
        include_context = query_bool(request, "includeContext")
        run = selectors.run_get(tenant=self.principal.tenant, workflow_id=workflow_id)
        return Response(selectors.run_detail(run, include_context=include_context, reveal=may_reveal(request),
                                             actor=actor_of(request), include_redrives=True))


class DisconnectedNodeView(RuntimeView):
    permission_map = {"POST": START_RUN}

    @extend_schema(summary="Execute a disconnected node against the run's context (3.5)",
                   request=s.DisconnectedSerializer, parameters=HEADERS,
                   responses={200: s.DisconnectedResultSerializer, **ERRORS})
    def post(self, request: Request, workflow_id: str) -> Response:
        body = validated_object(s.DisconnectedSerializer, request.data)
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
