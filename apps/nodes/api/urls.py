"""Host limits routes under /v3/ (spec §13)."""

from django.urls import path

from apps.nodes.api import views

urlpatterns = [
    path("host-limits/", views.HostLimitListView.as_view(), name="host-limits"),
    path("host-limits/<str:host>", views.HostLimitDetailView.as_view(), name="host-limit"),
]
