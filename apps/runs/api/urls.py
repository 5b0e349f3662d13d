"""Runtime API routes under /v3/ (spec §3). `workflow/start` precedes `workflow/{id}`. The operations' routes
(schedules, bulk jobs, redrive) sit beside these under /v3/: apps/operations/api/urls.py."""

from django.urls import path

from apps.runs.api import client_views, views

urlpatterns = [
    path("client/webhook", client_views.WebhookSettingsView.as_view(), name="client-webhook"),
    path("client/webhook/rotate-secret", client_views.WebhookSecretRotateView.as_view(),
         name="client-webhook-rotate-secret"),
    path("workflow", views.SearchView.as_view(), name="runtime-search"),
    path("workflow/start", views.StartView.as_view(), name="runtime-start"),
    path("workflow/resume/<str:workflow_id>", views.ResumeView.as_view(), name="runtime-resume"),
    path("workflow/terminate/<str:workflow_id>", views.TerminateView.as_view(), name="runtime-terminate"),
    path("workflow/<str:workflow_id>/disconnected-node/execute", views.DisconnectedNodeView.as_view(),
         name="runtime-disconnected"),
    path("workflow/<str:workflow_id>/event/<str:event_name>", views.EventView.as_view(), name="runtime-event"),
    path("workflow/<str:workflow_id>", views.RunDetailView.as_view(), name="runtime-detail"),
]
