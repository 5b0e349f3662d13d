"""A real Celery worker process that stops dead inside a trigger delivery (the crash test kills it there).

    python -m apps.triggers.tests.delivery_gate_worker MARKER_FILE

Once its delivery has started the event's run in Temporal, and before the event is marked DONE, it writes the
run's workflow id to MARKER_FILE and blocks for good: the worst moment for a delivery to lose its worker.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import django


def main(marker: Path) -> None:
    django.setup()
    from apps.triggers import services
    from drift.celery import app

    start = services.run_start

    def gated(*, principal, data):
        reply = start(principal=principal, data=data)
        marker.write_text(data["workflowId"])
        threading.Event().wait()  # never set: the test kills the process here
        return reply

    services.run_start = gated
    app.worker_main(["worker", "--pool=solo", "--loglevel=WARNING", "--without-mingle", "--without-gossip"])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
