"""Run operations routes under /v3/ (spec §10), included beside the runtime API's (drift/urls.py)."""

from django.urls import path, re_path

from apps.operations.api import views

urlpatterns = [
    path("schedules/", views.ScheduleListView.as_view(), name="schedules"),
    re_path(r"^schedules/(?P<schedule_id>[^/]+)/(?P<action>pause|resume|trigger|backfill)$",
            views.ScheduleActionView.as_view(), name="schedule-action"),
    path("schedules/<str:schedule_id>", views.ScheduleDetailView.as_view(), name="schedule"),
    re_path(r"^bulk/(?P<op>terminate|rerun|redrive)$", views.BulkStartView.as_view(), name="bulk-start"),
    path("bulk/<str:job_id>", views.BulkJobView.as_view(), name="bulk-job"),
    path("workflow/<str:workflow_id>/redrive", views.RedriveView.as_view(), name="runtime-redrive"),
]
