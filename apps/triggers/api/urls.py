"""Triggers routes under /v3/ (spec §13)."""

from django.urls import path

from apps.triggers.api import views

urlpatterns = [
    path("triggers/", views.TriggerListView.as_view(), name="triggers"),
    path("triggers/<str:trigger_id>/events", views.TriggerEventsView.as_view(), name="trigger-events"),
    path("triggers/<str:trigger_id>", views.TriggerDetailView.as_view(), name="trigger"),
    path("hooks/<str:tenant>/<str:trigger_id>", views.HookView.as_view(), name="hook"),
]
