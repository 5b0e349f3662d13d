from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from drift.demo import demo_disabled, demo_order
from drift.errors import json_error_view
from drift.health import healthz, readyz
from drift.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path(
        "demo/oms/orders/<str:order_id>",
        demo_order if settings.DRIFT_DEMO_ENDPOINTS else demo_disabled,
        name="demo-oms-order",
    ),
    path("v3/", include("apps.runs.api.urls")),
    path("", include("apps.secrets.api.urls")),
    path("", include("apps.definitions.api.urls")),
]

handler400 = json_error_view(400, "BAD_REQUEST", "Bad request.")
handler403 = json_error_view(403, "FORBIDDEN", "Forbidden.")
handler404 = json_error_view(404, "NOT_FOUND", "Not found.")
handler500 = json_error_view(500, "INTERNAL", "Internal error; it has been logged.")

admin.site.site_header = "Drift"
admin.site.site_title = "Drift admin"
