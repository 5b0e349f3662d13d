from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.definitions.transfer import bundle_load, bundle_read, problem_line
from drift.errors import DriftError

ACTOR = "manage.py load"


class Command(BaseCommand):
    help = ("Load definition files (an `export` folder, or *.nodes.json + *.workflow.json) into a tenant: "
            "all files are validated first, then written in one transaction.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--publish", action="store_true", help="publish each definition that changed")
        parser.add_argument("--activate", action="store_true", help="publish and make each definition ACTIVE")

    def handle(self, *args, folder: Path, tenant: str, publish: bool, activate: bool, **options) -> None:
        try:
            result = bundle_load(tenant=tenant, bundle=bundle_read(folder), actor=ACTOR, publish=publish,
                                 activate=activate)
        except DriftError as exc:
            for problem in exc.details:
                self.stderr.write(problem_line(problem))
            raise CommandError(exc.message) from exc
        for warning in result.warnings:
            self.stderr.write(problem_line(warning))
        for line in result.lines:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"{folder} loaded into tenant '{tenant}'."))
