"""Definition API at the root URL (spec §3.7); node and workflow paths share one set of views."""

from django.urls import include, path, re_path

from apps.definitions.api import views
from apps.definitions.models import Kind


def _definition_urls(prefix: str, kind: str, publish: str) -> list:
    def route(pattern: str, view, name: str):
        return re_path(rf"^{prefix}/{pattern}$", view.as_view(kind=kind), name=f"{prefix}-{name}")

    key = r"(?P<key>[^/]+)"
    return [
        route("", views.DefinitionCollectionView, "list"),
        route("validate/?", views.DefinitionValidateView, "validate"),
        route(rf"{key}/{publish}/?", views.DefinitionPublishView, "publish"),
        route(rf"{key}/activate/?", views.DefinitionActivateView, "activate"),
        route(rf"{key}/versions/?", views.DefinitionVersionsView, "versions"),
        route(rf"{key}/diff/?", views.DefinitionDiffView, "diff"),
        route(rf"{key}/?", views.DefinitionDetailView, "detail"),
    ]


urlpatterns = [
    *_definition_urls("nodeDefinition", Kind.NODE, "publishNode"),
    path("workflowDefinition/treeView/", include("apps.definitions.api.tree_view")),
    *_definition_urls("workflowDefinition", Kind.WORKFLOW, "publishWorkflow"),
    path("routes/", views.RouteCollectionView.as_view(), name="routes-list"),
    path("routes/<str:issue_id>", views.RouteDetailView.as_view(), name="routes-detail"),
    path("enumStore/", views.EnumStoreView.as_view(), name="enum-store"),
    path("enumStore/<str:key>", views.EnumEntryView.as_view(), name="enum-entry"),
    path("auditLog/", views.AuditLogView.as_view(), name="audit-log"),
    path("dslSchema/", views.DslSchemaView.as_view(), name="dsl-schema"),
]
