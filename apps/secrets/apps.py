from django.apps import AppConfig


class SecretsConfig(AppConfig):
    name = "apps.secrets"
    verbose_name = "Secrets and sensitive data"

    def ready(self) -> None:
        from apps.secrets.redaction import install_log_redaction

        install_log_redaction()
