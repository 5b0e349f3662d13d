"""What the apps above this one do when a run's state changes: explicit calls (no Django signals), made inside
the caller's transaction. apps.tasks registers its human-task mirror here in its AppConfig.ready(), so this app
imports nothing from it.

- state recorded: `hook(run=, task=, status=)` for each persisted state; `task` is the workflow's word on its
  human task (None when it has none).
- runs terminated: `hook(workflow_ids=)` for runs that ended hard, without persisting their end (terminate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from apps.runs.models import Run


class StateRecorded(Protocol):
    def __call__(self, *, run: Run, task: dict[str, Any] | None, status: str) -> None: ...


class RunsTerminated(Protocol):
    def __call__(self, *, workflow_ids: list[str]) -> None: ...


class HookMissing(ImproperlyConfigured):
    """A run reported something only a registered app can keep: a setup error, never silently dropped."""


_state_recorded: list[StateRecorded] = []
_runs_terminated: list[RunsTerminated] = []


def on_state_recorded(hook: StateRecorded) -> None:
    if hook not in _state_recorded:  # ready() may run more than once
        _state_recorded.append(hook)


def on_runs_terminated(hook: RunsTerminated) -> None:
    if hook not in _runs_terminated:
        _runs_terminated.append(hook)


def state_recorded(*, run: Run, task: dict[str, Any] | None, status: str) -> None:
    if task is not None and not _state_recorded:
        raise HookMissing("a run reported a human task and no app records tasks: apps.tasks registers its hook in "
                          "its AppConfig.ready() (is it in INSTALLED_APPS?)")
    for hook in _state_recorded:
        hook(run=run, task=task, status=status)


def runs_terminated(*, workflow_ids: list[str]) -> None:
    for hook in _runs_terminated:
        hook(workflow_ids=workflow_ids)
