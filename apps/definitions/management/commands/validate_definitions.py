from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.definitions import dsl
from apps.definitions.transfer import bundle_problems, bundle_read, problem_line, stored_snapshot_problems


class Command(BaseCommand):
    help = ("Validate a tenant's stored SNAPSHOTs, or a folder of definition files (against the tenant's stored "
            "nodes when --tenant is given too); lists every problem and fails if any is an error.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path, nargs="?")
        parser.add_argument("--tenant")

    def handle(self, *args, folder: Path | None, tenant: str | None, **options) -> None:
        if folder is None and not tenant:
            raise CommandError("Name a folder or a --tenant.")
        if folder is None:
            problems = stored_snapshot_problems(tenant=tenant)
        else:  # as `load --activate` would see the files
            problems = bundle_problems(tenant=tenant or "", bundle=bundle_read(folder), publish=True, activate=True)
        for problem in problems:
            self.stdout.write(problem_line(problem))
        errors = dsl.errors_of(problems)
        if errors:
            raise CommandError(f"{len(errors)} problem(s).")
        self.stdout.write(self.style.SUCCESS(f"{folder or tenant}: valid."))
