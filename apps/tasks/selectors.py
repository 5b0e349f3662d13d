"""Reads of human tasks: what an operator may see, the inbox filters and counts."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.tasks.models import Task, TaskStatus
from drift.errors import NotFound


@dataclass(frozen=True)
class Operator:
    """Who looks at tasks: a username and the names of its groups (`everything` for superusers)."""

    username: str
    groups: frozenset[str]
    everything: bool = False


def operator_of_user(user) -> Operator:
    groups = frozenset(user.groups.values_list("name", flat=True))
    return Operator(user.get_username(), groups, everything=user.is_superuser)


def operator_named(username: str) -> Operator:
    """An API caller acting for `username` (X-Username-Id): that Django user's groups, none if no such user."""
    user = get_user_model().objects.filter(username=username, is_active=True).first() if username else None
    if user is None:
        return Operator(username, frozenset())
    return Operator(username, frozenset(user.groups.values_list("name", flat=True)))


def tasks_visible(operator: Operator, *, tenant: str | None = None) -> QuerySet[Task]:
    """Tasks of the operator's groups and those assigned to it by name; nothing else exists for it."""
    tasks = Task.objects.select_related("run")
    if tenant is not None:
        tasks = tasks.filter(tenant=tenant)
    if operator.everything:
        return tasks
    return tasks.filter(Q(group__in=operator.groups, group__gt="") | Q(user=operator.username, user__gt=""))


def task_list(operator: Operator, *, tenant: str | None = None, group: str = "", assignee: str = "",
              overdue: bool = False, workflow: str = "", status: str = TaskStatus.OPEN) -> QuerySet[Task]:
    tasks = tasks_visible(operator, tenant=tenant)
    if status:
        tasks = tasks.filter(status=status)
    if group:
        tasks = tasks.filter(group=group)
    if assignee:
        tasks = tasks.filter(Q(claimed_by=assignee) | Q(user=assignee))
    if workflow:
        tasks = tasks.filter(definition_key=workflow)
    if overdue:
        tasks = tasks.filter(due_at__lt=timezone.now())
    return tasks


def task_counts(operator: Operator) -> dict[str, int]:
    """The inbox header: open tasks, overdue ones, those claimed by the operator and unclaimed ones."""
    open_tasks = tasks_visible(operator).filter(status=TaskStatus.OPEN)
    return {
        "open": open_tasks.count(),
        "overdue": open_tasks.filter(due_at__lt=timezone.now()).count(),
        "mine": open_tasks.filter(claimed_by=operator.username).count(),
        "unclaimed": open_tasks.filter(claimed_by="").count(),
    }


def task_get(operator: Operator, *, pk: int | None = None, workflow_id: str | None = None,
             tenant: str | None = None) -> Task:
    """A visible task by id, or a run's open task (its latest screen); invisible ones are unknown (404)."""
    tasks = tasks_visible(operator, tenant=tenant)
    if pk is not None:
        task = tasks.filter(pk=pk).first()
    else:
        task = tasks.filter(workflow_id=workflow_id, status=TaskStatus.OPEN).order_by("-screen").first()
    if task is None:
        raise NotFound("Unknown task." if pk is not None else f"No open task of run '{workflow_id}'.")
    return task


def task_groups(operator: Operator) -> list[str]:
    """The groups the filter offers: the operator's, or every group with tasks for superusers."""
    if operator.everything:
        return sorted(set(Task.objects.exclude(group="").values_list("group", flat=True)))
    return sorted(operator.groups)


def task_workflows(operator: Operator) -> list[str]:
    return sorted(set(tasks_visible(operator).values_list("definition_key", flat=True)))
