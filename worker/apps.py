from django.apps import AppConfig


class WorkerConfig(AppConfig):
    """The Temporal worker as a Django app: it owns the `run_worker` and `replay` management commands."""

    name = "worker"
    label = "worker"
