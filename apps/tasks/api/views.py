"""Task API for client apps (spec §11): the acting user's tasks, claim and release.

The acting user is the session's user, or the one an API key names in X-Username-Id: a user who may act for the
key's tenant with `tasks.view_task` (403 otherwise), so a key of tenant B cannot act as a user of tenant A. It
sees the tasks it holds in that tenant (apps.tasks.selectors); any other task does not exist for it (404), as
another tenant's run does not. Claim and release also need `runs.start_run` (the key's `runtime` scope and the
user's permission).
"""

from __future__ import annotations

from functools import cached_property

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.clients.access import is_key_principal, may_act_for
from apps.clients.authentication import USER_HEADERS, header
from apps.runs.api.views import ERRORS, HEADERS, RuntimeView
from apps.tasks import selectors, services
from apps.tasks.api.serializers import TaskPageSerializer, TaskSerializer
from core.problems import Problem
from drift.api import query_bool
from drift.errors import Forbidden, InvalidInput

MAX_RESULTS = 500
FILTERS = ("group", "assignee", "workflow")


def _text_filter(request: Request, name: str) -> str:
    raw = request.query_params.get(name, "")
    if len(raw) > 200:
        raise InvalidInput(f"Invalid '{name}'.", [Problem(f"$.query.{name}", "must be at most 200 characters")])
    return raw


USER_HEADER = "X-Username-Id"


class TaskView(RuntimeView):
    permission_map = {"GET": (selectors.VIEW_PERMISSION,),
                      "POST": (selectors.VIEW_PERMISSION, selectors.WORK_PERMISSION)}

    @cached_property
    def operator(self) -> selectors.Operator:
        tenant = self.principal.tenant
        user = self.request.user if not is_key_principal(self.request.user) else self._named_user(tenant)
        return selectors.operator_of_user(user, tenant=tenant)

    def _named_user(self, tenant: str):
        """The user a key acts for: it must be one who may view the tasks of the key's tenant."""
        username = header(self.request, USER_HEADERS)
        if not username:
            raise InvalidInput(f"The {USER_HEADER} header is required on the task API: the user the key acts for.",
                               [Problem(USER_HEADER, "header is required")])
        user = selectors.user_named(username)
        if user is None or not may_act_for(user, tenant, selectors.VIEW_PERMISSION):
            raise Forbidden(f"{USER_HEADER} '{username}' names no user who may act for tenant '{tenant}' "
                            f"(an active staff user bound to it, with '{selectors.VIEW_PERMISSION}').",
                            [Problem(USER_HEADER, f"not a user of tenant '{tenant}'")])
        return user

    def task(self, workflow_id: str):
        return selectors.task_get(self.operator, workflow_id=workflow_id, tenant=self.principal.tenant)

    def task_to_work(self, workflow_id: str):
        """The acting user's task, if it may also work it (claim, release) in the tenant: 403 otherwise."""
        task = self.task(workflow_id)
        if not self.operator.may_work(task.tenant):
            raise Forbidden(f"User '{self.operator.username}' lacks the permission '{selectors.WORK_PERMISSION}' "
                            f"to work tasks of tenant '{task.tenant}'.")
        return task


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
        overdue = query_bool(request, "overdue")
        tasks = selectors.task_list(self.operator, tenant=self.principal.tenant, overdue=overdue, **filters)
        page = list(tasks[:MAX_RESULTS])
        return Response({"count": len(page), "results": TaskSerializer(page, many=True).data})


class TaskClaimView(TaskView):
    @extend_schema(summary="Claim the run's open task; of two claims at once exactly one wins (409 for the other)",
                   request=None, parameters=HEADERS, responses={200: TaskSerializer, **ERRORS})
    def post(self, request: Request, workflow_id: str) -> Response:
        task = services.task_claim(task=self.task_to_work(workflow_id), username=self.operator.username)
        return Response(TaskSerializer(task).data)


class TaskReleaseView(TaskView):
    @extend_schema(summary="Release a task the acting user claimed", request=None, parameters=HEADERS,
                   responses={200: TaskSerializer, **ERRORS})
    def post(self, request: Request, workflow_id: str) -> Response:
        task = services.task_release(task=self.task_to_work(workflow_id), username=self.operator.username)
        return Response(TaskSerializer(task).data)
