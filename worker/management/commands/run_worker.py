import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the Drift Temporal worker (interpreter workflow and node activities), in one or several processes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--health-port", type=int, default=settings.DRIFT_WORKER_HEALTH_PORT)
        parser.add_argument("--metrics-port", type=int, default=settings.DRIFT_METRICS_PORT, help="0 disables")
        parser.add_argument("--processes", type=int, default=settings.DRIFT_WORKER_PROCESSES,
                            help="full workers on the same task queue (0, the default: the cores the pod has)")

    def handle(self, *args, **options) -> None:
        from worker.processes import Supervisor, default_processes

        processes = options["processes"] or default_processes()
        if processes > 1:
            Supervisor(processes, health_port=options["health_port"], metrics_port=options["metrics_port"]).run()
            return
        from worker.main import run

        asyncio.run(run(health_port=options["health_port"], metrics_port=options["metrics_port"]))
