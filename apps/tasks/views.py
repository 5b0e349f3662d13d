"""The operator inbox (spec §11): staff pages beside the admin, styled like it. Thin views over the task
selectors and services; a submitted form is the resume of spec 3.2 in the operator's name."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.runs.api.serializers import ResumeSerializer
from apps.tasks import forms, selectors, services
from apps.tasks.models import Task, TaskStatus
from core.problems import Problem
from drift.errors import Conflict, DriftError, InvalidInput, NotFound


def _operator(request: HttpRequest) -> selectors.Operator:
    if not hasattr(request, "drift_operator"):  # once per request: it reads the user's memberships
        request.drift_operator = selectors.operator_of_user(request.user)
    return request.drift_operator


def _task(request: HttpRequest, pk: int, *, to_work: bool = False) -> Task:
    """The operator's task; `to_work`: it must also hold the resume permission in the task's tenant (403)."""
    operator = _operator(request)
    try:
        task = selectors.task_get(operator, pk=pk)
    except NotFound:
        raise Http404("Unknown task.") from None  # an outsider learns nothing, not even that it exists
    if to_work and not operator.may_work(task.tenant):
        raise PermissionDenied(f"Working a task (claim, release, submit) needs the '{selectors.WORK_PERMISSION}' "
                               f"permission in tenant '{task.tenant}'.")
    return task


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> TemplateResponse:
    # No app sidebar: operators without model permissions would only read "nothing to view" there.
    base = {**admin.site.each_context(request), "now": timezone.now(), "is_nav_sidebar_enabled": False}
    return TemplateResponse(request, template, base | context, status=status)


def inbox(request: HttpRequest) -> HttpResponse:
    operator = _operator(request)
    chosen = {"group": request.GET.get("group", "")[:150], "workflow": request.GET.get("workflow", "")[:200],
              "overdue": request.GET.get("overdue") == "1", "mine": request.GET.get("mine") == "1"}
    tasks = selectors.task_list(operator, group=chosen["group"], workflow=chosen["workflow"],
                                overdue=chosen["overdue"], assignee=operator.username if chosen["mine"] else "")
    return _page(request, "tasks/inbox.html", {
        "title": "Task inbox", "tasks": tasks[:500], "counts": selectors.task_counts(operator), "chosen": chosen,
        "groups": selectors.task_groups(operator), "workflows": selectors.task_workflows(operator),
        "operator": operator,
    })


def task_page(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        return _submit(request, _task(request, pk, to_work=True))
    return _task_page(request, _task(request, pk))


def _task_page(request: HttpRequest, task: Task, *, errors: dict[str, str] | None = None,
               conflict: str = "", status: int = 200) -> TemplateResponse:
    widgets = forms.widgets_of(task.run.view) if task.status == TaskStatus.OPEN else []
    return _page(request, "tasks/task.html", {
        "title": f"Task · {task.node}", "task": task, "widgets": widgets, "errors": errors or {},
        "posted": request.POST if request.method == "POST" else {}, "conflict": conflict,
        "default_submit": not forms.has_submit_button(widgets), "operator": _operator(request),
        "timeline": task.run.node_executions.order_by("-seq")[:10],
    }, status=status)


def _submit(request: HttpRequest, task: Task) -> HttpResponse:
    widgets = forms.widgets_of(task.run.view)
    try:
        payload = {"viewResponse": {"selectedOptions": forms.selected_options(widgets, request.POST)}}
        serializer = ResumeSerializer(data=payload)  # the same validation as PUT /v3/workflow/resume
        if not serializer.is_valid():
            raise InvalidInput("The answer is not a valid resume.", [Problem("viewResponse", str(serializer.errors))])
        reply = services.task_submit(task=task, username=request.user.get_username(),
                                     payload=serializer.validated_data)
    except InvalidInput as error:
        errors = {problem.path: problem.problem for problem in error.details}
        return _task_page(request, task, errors=errors, status=400)
    except Conflict as error:
        task.refresh_from_db()
        return _task_page(request, task, conflict=error.message, status=409)
    except DriftError as error:
        return _task_page(request, task, conflict=error.message, status=error.status_code)
    status = reply.body.get("workflowStatus")
    messages.success(request, f"Submitted. Run {task.workflow_id} moved on: {status}"
                              f"{' (still running)' if reply.accepted else ''}.")
    return redirect("tasks:inbox")


@require_POST
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    return _claim_or_release(request, pk, services.task_claim, "Claimed")


@require_POST
def release(request: HttpRequest, pk: int) -> HttpResponse:
    return _claim_or_release(request, pk, services.task_release, "Released")


def _claim_or_release(request: HttpRequest, pk: int, action, done: str) -> HttpResponse:
    task = _task(request, pk, to_work=True)
    try:
        action(task=task, username=request.user.get_username())
        messages.success(request, f"{done} the task of run {task.workflow_id}.")
    except Conflict as error:
        messages.error(request, error.message)
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/admin/inbox/") else reverse("tasks:inbox"))
