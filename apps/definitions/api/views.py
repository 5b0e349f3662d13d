"""Definition API (spec §3.7). Thin views: parse -> service/selector -> serialize. One view class per
operation, parameterised by `kind`, serves node and workflow definitions alike."""


from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clients.authentication import PermissionMap, principal_of
from apps.definitions import selectors, services
from apps.definitions.api import schema  # noqa: F401 - registers the Api-Key scheme with drf-spectacular
from apps.definitions.api import serializers as s
from apps.definitions.dsl import KEY_PATTERN, errors_of, warnings_of
from apps.definitions.dsl_schema import dsl_json_schema
from apps.definitions.models import Kind
from apps.definitions.versions import LATEST, SNAPSHOT, VersionSpec, parse_version
from core.problems import Problem
from drift.api import object_body, query_bool, validated
from drift.errors import InvalidInput
from drift.parsers import PayloadTooLarge

VERSION_PARAM = OpenApiParameter(
    "version", str, description="SNAPSHOT, LATEST (default), ACTIVE or a published number."
)


def _problems(problems: list[Problem]) -> list[dict[str, str]]:
    return [p.as_dict() for p in problems]


def query_version(request: Request, name: str = "version", *, required: bool = False,
                   default: VersionSpec = LATEST) -> VersionSpec:
    raw = request.query_params.get(name)
    if required and not raw:
        raise InvalidInput(f"The '{name}' query parameter is required.", [Problem(f"$.query.{name}", "is required")])
    return parse_version(raw, path=f"$.query.{name}", default=default)


def _paginated(request: Request, queryset, serializer_class) -> Response:
    paginator = LimitOffsetPagination()
    paginator.default_limit, paginator.max_limit = 100, 1000
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def _check_key(key: str) -> None:
    if not KEY_PATTERN.match(key):
        raise InvalidInput("Invalid key.", [Problem("$.key", "may contain only letters, digits, '_', '.', '-'")])


def model_permissions(model: str, **actions: str) -> dict[str, tuple[str, ...]]:
    """A permission map on `definitions.<model>`: METHOD=action (view, add, change, delete) for each method the
    view serves."""
    return {method: (f"definitions.{action}_{model}",) for method, action in actions.items()}


class DriftAPIView(APIView):
    """Base of the definition, secrets and trials APIs; each view declares its `permission_map`."""

    permission_classes = [PermissionMap]
    permission_map: dict[str, tuple[str, ...]] = {}

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RequestDataTooBig):  # raised by request.body; Django alone would log it as an error
            exc = PayloadTooLarge(f"The request body exceeds {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
        return super().handle_exception(exc)

    def tenant(self) -> str:
        return principal_of(self.request).tenant

    def actor(self) -> str:
        principal = principal_of(self.request)
        return f"{principal.client_id}/{principal.username}"


class DefinitionView(DriftAPIView):
    kind: str = Kind.NODE  # set per route with as_view(kind=...)


class DefinitionCollectionView(DefinitionView):
    permission_map = model_permissions("definition", GET="view", POST="add", PUT="change")

    @extend_schema(summary="List definitions", responses=s.HeadSerializer(many=True),
                   parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)])
    def get(self, request: Request) -> Response:
        return _paginated(request, selectors.definition_list(tenant=self.tenant(), kind=self.kind), s.HeadSerializer)

    @extend_schema(summary="Create the SNAPSHOT (409 if the id exists)", request=OpenApiTypes.OBJECT,
                   responses={201: s.SavedSerializer})
    def post(self, request: Request) -> Response:
        return self._save(request, create=True)

    @extend_schema(summary="Update the SNAPSHOT (404 if the id does not exist)", request=OpenApiTypes.OBJECT,
                   responses={200: s.SavedSerializer})
    def put(self, request: Request) -> Response:
        return self._save(request, create=False)

    def _save(self, request: Request, *, create: bool) -> Response:
        snapshot, warnings = services.definition_save_snapshot(
            tenant=self.tenant(), kind=self.kind, body=object_body(request), actor=self.actor(), create=create
        )
        data = {"id": snapshot.body["id"], "version": SNAPSHOT, "definition": snapshot.body,
                "warnings": _problems(warnings)}
        return Response(data, status=status.HTTP_201_CREATED if create else status.HTTP_200_OK)


