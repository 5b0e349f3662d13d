from django.apps import AppConfig


class TrialsConfig(AppConfig):
    name = "apps.trials"
    label = "trials"
    verbose_name = "Trying and testing definitions"

    def ready(self) -> None:
        from apps.definitions.activation import register_cases_gate
        from apps.trials.services import workflow_cases_verdict

        # Activation runs a version's test cases through this gate (apps.definitions cannot import this app).
        register_cases_gate(workflow_cases_verdict)
