import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the Drift Temporal worker (interpreter workflow and node activities)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--health-port", type=int, default=settings.DRIFT_WORKER_HEALTH_PORT)
        parser.add_argument("--metrics-port", type=int, default=settings.DRIFT_METRICS_PORT, help="0 disables")

    def handle(self, *args, **options) -> None:
        from worker.main import run

        asyncio.run(run(health_port=options["health_port"], metrics_port=options["metrics_port"]))