class DslSchemaView(DriftAPIView):
    permission_map = model_permissions("definition", GET="view")

    @extend_schema(summary="The DSL as a JSON Schema (2020-12)", responses=OpenApiTypes.OBJECT,
                   description="Node and workflow definition documents; also in the OpenAPI components as Dsl*.")
    def get(self, request: Request) -> Response:
        return Response(dsl_json_schema())


class DefinitionValidateView(DefinitionView):
    permission_map = model_permissions("definition", POST="change")

    @extend_schema(summary="Validate a document without saving it", request=OpenApiTypes.OBJECT,
                   responses=s.ValidationResultSerializer)
    def post(self, request: Request) -> Response:
        problems = services.definition_validate(tenant=self.tenant(), kind=self.kind, body=object_body(request))
        errors = errors_of(problems)
        warnings = warnings_of(problems)
        return Response({"valid": not errors, "errors": _problems(errors), "warnings": _problems(warnings)})


class DefinitionDetailView(DefinitionView):
    permission_map = model_permissions("definition", GET="view")

    @extend_schema(summary="Fetch one version", responses=OpenApiTypes.OBJECT, parameters=[
        VERSION_PARAM,
        OpenApiParameter("enrichNodeDefinition", bool, description="Workflows: inline node definitions."),
    ])
    def get(self, request: Request, key: str) -> Response:
        version = query_version(request)
        if self.kind == Kind.WORKFLOW:
            enrich = query_bool(request, "enrichNodeDefinition")
            return Response(selectors.workflow_get(tenant=self.tenant(), key=key, version=version, enrich=enrich))
        return Response(selectors.definition_get(tenant=self.tenant(), kind=self.kind, key=key, version=version))


class DefinitionPublishView(DefinitionView):
    permission_map = model_permissions("definition", POST="change")

    @extend_schema(summary="Publish the SNAPSHOT as the next number", request=None,
                   responses={201: s.PublishedSerializer})
    def post(self, request: Request, key: str) -> Response:
        published = services.definition_publish(tenant=self.tenant(), kind=self.kind, key=key, actor=self.actor())
        return Response({"id": key, "version": published.version}, status=status.HTTP_201_CREATED)


class DefinitionActivateView(DefinitionView):
    permission_map = model_permissions("definition", POST="change")

    @extend_schema(summary="Set ACTIVE (an older number rolls back)", request=None, responses=s.HeadSerializer,
                   parameters=[OpenApiParameter("version", str, required=True, description="A number or LATEST.")])
    def post(self, request: Request, key: str) -> Response:
        version = query_version(request, required=True)
        head = services.definition_activate(tenant=self.tenant(), kind=self.kind, key=key, version=version,
                                            actor=self.actor())
        return Response(s.HeadSerializer(head).data)


class DefinitionVersionsView(DefinitionView):
    permission_map = model_permissions("definition", GET="view")

    @extend_schema(summary="Version history", responses=s.HistorySerializer)
    def get(self, request: Request, key: str) -> Response:
        head, versions = selectors.definition_versions(tenant=self.tenant(), kind=self.kind, key=key)
        data = {"id": key, "latestVersion": head.latest_version, "activeVersion": head.active_version,
                "versions": versions}
        return Response(s.HistorySerializer(data).data)


class DefinitionDiffView(DefinitionView):
    permission_map = model_permissions("definition", GET="view")

    @extend_schema(summary="Structured diff between two versions", responses=s.DiffSerializer, parameters=[
        OpenApiParameter("from", str, required=True), OpenApiParameter("to", str, required=True),
    ])
    def get(self, request: Request, key: str) -> Response:
        old, new = query_version(request, "from", required=True), query_version(request, "to", required=True)
        changes = selectors.definition_diff(tenant=self.tenant(), kind=self.kind, key=key, from_version=old,
                                            to_version=new)
        return Response({"id": key, "from": old, "to": new, "changes": changes})


