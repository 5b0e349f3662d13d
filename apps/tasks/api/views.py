"""Task API for client apps (spec §11): the acting user's (X-Username-Id) tasks, claim and release.

An operator sees the tasks of its Django groups and those assigned to it by name; any other task does not
exist for it (404), as another tenant's run does not.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.runs.api.views import ERRORS, HEADERS, RuntimeView, _query_bool
from apps.tasks import selectors, services
from apps.tasks.api.serializers import TaskPageSerializer, TaskSerializer
from core.problems import Problem
from drift.errors import InvalidInput

MAX_RESULTS = 500
FILTERS = ("group", "assignee", "workflow")


def _text_filter(request: Request, name: str) -> str:
    raw = request.query_params.get(name, "")
    if len(raw) > 200:
        raise InvalidInput(f"Invalid '{name}'.", [Problem(f"$.query.{name}", "must be at most 200 characters")])
    return raw


class TaskView(RuntimeView):
    @property
    def operator(self) -> selectors.Operator:
        return selectors.operator_named(self.principal.username)

    def task(self, workflow_id: str):
        return selectors.task_get(self.operator, workflow_id=workflow_id, tenant=self.principal.tenant)


class TaskListView(TaskView):
    @extend_schema(summary="Open tasks of the acting user's groups (spec §11)", responses={
        200: TaskPageSerializer, **ERRORS}, parameters=[
        *HEADERS, OpenApiParameter("group", str, description="Only this group's tasks."),
        OpenApiParameter("assignee", str, description="Claimed by, or assigned to, this user."),
        OpenApiParameter("overdue", bool, description="Only tasks past their due time."),
        OpenApiParameter("workflow", str, description="Only tasks of this workflow definition."),
    ])
    def get(self, request: Request) -> Response:
        filters = {name: _text_filter(request, name) for name in FILTERS}
        overdue = _query_bool(request, "overdue")
        tasks = selectors.task_list(self.operator, tenant=self.principal.tenant, overdue=overdue, **filters)
        page = list(tasks[:MAX_RESULTS])
        return Response({"count": len(page), "results": TaskSerializer(page, many=True).data})


class TaskClaimView(TaskView):
    @extend_schema(summary="Claim the run's open task; of two claims at once exactly one wins (409 for the other)",
                   request=None, parameters=HEADERS, responses={200: TaskSerializer, **ERRORS})
    def post(self, request: Request, workflow_id: str) -> Response:
        task = services.task_claim(task=self.task(workflow_id), username=self.principal.username)
        return Response(TaskSerializer(task).data)


class TaskReleaseView(TaskView):
    @extend_schema(summary="Release a task the acting user claimed", request=None, parameters=HEADERS,
                   responses={200: TaskSerializer, **ERRORS})
    def post(self, request: Request, workflow_id: str) -> Response:
        task = services.task_release(task=self.task(workflow_id), username=self.principal.username)
        return Response(TaskSerializer(task).data)
