import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

from drift.tracing import tracing_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drift.settings")

app = Celery("drift")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect(weak=False)
def _trace_pool_process(**_: object) -> None:
    """Tracing in each pool process (prefork, solo), after the fork (drift/tracing.py)."""
    tracing_init("drift-celery")


@worker_init.connect(weak=False)
def _trace_worker(sender: object = None, **_: object) -> None:
    """Thread pools run tasks in the worker process itself; a prefork parent runs none (its children trace)."""
    if "prefork" not in repr(getattr(sender, "pool_cls", "prefork")):
        tracing_init("drift-celery")
