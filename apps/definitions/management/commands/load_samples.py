"""Load the sample node and workflow definitions, publish and activate them, route the issue
`order_status` to them and point the `oms` enum entry at the demo order service. Idempotent."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.definitions.models import Kind
from apps.definitions.services import definition_sync, enum_entry_set, route_save
from drift.errors import DriftError

ACTOR = "load_samples"


class Command(BaseCommand):
    help = "Load, publish and activate the sample definitions; create their route and enum entry."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--path", type=Path, default=Path(settings.BASE_DIR).parent / "shared/spec/samples")
        parser.add_argument("--tenant", default="demo")
        parser.add_argument("--oms-base-url", default="http://127.0.0.1:8010/demo/oms")

    def handle(self, *args, path: Path, tenant: str, oms_base_url: str, **options) -> None:
        try:
            nodes = json.loads((path / "order_status.nodes.json").read_text())
            workflow = json.loads((path / "order_status.workflow.json").read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the samples in {path}: {exc}") from exc
        try:
            for node in nodes:
                number = definition_sync(tenant=tenant, kind=Kind.NODE, body=node, actor=ACTOR)
                self.stdout.write(f"node {node['id']}: ACTIVE = {number}")
            number = definition_sync(tenant=tenant, kind=Kind.WORKFLOW, body=workflow, actor=ACTOR)
            self.stdout.write(f"workflow {workflow['id']}: ACTIVE = {number}")
            route_save(tenant=tenant, issue_id="order_status", workflow_key=workflow["id"], actor=ACTOR)
            enum_entry_set(tenant=tenant, key="oms", value={"base_url": oms_base_url}, actor=ACTOR)
        except DriftError as exc:
            problems = "; ".join(f"{p.path}: {p.problem}" for p in exc.details)
            raise CommandError(f"{exc.message} {problems}".strip()) from exc
        self.stdout.write(self.style.SUCCESS(f"Samples loaded for tenant '{tenant}'."))
