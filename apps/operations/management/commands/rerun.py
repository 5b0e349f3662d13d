from django.core.management.base import BaseCommand, CommandError

from apps.operations.rerun import run_rerun
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import Run, RunStatus
from drift.errors import DriftError

DEFAULT_STATUSES = f"{RunStatus.FAILED},{RunStatus.TERMINATED}"


class Command(BaseCommand):
    help = "Start failed or terminated runs again with their original input; prints the new workflow ids."

    def add_arguments(self, parser) -> None:
        parser.add_argument("workflow_ids", nargs="+", metavar="workflowId")
        parser.add_argument("--status", default=DEFAULT_STATUSES,
                            help=f"comma-separated final statuses that may be rerun (default {DEFAULT_STATUSES})")

    def handle(self, *args, workflow_ids: list[str], status: str, **options) -> None:
        runs = _runs_to_rerun(workflow_ids, _statuses(status))
        for run in runs:
            try:
                new_run = run_rerun(run=run)
            except DriftError as exc:
                raise CommandError(f"{run.workflow_id}: {exc.message}") from exc
            self.stdout.write(f"{run.workflow_id} -> {new_run.workflow_id}")


def _statuses(raw: str) -> set[str]:
    statuses = {part.strip().upper() for part in raw.split(",") if part.strip()}
    unknown = statuses - FINAL_STATUSES
    if unknown or not statuses:
        raise CommandError(f"--status takes final statuses ({', '.join(sorted(FINAL_STATUSES))}), "
                           f"not {', '.join(sorted(unknown)) or 'nothing'}.")
    return statuses


def _runs_to_rerun(workflow_ids: list[str], statuses: set[str]) -> list[Run]:
    """Every named run, checked before any is started: all rerun or (on a refusal) none."""
    found = Run.objects.in_bulk(workflow_ids, field_name="workflow_id")
    problems = []
    for workflow_id in workflow_ids:
        run = found.get(workflow_id)
        if run is None:
            problems.append(f"{workflow_id}: no such run")
        elif run.status not in FINAL_STATUSES:
            problems.append(f"{workflow_id}: is {run.status}, not finished; terminate it first")
        elif run.status not in statuses:
            problems.append(f"{workflow_id}: ended {run.status}; only {', '.join(sorted(statuses))} runs are rerun")
    if problems:
        raise CommandError("Nothing rerun:\n" + "\n".join(problems))
    return [found[workflow_id] for workflow_id in dict.fromkeys(workflow_ids)]
