"""Reads of human tasks: what an operator may see, the inbox filters and counts.

A task is visible to a principal who may act for the task's tenant with `tasks.view_task` (apps.clients.access)
and holds the assignment *there*: the task's group among the groups of its membership of that tenant, or the
task assigned to it by name. Superusers, the only cross-tenant principals, see every task.
"""

from __future__ import annotations

import operator as op
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.clients.access import EVERY_TENANT, is_platform_operator, may_act_for, tenants_of
from apps.clients.selectors import groups_by_tenant
from apps.tasks.models import Task, TaskStatus
from drift.errors import NotFound

VIEW_PERMISSION = "tasks.view_task"
WORK_PERMISSION = "runs.start_run"  # claim, release and submit: a submit is a resume


@dataclass(frozen=True)
class Operator:
    """Who looks at tasks: a username, the groups it holds in each tenant whose tasks it may view, and the
    tenants where it may also work them (claim, release, submit). Superusers: `everything`."""

    username: str
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    working: frozenset[str] = frozenset()
    everything: bool = False

    def may_work(self, tenant: str) -> bool:
        return tenant in self.working


def operator_of_user(user, *, tenant: str | None = None) -> Operator:
    """`user` as an operator (of `tenant` only, if given): nothing for users who may act for no tenant."""
    username = user.get_username()
    if is_platform_operator(user):
        return Operator(username, working=EVERY_TENANT, everything=True)
    if not tenants_of(user):  # anonymous, inactive, non-staff or unbound: no membership counts
        return Operator(username)
    viewing = {name: groups for name, groups in groups_by_tenant(user).items()
               if (tenant is None or name == tenant) and may_act_for(user, name, VIEW_PERMISSION)}
    working = frozenset(name for name in viewing if may_act_for(user, name, WORK_PERMISSION))
    return Operator(username, viewing, working)


def user_named(username: str):
    """The active user called `username`, or None."""
    return get_user_model().objects.filter(username=username, is_active=True).first() if username else None


def tasks_visible(operator: Operator, *, tenant: str | None = None) -> QuerySet[Task]:
    """Tasks the operator holds in their own tenant; nothing else exists for it."""
    tasks = Task.objects.select_related("run")
    if tenant is not None:
        tasks = tasks.filter(tenant=tenant)
    if operator.everything:
        return tasks
    if not operator.groups:
        return tasks.none()
    held = (Q(tenant=name) & (Q(group__in=groups, group__gt="") | Q(user=operator.username, user__gt=""))
            for name, groups in operator.groups.items())
    return tasks.filter(reduce(op.or_, held))


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
    return sorted(set().union(*operator.groups.values()))


def task_workflows(operator: Operator) -> list[str]:
    return sorted(set(tasks_visible(operator).values_list("definition_key", flat=True)))
