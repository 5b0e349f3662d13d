"""Operator inbox pages under /admin/inbox/ (staff only, through the admin site's login)."""

from django.contrib import admin
from django.urls import path

from apps.tasks import views


def _staff(view):
    return admin.site.admin_view(view)


app_name = "tasks"
urlpatterns = [
    path("", _staff(views.inbox), name="inbox"),
    path("<int:pk>/", _staff(views.task_page), name="task"),
    path("<int:pk>/claim/", _staff(views.claim), name="claim"),
    path("<int:pk>/release/", _staff(views.release), name="release"),
]
