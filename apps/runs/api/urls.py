"""Runtime API routes under /v3/ (spec §3). `workflow/start` precedes `workflow/{id}`."""

from django.urls import path, re_path

from apps.runs.api import client_views, operations, views

urlpatterns = [
    path("client/webhook", client_views.WebhookSettingsView.as_view(), name="client-webhook"),
    path("client/webhook/rotate-secret", client_views.WebhookSecretRotateView.as_view(),
         name="client-webhook-rotate-secret"),
    path("schedules/", operations.ScheduleListView.as_view(), name="schedules"),
    re_path(r"^schedules/(?P<schedule_id>[^/]+)/(?P<action>pause|resume|trigger|backfill)$",
            operations.ScheduleActionView.as_view(), name="schedule-action"),
    path("schedules/<str:schedule_id>", operations.ScheduleDetailView.as_view(), name="schedule"),
    re_path(r"^bulk/(?P<op>terminate|rerun|redrive)$", operations.BulkStartView.as_view(), name="bulk-start"),
    path("bulk/<str:job_id>", operations.BulkJobView.as_view(), name="bulk-job"),
    path("workflow", operations.SearchView.as_view(), name="runtime-search"),
    path("workflow/start", views.StartView.as_view(), name="runtime-start"),
    path("workflow/resume/<str:workflow_id>", views.ResumeView.as_view(), name="runtime-resume"),
    path("workflow/terminate/<str:workflow_id>", views.TerminateView.as_view(), name="runtime-terminate"),
    path("workflow/<str:workflow_id>/disconnected-node/execute", views.DisconnectedNodeView.as_view(),
         name="runtime-disconnected"),
    path("workflow/<str:workflow_id>/redrive", operations.RedriveView.as_view(), name="runtime-redrive"),
    path("workflow/<str:workflow_id>/event/<str:event_name>", views.EventView.as_view(), name="runtime-event"),
    path("workflow/<str:workflow_id>", views.RunDetailView.as_view(), name="runtime-detail"),
]
