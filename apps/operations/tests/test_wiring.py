"""How apps.operations hangs off apps.runs without runs importing it: the start view's idempotency hook, the
Celery task names kept from apps/runs/tasks.py, and the admin extension of the run page."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse

from apps.operations import tasks
from apps.operations.idempotency import run_start_idempotent
from apps.runs.admin.runs import RunAdmin
from apps.runs.api.start_hooks import idempotent_start
from drift.admin import admin_extensions_of
from drift.celery import app
from drift.settings import CELERY_BEAT_SCHEDULE


def test_the_start_view_reaches_the_idempotent_start_through_the_hook():
    assert idempotent_start().start is run_start_idempotent


@pytest.mark.parametrize("name, task", [
    ("apps.runs.tasks.purge_idempotency_keys", tasks.purge_idempotency_keys),
    ("apps.runs.tasks.work_bulk_job", tasks.work_bulk_job),
    ("apps.runs.tasks.resume_stalled_bulk_jobs", tasks.resume_stalled_bulk_jobs),
    ("apps.runs.tasks.reconcile_schedules", tasks.reconcile_schedules),
])
def test_moved_tasks_keep_their_names_so_queued_messages_and_beat_still_route(name, task):
    app.loader.import_default_modules()  # the worker's autodiscovery
    assert app.tasks[name].__module__ == "apps.operations.tasks" and task.name == name
    beat = {entry["task"] for entry in CELERY_BEAT_SCHEDULE.values()}
    assert name in beat or name == "apps.runs.tasks.work_bulk_job"  # enqueued per job, not by beat


def test_the_run_admin_is_extended_not_re_registered(admin_client, db):
    assert [type(extension).__name__ for extension in admin_extensions_of(RunAdmin)] == ["RunOperationsExtension",
                                                                                 "RunTestCaseExtension"]
    assert resolve(reverse("admin:runs_run_rerun", args=[1])).func.__module__ == "apps.operations.admin.runs"
    changelist = admin_client.get(reverse("admin:runs_run_changelist"))
    offered = set(dict(changelist.context["action_form"].fields["action"].choices))
    assert {"terminate_runs", "rerun_runs", "redrive_runs", "bulk_terminate", "bulk_rerun", "bulk_redrive"} <= offered
