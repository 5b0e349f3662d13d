import argparse

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string
from temporalio.service import RPCError

from drift.temporal import run_async
from worker.main import connect
from worker.replay import ReplayReport, fetch_closed_histories, load_history_files, replay_histories


class Command(BaseCommand):
    help = "Replay closed runs' histories against the current workflow code; fails on nondeterminism."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="at most N runs from the visibility query")
        parser.add_argument("--query", default=None, help="Temporal list filter ANDed to the closed-runs query")
        parser.add_argument("--workflow-id", action="append", default=[], dest="workflow_ids",
                            help="replay this run (repeatable); alone, only the named runs are replayed")
        parser.add_argument("--history", action="append", default=[], dest="history_files",
                            help="replay a saved history file, or every *.json in a directory (repeatable; no "
                                 "Temporal server needed; a directory's subfolders are not read): the committed "
                                 "fixtures are worker/tests/histories and its subfolders kinds and segments-2")
        # Tests replay against a deliberately changed class to prove nondeterminism fails the command.
        parser.add_argument("--workflow-class", default="worker.workflows.DriftWorkflow", help=argparse.SUPPRESS)

    def handle(self, *args, limit: int | None, query: str | None, workflow_ids: list[str], workflow_class: str,
               history_files: list[str], **options) -> None:
        workflow_class = import_string(workflow_class)
        try:
            if history_files:
                report = run_async(replay_histories(load_history_files(history_files), workflow_class))
            else:
                report = run_async(_replay(workflow_class, limit, query, workflow_ids))
        except RPCError as exc:  # an unknown --workflow-id, a malformed --query
            raise CommandError(f"Temporal refused: {exc.message}") from exc
        for outcome in report.outcomes:
            label = "ok" if outcome.ok else "NONDETERMINISM" if outcome.nondeterminism else "FAILED"
            line = f"{label:<15} {outcome.workflow_id} {outcome.run_id}"
            self.stdout.write(f"{line}  {outcome.error}" if outcome.error else line)
        summary = f"{len(report.outcomes)} replayed, {len(report.failures)} failed"
        if not report.ok:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))


async def _replay(workflow_class: type, limit: int | None, query: str | None, workflow_ids: list[str]) -> ReplayReport:
    client = await connect(metrics_port=0)
    histories = await fetch_closed_histories(client, query=query, limit=limit, workflow_ids=workflow_ids)
    return await replay_histories(histories, workflow_class)
