from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "apps.tasks"
    label = "tasks"
    verbose_name = "Human tasks"

    def ready(self) -> None:
        from apps.runs import hooks
        from apps.tasks.services import task_record, tasks_close_terminated

        # The run mirror reports each state and each hard termination here (apps.runs cannot import this app).
        hooks.on_state_recorded(task_record)
        hooks.on_runs_terminated(tasks_close_terminated)