# --- routes


class RouteCollectionView(DriftAPIView):
    permission_map = model_permissions("route", GET="view")

    @extend_schema(summary="List routes", responses=s.RouteSerializer(many=True))
    def get(self, request: Request) -> Response:
        routes = [selectors.route_as_dict(r) for r in selectors.route_list(tenant=self.tenant())]
        return Response({"results": routes})


class RouteDetailView(DriftAPIView):
    permission_map = model_permissions("route", GET="view", PUT="change", DELETE="delete")

    @extend_schema(summary="The route of an issue", responses=s.RouteSerializer)
    def get(self, request: Request, issue_id: str) -> Response:
        return Response(selectors.route_get(tenant=self.tenant(), issue_id=issue_id))

    @extend_schema(summary="Create or replace the route of an issue", request=s.RouteInputSerializer,
                   responses=s.RouteSerializer)
    def put(self, request: Request, issue_id: str) -> Response:
        _check_key(issue_id)
        data = validated(s.RouteInputSerializer, object_body(request))
        route = services.route_save(tenant=self.tenant(), issue_id=issue_id, workflow_key=data["workflowId"],
                                    version=data["version"], variants=data["variants"], actor=self.actor())
        return Response(selectors.route_as_dict(route))

    @extend_schema(summary="Delete the route of an issue", responses={204: None})
    def delete(self, request: Request, issue_id: str) -> Response:
        services.route_delete(tenant=self.tenant(), issue_id=issue_id, actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- enum store


class EnumStoreView(DriftAPIView):
    permission_map = model_permissions("enumentry", GET="view")

    @extend_schema(summary="The whole enum store (key -> value)", responses=OpenApiTypes.OBJECT,
                   operation_id="enumStore_list")
    def get(self, request: Request) -> Response:
        return Response(selectors.enum_store_for(tenant=self.tenant()))


class EnumEntryView(DriftAPIView):
    permission_map = model_permissions("enumentry", GET="view", PUT="change", DELETE="delete")

    @extend_schema(summary="One enum entry", responses=s.EnumEntrySerializer)
    def get(self, request: Request, key: str) -> Response:
        return Response(s.EnumEntrySerializer(selectors.enum_entry_get(tenant=self.tenant(), key=key)).data)

    @extend_schema(summary="Set an enum entry", request=s.EnumValueSerializer, responses=s.EnumEntrySerializer)
    def put(self, request: Request, key: str) -> Response:
        _check_key(key)
        data = validated(s.EnumValueSerializer, object_body(request))
        entry = services.enum_entry_set(tenant=self.tenant(), key=key, value=data["value"], actor=self.actor())
        return Response(s.EnumEntrySerializer(entry).data)

    @extend_schema(summary="Delete an enum entry", responses={204: None})
    def delete(self, request: Request, key: str) -> Response:
        services.enum_entry_delete(tenant=self.tenant(), key=key, actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- audit trail


class AuditLogView(DriftAPIView):
    permission_map = model_permissions("auditentry", GET="view")

    @extend_schema(summary="Audit trail, newest first", responses=s.AuditEntrySerializer(many=True), parameters=[
        OpenApiParameter("kind", str, enum=["NODE", "WORKFLOW", "ROUTE", "ENUM", "TASK"]), OpenApiParameter("id", str),
        OpenApiParameter("limit", int), OpenApiParameter("offset", int),
    ])
    def get(self, request: Request) -> Response:
        entries = selectors.audit_list(tenant=self.tenant(), kind=request.query_params.get("kind"),
                                       key=request.query_params.get("id"))
        return _paginated(request, entries, s.AuditEntrySerializer)
