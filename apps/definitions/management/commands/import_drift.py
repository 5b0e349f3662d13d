from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.definitions.drift_import import import_drift
from apps.definitions.transfer import problem_line

ACTOR = "manage.py import_drift"


class Command(BaseCommand):
    help = ("Import the original (Java) Drift's definition files from a folder or a file: GROOVY nodes become "
            "SCRIPT nodes, Groovy scripts are translated to Python where that is mechanical, and each file is "
            "saved whole or not at all. What cannot be translated is listed per file and JSON path.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--publish", action="store_true", help="publish each imported definition that changed")
        parser.add_argument("--activate", action="store_true", help="publish and make each definition ACTIVE")

    def handle(self, *args, path: Path, tenant: str, publish: bool, activate: bool, **options) -> None:
        reports = import_drift(tenant=tenant, path=path, actor=ACTOR, publish=publish, activate=activate)
        for report in reports:
            if report.imported:
                for line in report.lines:
                    self.stdout.write(f"{report.file}: {line}")
            else:
                self.stderr.write(f"{report.file}: NOT imported (nothing of it was saved)")
                for problem in report.problems:
                    self.stderr.write(f"  {problem_line(problem)}")
            for warning in report.warnings:
                self.stderr.write(f"  {problem_line(warning)}")
        failed = [report.file for report in reports if not report.imported]
        if failed:
            raise CommandError(f"{len(failed)} of {len(reports)} file(s) not imported: {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS(f"{len(reports)} file(s) imported into tenant '{tenant}'."))
