"""Task API routes under /v3/tasks (spec §11)."""

from django.urls import path

from apps.tasks.api import views

urlpatterns = [
    path("tasks", views.TaskListView.as_view(), name="tasks-list"),
    path("tasks/<str:workflow_id>/claim", views.TaskClaimView.as_view(), name="tasks-claim"),
    path("tasks/<str:workflow_id>/release", views.TaskReleaseView.as_view(), name="tasks-release"),
]
