from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from drift.errors import json_error_view
from drift.health import healthz, readyz
from drift.metrics import metrics_view

urlpatterns = [
    path("admin/inbox/", include("apps.tasks.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("v3/", include("apps.tasks.api.urls")),
    path("v3/", include("apps.runs.api.urls")),
    path("v3/", include("apps.operations.api.urls")),
    path("v3/", include("apps.triggers.api.urls")),
    path("v3/", include("apps.nodes.api.urls")),
    path("", include("apps.trials.api.urls")),
    path("", include("apps.secrets.api.urls")),
    path("", include("apps.definitions.api.urls")),
]

handler400 = json_error_view(400, "BAD_REQUEST", "Bad request.")
handler403 = json_error_view(403, "FORBIDDEN", "Forbidden.")
handler404 = json_error_view(404, "NOT_FOUND", "Not found.")
handler500 = json_error_view(500, "INTERNAL", "Internal error; it has been logged.")

admin.site.site_header = "Drift"
admin.site.site_title = "Drift admin"
