from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.definitions.models import Kind
from apps.definitions.transfer import definitions_export
from apps.definitions.versions import LATEST, parse_version
from drift.errors import InvalidInput


class Command(BaseCommand):
    help = "Write a tenant's definitions as files: nodes/<id>.json, workflows/<id>.json, routes.json, enum_store.json."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        # Our --version (which definition version) replaces Django's (which Django version).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--out", type=Path, required=True, help="folder to write (created if missing)")
        parser.add_argument("--kind", choices=["node", "workflow"], type=str.lower,
                            help="only this kind (routes and enum store are then left out)")
        parser.add_argument("--version", default=LATEST, help="LATEST (default), ACTIVE, SNAPSHOT or a number")

    def handle(self, *args, tenant: str, out: Path, kind: str | None, version: str, **options) -> None:
        try:
            spec = parse_version(version, path="--version")
        except InvalidInput as exc:
            raise CommandError(f"--version {version}: {exc.details[0].problem}") from exc
        result = definitions_export(tenant=tenant, out=out, kind=Kind[kind.upper()] if kind else None, version=spec)
        for path in result.written:
            self.stdout.write(str(path))
        for name in result.skipped:
            self.stderr.write(f"skipped {name}: no {version} version")
        self.stdout.write(self.style.SUCCESS(f"{len(result.written)} file(s) written to {out}."))
