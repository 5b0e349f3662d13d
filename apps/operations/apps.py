from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "apps.operations"
    label = "operations"
    verbose_name = "Run operations"

    def ready(self) -> None:
        # apps.runs imports nothing from here: the start view finds the idempotent start through its hook.
        from apps.operations.idempotency import register_idempotent_start

        register_idempotent_start()
