"""A real Celery worker process that stops dead inside a bulk job (the crash test kills it there).

    python -m apps.operations.tests.bulk_gate_worker STOP_AFTER MARKER_FILE

After the operation of its STOP_AFTER-th item has been carried out, and before that item is marked DONE, it
writes the item's workflow id to MARKER_FILE and blocks: the worst moment for the job to lose its worker.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import django


def main(stop_after: int, marker: Path) -> None:
    django.setup()
    from apps.operations import bulk
    from drift.celery import app

    perform, performed = bulk._perform, []

    def gated(job, item):
        result = perform(job, item)
        performed.append(item.workflow_id)
        if len(performed) == stop_after:
            marker.write_text(item.workflow_id)
            while True:
                time.sleep(1)
        return result

    bulk._perform = gated
    app.worker_main(["worker", "--pool=solo", "--loglevel=WARNING", "--without-mingle", "--without-gossip"])


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
