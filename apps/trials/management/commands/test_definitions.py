from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.definitions.models import WorkflowDefinition
from apps.definitions.versions import parse_version
from apps.trials.junit import write_junit_xml
from apps.trials.services import workflow_test
from drift.errors import DriftError


class Command(BaseCommand):
    help = ("Run the test cases of workflow definitions on the engine (a worker must be running); exits non-zero "
            "when any case fails. Without ids: every workflow definition of the tenant (or of all tenants).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("ids", nargs="*", help="Workflow definition ids (default: all).")
        parser.add_argument("--tenant", help="Only this tenant's definitions.")
        parser.add_argument("--definition-version", default="LATEST",
                            help="SNAPSHOT, LATEST (default), ACTIVE or a number.")
        parser.add_argument("--junit-xml", type=Path, help="Also write the results as JUnit XML to this path.")

    def handle(self, *args, ids: list[str], tenant: str | None, definition_version: str, junit_xml: Path | None,
               **options) -> None:
        try:
            spec = parse_version(definition_version, path="--definition-version")
        except DriftError as exc:
            raise CommandError(exc.message) from exc
        heads = WorkflowDefinition.objects.filter(latest_version__gt=0) if spec != "SNAPSHOT" else \
            WorkflowDefinition.objects.all()
        if tenant:
            heads = heads.filter(tenant=tenant)
        if ids:
            heads = heads.filter(key__in=ids)
            missing = set(ids) - set(heads.values_list("key", flat=True))
            if missing:
                raise CommandError(f"Unknown workflow definition(s): {', '.join(sorted(missing))}")
        reports = [self._test(head, spec) for head in heads.order_by("tenant", "key")]
        if junit_xml:
            write_junit_xml(junit_xml, reports)
        failed = sum(1 for report in reports for case in report.cases if not case["passed"])
        total = sum(len(report.cases) for report in reports)
        if failed:
            raise CommandError(f"{failed} of {total} test case(s) failed.")
        self.stdout.write(self.style.SUCCESS(f"{total} test case(s) of {len(reports)} definition(s) passed."))

    def _test(self, head, spec):
        try:
            report = workflow_test(tenant=head.tenant, key=head.key, version=spec, actor="manage.py test_definitions")
        except DriftError as exc:
            raise CommandError(f"{head.tenant}/{head.key}: {exc.message}") from exc
        label = f"{head.tenant}/{head.key} v{report.version or 'SNAPSHOT'}"
        if not report.cases:
            self.stdout.write(f"{label}: no test cases")
        for case in report.cases:
            mark = "PASS" if case["passed"] else "FAIL"
            self.stdout.write(f"{mark} {label}: {case['name']}" + ("" if case["passed"] else f": {case['failure']}"))
        return report
